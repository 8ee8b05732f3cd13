"""Full-text search over evidence excerpts and CMO configurations.

Shared by the API (?search=) and the public /search/ page:

    hits = search_excerpts(EvidenceExcerpt.objects.all(), 'dialysis "in control" -nurses')
    for hit in hits:            # best first
        hit.rank                # float, higher is better
        hit.snippet             # HTML-safe (a SafeString): escaped text with <mark>…</mark> around matches

PostgreSQL: websearch syntax ("quoted phrases", OR, -exclusion) against a stored tsvector column
(``search_vector``, filled by a trigger and GIN-indexed: migrations evidence/0003 and mechanisms/0002),
ranked by ts_rank with weights (excerpts: text > attribution > section; configurations: title >
statement > activity, contexts and outcomes), snippets by ts_headline.

SQLite (development): a plain icontains fallback. Every term must appear in one of the fields;
"quoted phrases" are one term, ``a OR b`` needs either, ``-term`` excludes; no stemming, so
"dialyse" does not find "dialysis". Snippets are highlighted in Python.

A blank query matches nothing; more than MAX_SEARCH_TERMS terms raise SearchQueryError (both
databases). Neither function applies visibility: pass a queryset that already has
it (CMOConfiguration.objects.visible_to(user)).
"""

import re

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import Case, F, FloatField, Q, TextField, Value, When
from django.db.models.functions import Cast, Concat, Replace
from django.db.models.query import ModelIterable
from django.utils.html import escape
from django.utils.safestring import mark_safe

SEARCH_CONFIG = "english"  # must match the triggers' to_tsvector('pg_catalog.english', ...)

EXCERPT_FIELDS = ("text", "attribution", "section")
CONFIGURATION_FIELDS = ("title", "statement", "activity", "search_text")
# Weights for the SQLite fallback's rank, in the same spirit as the PostgreSQL setweight() A/B/C.
_FALLBACK_WEIGHTS = (1.0, 0.4, 0.2, 0.2)

# ts_headline marks matches with these control characters; the SQL then HTML-escapes the text and
# only afterwards turns them into <mark> tags, so the snippet is safe whatever the source text holds.
_START, _STOP = "\x02", "\x03"
_SNIPPET_WORDS = {"max_words": 35, "min_words": 12, "max_fragments": 2, "fragment_delimiter": " … "}


class _SafeHTMLField(TextField):
    """Output field for snippets: values come back from the database already escaped."""

    def from_db_value(self, value, expression, connection):
        return mark_safe(value) if value is not None else value


def _html_headline(expression, query):
    headline = SearchHeadline(expression, query, config=SEARCH_CONFIG, start_sel=_START, stop_sel=_STOP, **_SNIPPET_WORDS)
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        headline = Replace(headline, Value(raw), Value(entity))
    headline = Replace(headline, Value(_START), Value("<mark>"))
    return Replace(headline, Value(_STOP), Value("</mark>"), output_field=_SafeHTMLField())


def _postgres_search(queryset, q, headline_expression):
    query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
    return (
        queryset.filter(search_vector=query)
        .annotate(
            # float8 so the value survives a round trip through a pagination cursor exactly.
            rank=Cast(SearchRank(F("search_vector"), query), FloatField()),
            snippet=_html_headline(headline_expression, query),
        )
        .order_by("-rank", "pk")
    )


# --- SQLite fallback --------------------------------------------------------------------------

_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')


def parse_query(q):
    """Split a websearch-style query into (groups, excluded).

    groups: a list of alternatives lists; every group must match, any term of a group will do.
    >>> parse_query('dialysis "in control" OR power -nurses')
    ([['dialysis'], ['in control', 'power']], ['nurses'])
    """
    groups, excluded, join_next = [], [], False
    for minus, phrase, word in _TOKEN.findall(q or ""):
        if word:
            if word == "OR":
                join_next = bool(groups)
                continue
            minus, term = ("-", word[1:]) if word.startswith("-") and len(word) > 1 else ("", word)
        else:
            term = phrase
        term = " ".join(term.split())
        if not term:
            continue
        if minus:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    return groups, excluded


MAX_SEARCH_TERMS = 32


class SearchQueryError(ValueError):
    """A query the search refuses (too many terms); its message says why and what is accepted."""


def query_problem(q):
    """Why ``q`` cannot be searched, or None. The same limit on both databases, so a query that works
    in development works in production: each term is a few nested SQL expressions, and SQLite's parser
    gives up ("parser stack overflow") on a few dozen."""
    groups, excluded = parse_query(q)
    count = sum(len(group) for group in groups) + len(excluded)
    if count > MAX_SEARCH_TERMS:
        return f"Too many search terms ({count}). Accepted: at most {MAX_SEARCH_TERMS} words or \"quoted phrases\"."
    return None


def _check_query(q):
    problem = query_problem(q)
    if problem:
        raise SearchQueryError(problem)


def _balanced_sum(terms):
    """a + b + c + d as (a + b) + (c + d): the SQL nests log2(n) deep rather than n deep."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return _balanced_sum(terms[:middle]) + _balanced_sum(terms[middle:])


def highlight(text, terms, width=240):
    """Escape ``text`` and wrap each case-insensitive occurrence of ``terms`` in <mark>.

    Shows a window of about ``width`` characters around the first match, with ellipses where cut.
    """
    text = " ".join((text or "").split())
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    if not terms:
        return mark_safe(escape(text[:width]) + ("…" if len(text) > width else ""))
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    first = pattern.search(text)
    start = max(0, first.start() - width // 3) if first else 0
    end = min(len(text), start + width)
    window = text[start:end]
    parts, last = [], 0
    for match in pattern.finditer(window):
        parts.append(escape(window[last : match.start()]))
        parts.append("<mark>" + escape(match.group(0)) + "</mark>")
        last = match.end()
    parts.append(escape(window[last:]))
    return mark_safe(("…" if start else "") + "".join(parts) + ("…" if end < len(text) else ""))


class _SnippetMixin:
    """Sets .snippet on each model instance when the queryset is evaluated (SQLite fallback only)."""

    _snippet_spec = None  # (fields shown, terms)

    def _clone(self):
        clone = super()._clone()
        clone._snippet_spec = self._snippet_spec
        return clone

    def _fetch_all(self):
        super()._fetch_all()
        if self._snippet_spec and self._iterable_class is ModelIterable:
            fields, terms = self._snippet_spec
            for obj in self._result_cache:
                text = " ".join(str(getattr(obj, field) or "") for field in fields)
                obj.snippet = highlight(text, terms)


def _fallback_search(queryset, q, fields, snippet_fields):
    groups, excluded = parse_query(q)
    if not groups:
        return queryset.none().annotate(rank=Value(0.0, output_field=FloatField()))

    def anywhere(term):
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": term})
        return condition

    condition = Q()
    for group in groups:
        alternatives = Q()
        for term in group:
            alternatives |= anywhere(term)
        condition &= alternatives
    for term in excluded:
        condition &= ~anywhere(term)

    rank = _balanced_sum(
        [
            Case(When(**{f"{field}__icontains": term}, then=Value(weight)), default=Value(0.0), output_field=FloatField())
            for term in (t for group in groups for t in group)
            for field, weight in zip(fields, _FALLBACK_WEIGHTS)
        ]
    )
    results = queryset.filter(condition).annotate(rank=rank).order_by("-rank", "pk")
    results.__class__ = type(f"Search{type(queryset).__name__}", (_SnippetMixin, type(queryset)), {})
    results._snippet_spec = (snippet_fields, [t for group in groups for t in group])
    return results


def _is_postgres(queryset):
    from django.db import connections

    return connections[queryset.db].vendor == "postgresql"


def search_excerpts(queryset, q):
    """Excerpts matching ``q``, best first, each with ``.rank`` and ``.snippet`` (of the excerpt text)."""
    if not (q or "").strip():
        return queryset.none()
    _check_query(q)
    if _is_postgres(queryset):
        return _postgres_search(queryset, q, F("text"))
    return _fallback_search(queryset, q, EXCERPT_FIELDS, ("text",))


def search_configurations(queryset, q):
    """Configurations matching ``q`` in title, statement, activity, contexts' or outcomes' names,
    best first, each with ``.rank`` and ``.snippet`` (of statement, activity, contexts and outcomes)."""
    if not (q or "").strip():
        return queryset.none()
    _check_query(q)
    if _is_postgres(queryset):
        expression = Concat("statement", Value(" "), "activity", Value(" "), "search_text", output_field=TextField())
        return _postgres_search(queryset, q, expression)
    return _fallback_search(queryset, q, CONFIGURATION_FIELDS, ("statement", "activity", "search_text"))
