"""Public pages about the evidence: a quote in its place in the source, and search."""

from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, render
from django.utils.html import escape
from django.utils.safestring import mark_safe

from cmo_kb.page_pagination import CappedPaginator
from cmo_kb.vocabulary import ReviewStatus

from mechanisms.views import apply_api_filters, error_list, filter_control

from .models import EvaluationWave, EvidenceExcerpt, EvidenceLink, ExcerptKind, SpeakerRole
from .search import query_problem, search_configurations, search_excerpts

PUBLISHED = ReviewStatus.PUBLISHED
# How much of the source to show either side of a quote, before snapping to a paragraph break.
CONTEXT_CHARS = 1400


def _paragraph_start(text, position, limit):
    """Start of the paragraph at or before `position`, no further back than `limit`."""
    cut = text.rfind("\n\n", limit, position)
    return cut + 2 if cut != -1 else limit


def _paragraph_end(text, position, limit):
    cut = text.find("\n\n", position, limit)
    return cut if cut != -1 else limit


def source_window(excerpt, chars=CONTEXT_CHARS):
    """The source text around an excerpt, cut at paragraph breaks, with the excerpt marked.

    Returns (html, starts_at_beginning, ends_at_end). The text is escaped here and shown with
    white-space: pre-wrap, so the source's own line breaks survive."""
    full = excerpt.source.full_text
    lo = _paragraph_start(full, max(0, excerpt.start - 200), max(0, excerpt.start - chars))
    hi = _paragraph_end(full, min(len(full), excerpt.end + 200), min(len(full), excerpt.end + chars))
    before, quote, after = full[lo : excerpt.start], full[excerpt.start : excerpt.end], full[excerpt.end : hi]
    html = (
        f"{escape(before.lstrip())}"
        f'<mark id="quote" class="quote-mark">{escape(quote)}</mark>'
        f"{escape(after.rstrip())}"
    )
    return mark_safe(html), lo == 0, hi == len(full)


# How many configurations citing an excerpt its page lists at a time (?used=2 for the next).
USED_IN_PAGE_SIZE = 30
# How many of the configurations citing a search result the result names.
LINKED_SHOWN = 5


def published_citations(excerpt_ids):
    """{excerpt id: how many published configurations cite it}: 1 query."""
    return dict(
        EvidenceLink.objects.filter(excerpt_id__in=excerpt_ids, configuration__status=PUBLISHED).order_by()
        .values("excerpt").annotate(n=Count("configuration", distinct=True)).values_list("excerpt", "n")
    )


def excerpt_detail(request, pk):
    """7 queries: the excerpt (with source, team, role, wave), a page of the published
    configurations citing it (count, page), their links (with configuration and mechanism), the
    previous and next excerpts in the same source, and the key figures it states."""
    excerpt = get_object_or_404(
        EvidenceExcerpt.objects.select_related("source", "source__kind", "team", "speaker_role", "wave"), pk=pk
    )
    from mechanisms.models import CMOConfiguration

    citing = CMOConfiguration.objects.published().filter(
        pk__in=EvidenceLink.objects.filter(excerpt=excerpt).values("configuration_id")
    ).order_by("slug").values_list("pk", flat=True)
    used_page = Paginator(citing, USED_IN_PAGE_SIZE).get_page(request.GET.get("used"))
    links = list(
        EvidenceLink.objects.filter(excerpt=excerpt, configuration_id__in=list(used_page.object_list))
        .select_related("configuration", "configuration__mechanism", "configuration__theme")
        .order_by("configuration__slug", "part")
    )
    configurations = {}
    for link in links:
        entry = configurations.setdefault(link.configuration_id, {"configuration": link.configuration, "links": []})
        entry["links"].append(link)
    neighbours = EvidenceExcerpt.objects.filter(source_id=excerpt.source_id).only("pk", "slug", "start", "text")
    previous = neighbours.filter(start__lt=excerpt.start).order_by("-start").first()
    following = neighbours.filter(start__gt=excerpt.start).order_by("start").first()
    window, at_beginning, at_end = source_window(excerpt)
    crumbs = [("Evidence", "/search/")]
    if excerpt.team_id:
        crumbs = [("Teams", "/teams/"), (str(excerpt.team), excerpt.team.get_absolute_url())]
    return render(
        request,
        "evidence/excerpt_detail.html",
        {
            "excerpt": excerpt,
            "section_path": [part.strip() for part in excerpt.section.replace(">", "›").split("›") if part.strip()],
            "configurations": list(configurations.values()),
            "used_page": used_page,
            "key_figures": list(excerpt.key_figures.select_related("team")),
            "previous": previous,
            "following": following,
            "window": window,
            "at_beginning": at_beginning,
            "at_end": at_end,
            "nav_section": "evidence",
            "breadcrumbs": crumbs + [("Quote in context" if excerpt.kind == "participant_quote" else "Excerpt in context", None)],
        },
    )


SEARCH_PAGE_SIZE = 10
# Each list of results counts (and pages through) at most this many: see CappedPaginator.
SEARCH_RESULTS_CAP = 1000
# Which of the API's filters each list understands (evidence/api.py, mechanisms/api.py).
BOTH = ("team", "mechanism")
EXCERPT_ONLY = ("kind", "speaker_role", "wave")
CONFIGURATION_ONLY = ("effect", "influence", "wish_dimension", "quality_domain")


def _search_controls(params):
    """Labelled filter controls: 8 queries (one per vocabulary)."""
    from mechanisms.models import Effect, EnablingMechanism, Influence, WishDimension
    from projects.models import QualityDomain, Team

    def ctl(*args, **kwargs):
        return filter_control(*args, params, **kwargs)

    return [
        ctl("team", "Team", list(Team.objects.values_list("slug", "name"))),
        ctl("mechanism", "Mechanism", list(EnablingMechanism.objects.values_list("slug", "name"))),
        ctl("kind", "Kind of evidence", list(ExcerptKind.choices), hint="Quotes and excerpts only"),
        ctl("speaker_role", "Speaker", list(SpeakerRole.objects.values_list("slug", "name")), hint="Quotes and excerpts only"),
        ctl("wave", "Evaluation wave", list(EvaluationWave.objects.values_list("slug", "name")), hint="Quotes and excerpts only"),
        ctl("effect", "Triggered or disabled", list(Effect.choices), hint="Configurations only"),
        ctl("influence", "Barrier or enabler", list(Influence.choices), hint="Configurations only"),
        ctl("wish_dimension", "Relationship dimension", list(WishDimension.objects.values_list("slug", "name")),
            hint="Configurations only"),
        ctl("quality_domain", "Quality domain", list(QualityDomain.objects.values_list("slug", "name")),
            hint="Configurations only"),
    ]


def search(request):
    """Full-text search over excerpts and published configurations, with the API's filters.

    Each list applies the filters it understands; a filter only one kind of result has (the speaker
    of a quote, the effect of a configuration) hides the other list, and the page says so.
    Queries: 8 (filter vocabularies) + 1 per active filter + for each list shown: count (at most
    SEARCH_RESULTS_CAP), page and its prefetches (excerpts: published links; configurations: teams)."""
    from mechanisms.api import ConfigurationFilterSet
    from mechanisms.models import CMOConfiguration

    from .api import ExcerptFilterSet

    q = (request.GET.get("q") or "").strip()
    controls = _search_controls(request.GET)
    active = {c["param"] for c in controls if c["active"]}
    searching = bool(q or active)
    show_excerpts = searching and not (active & set(CONFIGURATION_ONLY))
    show_configurations = searching and not (active & set(EXCERPT_ONLY))
    errors = {}
    problem = query_problem(q) if q else None
    if problem:
        errors["q"] = [problem]
        show_excerpts = show_configurations = False
    excerpt_page = configuration_page = None
    query = request.GET.copy()
    for key in ("epage", "cpage"):
        query.pop(key, None)

    if show_excerpts:
        excerpts, problems = apply_api_filters(
            ExcerptFilterSet, request.GET, EvidenceExcerpt.objects.all(), BOTH + EXCERPT_ONLY
        )
        errors.update(problems)
        # Each result names its first LINKED_SHOWN configurations and counts the rest: one quote can
        # be evidence for thousands.
        excerpts = excerpts.select_related("team", "speaker_role").defer("note").prefetch_related(
            Prefetch(
                "links",
                queryset=EvidenceLink.objects.filter(configuration__status=PUBLISHED).select_related("configuration")
                .order_by("configuration__slug", "pk")[: 2 * LINKED_SHOWN],
                to_attr="published_links",
            )
        )
        excerpts = search_excerpts(excerpts, q) if q else excerpts.order_by("source_id", "start")
        excerpt_page = CappedPaginator(excerpts, SEARCH_PAGE_SIZE, cap=SEARCH_RESULTS_CAP).get_page(request.GET.get("epage"))
        excerpt_page.object_list = list(excerpt_page.object_list)
        citations = published_citations([excerpt.pk for excerpt in excerpt_page.object_list])
        for excerpt in excerpt_page.object_list:
            # One entry per configuration, however many of its parts the excerpt speaks to.
            excerpt.linked_configurations = list(
                {l.configuration_id: l.configuration for l in excerpt.published_links}.values())[:LINKED_SHOWN]
            excerpt.linked_more = citations.get(excerpt.pk, 0) - len(excerpt.linked_configurations)
    if show_configurations:
        configurations, problems = apply_api_filters(
            ConfigurationFilterSet, request.GET, CMOConfiguration.objects.published(), BOTH + CONFIGURATION_ONLY
        )
        errors.update(problems)
        configurations = configurations.select_related("mechanism", "theme").prefetch_related("teams")
        configurations = search_configurations(configurations, q) if q else configurations.order_by("slug")
        configuration_page = CappedPaginator(configurations, SEARCH_PAGE_SIZE, cap=SEARCH_RESULTS_CAP).get_page(request.GET.get("cpage"))

    labels = {c["param"]: c["label"] for c in controls}
    hidden_reason = ""
    if searching and not show_configurations:
        hidden_reason = "Configurations are not shown: " + ", ".join(
            labels[p] for p in EXCERPT_ONLY if p in active) + " applies to quotes and excerpts only."
    elif searching and not show_excerpts:
        hidden_reason = "Quotes and excerpts are not shown: " + ", ".join(
            labels[p] for p in CONFIGURATION_ONLY if p in active) + " applies to configurations only."
    return render(
        request,
        "evidence/search.html",
        {
            "q": q,
            "header_q": q,
            "controls": controls,
            "errors": error_list(errors, controls),
            "searching": searching,
            "excerpt_page": excerpt_page,
            "configuration_page": configuration_page,
            "hidden_reason": hidden_reason,
            "query": query.urlencode(),
            "nav_section": "search",
            "breadcrumbs": [("Search", None)],
        },
        status=400 if errors else 200,
    )
