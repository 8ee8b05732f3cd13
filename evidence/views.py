"""Public pages about the evidence: a quote in its place in the source, and a programme's search."""

from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from cmo_kb.page_pagination import CappedPaginator
from cmo_kb.vocabulary import ReviewStatus

from mechanisms.views import apply_api_filters, error_list, filter_control, programme_crumb
from projects.pages import programme_or_404, share_programme, visible_programme_ids

from projects.models import Team

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


def published_citations(excerpt_ids, programme):
    """{excerpt id: how many published configurations of the programme cite it}: 1 query."""
    return dict(
        EvidenceLink.objects.filter(
            excerpt_id__in=excerpt_ids, configuration__status=PUBLISHED, configuration__programme=programme
        ).order_by()
        .values("excerpt").annotate(n=Count("configuration", distinct=True)).values_list("excerpt", "n")
    )


def excerpt_detail(request, pk):
    """7 queries: the excerpt (with source, its programme, team, role, wave), a page of the
    published configurations citing it (count, page), their links (with configuration and
    mechanism), the previous and next excerpts in the same source, and the key figures it states.
    An excerpt of a programme the visitor may not see is a 404, as one that does not exist."""
    excerpt = (
        EvidenceExcerpt.objects.select_related("source", "source__programme", "source__kind", "team", "speaker_role", "wave")
        .filter(pk=pk, source__programme__in=visible_programme_ids(request)).first()
    )
    if excerpt is None:
        raise Http404("No excerpt you may see has this address.")
    programme = excerpt.source.programme
    if excerpt.team_id:
        excerpt.team.programme = programme
    from mechanisms.models import CMOConfiguration

    citing = CMOConfiguration.objects.published().filter(
        programme=programme, pk__in=EvidenceLink.objects.filter(excerpt=excerpt).values("configuration_id")
    ).order_by("slug").values_list("pk", flat=True)
    used_page = Paginator(citing, USED_IN_PAGE_SIZE).get_page(request.GET.get("used"))
    links = list(
        EvidenceLink.objects.filter(excerpt=excerpt, configuration_id__in=list(used_page.object_list))
        .select_related("configuration", "configuration__mechanism", "configuration__theme")
        .order_by("configuration__slug", "part")
    )
    configurations = {}
    for link in links:
        # A link's configuration is of its excerpt's programme (the link's rule).
        share_programme(programme, [link.configuration] + ([link.configuration.mechanism] if link.configuration.mechanism_id else []))
        entry = configurations.setdefault(link.configuration_id, {"configuration": link.configuration, "links": []})
        entry["links"].append(link)
    neighbours = EvidenceExcerpt.objects.filter(source_id=excerpt.source_id).only("pk", "slug", "start", "text")
    previous = neighbours.filter(start__lt=excerpt.start).order_by("-start").first()
    following = neighbours.filter(start__gt=excerpt.start).order_by("start").first()
    window, at_beginning, at_end = source_window(excerpt)
    crumbs = [programme_crumb(programme), ("Evidence", reverse("pages:search", args=[programme.slug]))]
    if excerpt.team_id:
        crumbs = [programme_crumb(programme), ("Teams", reverse("pages:team-list", args=[programme.slug])),
                  (str(excerpt.team), excerpt.team.get_absolute_url())]
    return render(
        request,
        "evidence/excerpt_detail.html",
        {
            "programme": programme,
            "excerpt": excerpt,
            "section_path": [part.strip() for part in excerpt.section.replace(">", "›").split("›") if part.strip()],
            "configurations": list(configurations.values()),
            "used_page": used_page,
            "key_figures": list(excerpt.key_figures.select_related("team", "team__programme")),
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


def _search_controls(params, programme):
    """Labelled filter controls, over the programme's own teams, mechanisms, speakers and waves:
    6 queries (one per vocabulary)."""
    from mechanisms.models import Effect, EnablingMechanism, Influence, WishDimension
    from projects.models import QualityDomain, Team

    def ctl(*args, **kwargs):
        return filter_control(*args, params, **kwargs)

    def own(model, *fields):
        return list(model.objects.filter(programme=programme).values_list(*fields))

    waves = own(EvaluationWave, "slug", "name", "number")
    return [
        ctl("team", "Team", own(Team, "slug", "name"), noun="team"),
        ctl("mechanism", "Mechanism", own(EnablingMechanism, "slug", "name"), noun="mechanism"),
        ctl("kind", "Kind of evidence", list(ExcerptKind.choices), hint="Quotes and excerpts only"),
        ctl("speaker_role", "Speaker", own(SpeakerRole, "slug", "name"), hint="Quotes and excerpts only",
            noun="speaker role"),
        # A wave is named by its slug or, as the API takes it, its number.
        ctl("wave", "Evaluation wave", [(slug, name) for slug, name, _ in waves], hint="Quotes and excerpts only",
            noun="wave", aliases={str(number): slug for slug, _, number in waves if number is not None}),
        ctl("effect", "Triggered or disabled", list(Effect.choices), hint="Configurations only"),
        ctl("influence", "Barrier or enabler", list(Influence.choices), hint="Configurations only"),
        ctl("wish_dimension", "Relationship dimension", list(WishDimension.objects.values_list("slug", "name")),
            hint="Configurations only"),
        ctl("quality_domain", "Quality domain", list(QualityDomain.objects.values_list("slug", "name")),
            hint="Configurations only"),
    ]


def search(request, programme):
    """Full-text search over a programme's excerpts and published configurations, with the API's
    filters.

    Each list applies the filters it understands; a filter only one kind of result has (the speaker
    of a quote, the effect of a configuration) hides the other list, and the page says so.
    Queries: the programme + 6 (filter vocabularies) + 1 per active filter + for each list shown:
    count (at most SEARCH_RESULTS_CAP), page and its prefetches (excerpts: published links, how
    many cite each; configurations: teams)."""
    from mechanisms.api import ConfigurationFilterSet
    from mechanisms.models import CMOConfiguration

    from .api import ExcerptFilterSet

    programme = programme_or_404(request, programme)
    q = (request.GET.get("q") or "").strip()
    controls = _search_controls(request.GET, programme)
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
        # The mechanism of an excerpt is that of a published configuration of the programme it is
        # evidence for: the API's filter would read "published" as of the public programmes only.
        excerpts, problems = apply_api_filters(
            ExcerptFilterSet, request.GET, EvidenceExcerpt.objects.filter(source__programme=programme),
            ("team",) + EXCERPT_ONLY, controls, user=request.user,
        )
        errors.update(problems)
        mechanisms = [c for c in controls if c["param"] == "mechanism"][0]
        if not problems and mechanisms["active"]:
            excerpts = excerpts.filter(pk__in=EvidenceLink.objects.filter(
                configuration__status=PUBLISHED, configuration__programme=programme,
                configuration__mechanism__slug__in=[value for value, _ in mechanisms["active"]],
            ).values("excerpt_id"))
        # Each result names its first LINKED_SHOWN configurations and counts the rest: one quote can
        # be evidence for thousands.
        excerpts = excerpts.select_related("team", "speaker_role").defer("note").prefetch_related(
            Prefetch(
                "links",
                queryset=EvidenceLink.objects.filter(configuration__status=PUBLISHED, configuration__programme=programme)
                .select_related("configuration")
                .order_by("configuration__slug", "pk")[: 2 * LINKED_SHOWN],
                to_attr="published_links",
            )
        )
        excerpts = search_excerpts(excerpts, q) if q else excerpts.order_by("source_id", "start")
        excerpt_page = CappedPaginator(excerpts, SEARCH_PAGE_SIZE, cap=SEARCH_RESULTS_CAP).get_page(request.GET.get("epage"))
        excerpt_page.object_list = list(excerpt_page.object_list)
        citations = published_citations([excerpt.pk for excerpt in excerpt_page.object_list], programme)
        for excerpt in excerpt_page.object_list:
            # One entry per configuration, however many of its parts the excerpt speaks to.
            excerpt.linked_configurations = share_programme(programme, list(
                {l.configuration_id: l.configuration for l in excerpt.published_links}.values())[:LINKED_SHOWN])
            excerpt.linked_more = citations.get(excerpt.pk, 0) - len(excerpt.linked_configurations)
    if show_configurations:
        configurations, problems = apply_api_filters(
            ConfigurationFilterSet, request.GET, CMOConfiguration.objects.published().filter(programme=programme),
            BOTH + CONFIGURATION_ONLY, controls, user=request.user,
        )
        errors.update(problems)
        configurations = configurations.select_related("programme", "mechanism", "theme").prefetch_related(
            Prefetch("teams", queryset=Team.objects.select_related("programme")))
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
            "programme": programme,
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
            "breadcrumbs": [programme_crumb(programme), ("Search", None)],
        },
        status=400 if errors else 200,
    )
