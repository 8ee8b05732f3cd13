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

A bounded candidate set, so a broad term costs what a narrow one does: ranking every match of a word
found in most excerpts means reading most of a million tsvectors. The candidates are the first
SEARCH_CANDIDATES (2,000) matches the scan PostgreSQL picks returns, with no ORDER BY, so the scan
stops at the 2,000th: for a rare word the GIN index's bitmap (all its matches), for a common one a
sequential scan that meets 2,000 matches within its first few thousand rows. Only the candidates are
ranked, and ts_headline runs on the rows of the page only (PostgreSQL evaluates an expensive
select-list expression after ORDER BY … LIMIT). (Candidates ordered by id were tried: the planner
then walks the primary key backwards, and a word in 2% of the rows read 100,000 of them.)

The trade-off: a query matching more than 2,000 rows shows the best of 2,000 of its matches, those
first in the table's storage order (roughly the oldest rows), ranked by ts_rank; its other matches
are not listed (a filter or a narrower query reaches them). The set is the same from one request to
the next while the table is not written, so cursor pages are stable. Filters passed in the queryset
apply before the cut (``?search=care&team=camhs`` takes 2,000 CAMHS matches). No COUNT runs over all
matches: the API pages with a cursor, and the /search/ page's count is at most 2,000.

SQLite (the embedded default): FTS5 virtual tables (``evidence_excerpt_fts``,
``mechanisms_configuration_fts``, external content kept in sync by triggers, made by migrations that
run on SQLite only: evidence/0005, mechanisms/0003; evidence/fts.py), with the porter stemmer over
unicode61 words, so whole words match, never a substring inside a word. The websearch syntax is
translated, never passed through: each word or phrase becomes an FTS5 string ("…" with quotes
doubled), OR groups become ``( … OR … )``, ``-word`` becomes ``NOT``, so quotes, parentheses, ``*``,
``^``, ``NEAR`` or unbalanced quotes in user input cannot be FTS5 syntax. Ranked by the weighted
count of matches in the hit's own columns (not bm25, which reads every row's statistics, drafts'
too), with the same column weights as PostgreSQL's; snippets by FTS5's snippet(). A query of only exclusions
matches nothing, on both databases.

A blank query matches nothing; more than MAX_SEARCH_TERMS terms raise SearchQueryError (both
databases). Neither function applies visibility: pass a queryset that already has
it (CMOConfiguration.objects.visible_to(user)).
"""

import re

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import F, FloatField, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Concat, Replace
from django.utils.html import escape
from django.utils.safestring import mark_safe

SEARCH_CONFIG = "english"  # must match the triggers' to_tsvector('pg_catalog.english', ...)


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


SEARCH_CANDIDATES = 2000


def _postgres_search(queryset, q, headline_expression):
    query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
    # No ORDER BY: the scan stops at the K-th match (see the module docstring).
    candidates = queryset.filter(search_vector=query).order_by().values("pk")[:SEARCH_CANDIDATES]
    return (
        queryset.filter(pk__in=candidates)
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


_WORD = re.compile(r"\w")


def _fts_string(term):
    """A term as an FTS5 string: inside double quotes nothing is syntax (a quote is written twice)."""
    return '"' + term.replace('"', '""') + '"'


def fts_query(q):
    """The websearch query ``q`` as an FTS5 MATCH expression, or None when it can match nothing.

    >>> fts_query('dialysis "in control" OR power -nurses')
    '"dialysis" AND ("in control" OR "power") NOT "nurses"'

    Terms without a letter or digit (``*``, ``^``, ``()``) are no word to FTS5's tokenizer: dropped,
    as PostgreSQL's parser drops them."""
    groups, excluded = parse_query(q)
    groups = [[t for t in group if _WORD.search(t)] for group in groups]
    groups = [group for group in groups if group]
    if not groups:
        return None
    expression = " AND ".join(
        _fts_string(group[0]) if len(group) == 1 else "(" + " OR ".join(map(_fts_string, group)) + ")" for group in groups
    )
    for term in excluded:
        if _WORD.search(term):
            expression += " NOT " + _fts_string(term)
    return expression


class _FTSSnippetField(TextField):
    """snippet() marks matches with control characters; the text is escaped here, then marked."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return mark_safe(escape(value).replace(_START, "<mark>").replace(_STOP, "</mark>"))


def _matches_weighted(index, weights):
    """SQL for a hit's rank from its own row only: the weighted count of matches in each column.

    Not bm25: bm25 weighs a term by how many rows of the whole index hold it, drafts included, so a
    published hit's rank would move when a draft's text changes, and show that the draft exists (the
    draft-invisibility test caught it). highlight() with a one-character start mark and no end mark
    returns the column with one extra character per match, so the length difference counts them.
    Like ts_rank on PostgreSQL, the score reads the hit and nothing else."""
    from evidence.fts import INDEXES

    columns = INDEXES[index][1]
    return " + ".join(
        f"{weight} * (length(highlight({index}, {i}, char(2), '')) - length(coalesce({index}.{column}, '')))"
        for i, (column, weight) in enumerate(zip(columns, weights, strict=True))
    )


def _sqlite_search(queryset, q, index, weights, snippet_column):
    match = fts_query(q)
    if match is None:
        return _nothing(queryset)
    table = queryset.model._meta.db_table
    # highlight() and snippet() exist only inside a MATCH query of the index, hence the correlated
    # subqueries (FTS5 answers "MATCH ... AND rowid = ?" by a seek).
    where = f"FROM {index} WHERE {index} MATCH %s AND {index}.rowid = {table}.id"
    return (
        queryset.filter(pk__in=RawSQL(f"SELECT rowid FROM {index} WHERE {index} MATCH %s", [match]))
        .annotate(
            rank=RawSQL(f"(SELECT {_matches_weighted(index, weights)} {where})", [match], output_field=FloatField()),
            snippet=RawSQL(
                f"(SELECT snippet({index}, {snippet_column}, %s, %s, ' … ', 32) {where})",
                [_START, _STOP, match],
                output_field=_FTSSnippetField(),
            ),
        )
        .order_by("-rank", "pk")
    )


def _nothing(queryset):
    """No hits, but with the annotations a search has (the cursor orders a search by rank)."""
    return queryset.none().annotate(rank=Value(0.0, output_field=FloatField()), snippet=Value("", output_field=TextField()))


def _has_a_term(q):
    """Blank, or only exclusions (``-word``): nothing to rank, so nothing matches, on both databases
    (PostgreSQL's websearch would return every row without the word; FTS5 has no bare NOT)."""
    return bool((q or "").strip()) and bool(parse_query(q)[0])


def _is_postgres(queryset):
    from django.db import connections

    return connections[queryset.db].vendor == "postgresql"


def search_excerpts(queryset, q):
    """Excerpts matching ``q``, best first, each with ``.rank`` and ``.snippet`` (of the excerpt text)."""
    if not _has_a_term(q):
        return _nothing(queryset)
    _check_query(q)
    if _is_postgres(queryset):
        return _postgres_search(queryset, q, F("text"))
    return _sqlite_search(queryset, q, "evidence_excerpt_fts", (1.0, 0.4, 0.2), 0)


def search_configurations(queryset, q):
    """Configurations matching ``q`` in title, statement, activity, contexts' or outcomes' names,
    best first, each with ``.rank`` and ``.snippet`` (of statement, activity, contexts and outcomes)."""
    if not _has_a_term(q):
        return _nothing(queryset)
    _check_query(q)
    if _is_postgres(queryset):
        expression = Concat("statement", Value(" "), "activity", Value(" "), "search_text", output_field=TextField())
        return _postgres_search(queryset, q, expression)
    return _sqlite_search(queryset, q, "mechanisms_configuration_fts", (1.0, 0.4, 0.2, 0.2), -1)
