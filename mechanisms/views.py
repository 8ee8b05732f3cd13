"""Public pages about mechanisms, Wish's relationship dimensions, quality domains, configurations
and the cross-team matrix. Only published configurations ever reach these pages.

A programme's pages (its mechanisms, configurations, matrix) read that programme's rows only: its
vocabulary's slugs are unique only within it. The shared frameworks' pages (Wish dimensions,
quality domains) count and show what the visitor may see: configurations of the programmes visible
to them (projects/membership.py), never a private programme's for a visitor who is no member."""

from collections import OrderedDict
from urllib.parse import urlencode
from types import SimpleNamespace

from django.db.models import Case, Count, F, IntegerField, OuterRef, Prefetch, Q, Subquery, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from rest_framework.exceptions import ValidationError as DRFValidationError

from cmo_kb.filters import _accepts
from cmo_kb.vocabulary import ReviewStatus
from evidence.models import EvidenceExcerpt, EvidenceLink
from projects.models import Programme, QualityDomain, Team, TeamQualityDomain
from projects.pages import in_programme, programme_or_404, share_programme, visible_programme_ids

from .api import ConfigurationFilterSet
from .matrix import AXES, build_matrix
from .models import (
    CMOConfiguration,
    ConfigurationPathway,
    Effect,
    EnablingMechanism,
    Influence,
    MechanismTheme,
    Outcome,
    OutcomeKind,
    Pathway,
    WishDimension,
    WishPole,
    WishShift,
)

PUBLISHED = ReviewStatus.PUBLISHED
# Configurations with a theme first, in the theme's order (NULLs sort differently on SQLite and
# PostgreSQL unless told).
THEME_ORDER = F("theme__order").asc(nulls_last=True)
# How many pieces of evidence a configuration card shows before "more evidence".
EVIDENCE_SHOWN = 2
# The most evidence links a card loads: the rest is on the configuration's own page (a configuration
# can gather thousands of links; a card must not carry them all).
CARD_EVIDENCE_LINKS = 12
# How many cards a page of many configurations shows in each group (a team's mechanism, say), and in
# all on the mechanism and quality-domain pages, before linking to the filtered configuration list.
CARDS_PER_GROUP = 5
CARDS_SHOWN = 30
# The configuration page: evidence per page, and how many of the same mechanism's others it names.
EVIDENCE_PAGE_SIZE = 50
RELATED_SHOWN = 12
# Participant quotes first (they are what readers look for), then findings, in source order.
QUOTES_FIRST = Case(When(excerpt__kind="participant_quote", then=Value(0)), default=Value(1), output_field=IntegerField())


# --- shared helpers (the team, excerpt and search pages use them too) -------------------------


def evidence_count():
    """How many distinct excerpts a configuration cites (a subquery per row of the page)."""
    return Coalesce(
        Subquery(
            EvidenceLink.objects.filter(configuration=OuterRef("pk"))
            .order_by()
            .values("configuration")
            .annotate(n=Count("excerpt", distinct=True))
            .values("n")
        ),
        0,
    )


def configuration_cards(queryset=None, evidence=True):
    """Published configurations with everything a configuration card shows.

    Costs 1 query for the configurations (with their programme) plus 7 prefetches, however many
    rows: teams (with their programme, for their addresses), contexts,
    outcomes (with kind), Wish shifts (with dimension, pole and pair), evidence links (at most
    CARD_EVIDENCE_LINKS a configuration, quotes first, with excerpt and speaker role), quality
    domains, pathways. `.evidence_count` is every excerpt it cites. evidence=False leaves the
    evidence out (6 prefetches): the configuration page pages through it itself.
    """
    qs = CMOConfiguration.objects.published() if queryset is None else queryset
    prefetches = [
        Prefetch("teams", queryset=Team.objects.select_related("programme")),
        "contexts",
        Prefetch("outcomes", queryset=Outcome.objects.select_related("kind")),
        Prefetch("wish_shifts", queryset=WishShift.objects.select_related("dimension", "toward", "between")),
        "quality_domains",
        Prefetch("configurationpathway_set", queryset=ConfigurationPathway.objects.select_related("pathway")),
    ]
    if evidence:
        prefetches.insert(4, Prefetch(
            "evidence_links",
            queryset=EvidenceLink.objects.select_related("excerpt", "excerpt__speaker_role", "excerpt__team").order_by(
                QUOTES_FIRST, "excerpt__source_id", "excerpt__start", "part", "pk"
            )[:CARD_EVIDENCE_LINKS],
            to_attr="card_links",  # a sliced prefetch must go to a list (Django's managers refuse a sliced filter)
        ))
    return qs.select_related("programme", "mechanism", "theme", "relationship_level").annotate(
        evidence_count=evidence_count()
    ).prefetch_related(*prefetches)


def first_of_each(queryset, partition, order, limit=CARDS_PER_GROUP):
    """The first `limit` rows of `queryset` in each `partition` (a field name), by `order`: 1 query,
    a window function over the ids only (the rows are wide). Returns a queryset of those rows by id:
    as a subquery the planner guessed thousands of rows and scanned every configuration twice."""
    ranked = queryset.order_by().annotate(
        rank_in_group=Window(RowNumber(), partition_by=[F(partition)], order_by=order)
    ).filter(rank_in_group__lte=limit).values_list("pk", flat=True)
    return CMOConfiguration.objects.filter(pk__in=list(ranked))


def group_links(links):
    """One entry per excerpt with the parts it speaks to (a quote linked to both context and
    outcome is shown once), quotes first, then findings, in source order."""
    grouped = OrderedDict()
    for link in links:
        entry = grouped.setdefault(link.excerpt_id, {"excerpt": link.excerpt, "links": []})
        entry["links"].append(link)
    return sorted(
        grouped.values(),
        key=lambda e: (e["excerpt"].kind != "participant_quote", e["excerpt"].source_id, e["excerpt"].start),
    )


def attach_evidence(configurations, evidence=True):
    """Give each configuration `.evidence` (see group_links) from its prefetched links, split into
    what the card shows and what is behind "more"; `.evidence_elsewhere` counts the excerpts only
    its own page lists. Uses prefetched rows only (evidence=False: cards made without evidence).
    A card's mechanism is of its configuration's programme, so it gets that (loaded) programme for
    its address."""
    for configuration in configurations:
        if configuration.mechanism_id:
            configuration.mechanism.programme = configuration.programme
        evidence = group_links(configuration.card_links) if evidence else []
        configuration.evidence = evidence
        configuration.evidence_shown = evidence[:EVIDENCE_SHOWN]
        configuration.evidence_more = evidence[EVIDENCE_SHOWN:]
        total = getattr(configuration, "evidence_count", len(evidence))
        configuration.evidence_elsewhere = max(0, total - len(evidence))
        configuration.pathway_list = [cp.pathway for cp in configuration.configurationpathway_set.all()]
    return configurations


def group_by_mechanism(configurations):
    """[(mechanism or None, [configurations])] in mechanism order; unassigned last."""
    groups = OrderedDict()
    for configuration in configurations:
        groups.setdefault(configuration.mechanism, []).append(configuration)
    return sorted(
        groups.items(),
        key=lambda item: (item[0] is None, item[0].order if item[0] else 0, item[0].name if item[0] else ""),
    )


def diverging_rows(rows):
    """Geometry for the diverging bar chart (includes/diverging_chart.html).

    `rows` are dicts with label, left and right (counts) and optionally url. Adds bar lengths in
    SVG units: the chart is 400 wide, the axis at x=200, each half at most 165 long (room is left
    for the count at the end of a bar); each row is 58 high."""
    rows = list(rows)
    top = max([max(r["left"], r["right"]) for r in rows] + [1])
    for index, row in enumerate(rows):
        row["left_width"] = round(165 * row["left"] / top, 1)
        row["right_width"] = round(165 * row["right"] / top, 1)
        row["left_x"] = round(200 - row["left_width"], 1)
        row["left_text_x"] = round(row["left_x"] - 5, 1)
        row["right_text_x"] = round(200 + row["right_width"] + 5, 1)
        row["y"] = index * 58
        row["net"] = row["right"] - row["left"]
        row["chart_height"] = len(rows) * 58
    return rows


def wish_profile(configurations, dimensions):
    """Which Wish dimensions the configurations shift, and toward which pole.

    `dimensions` must have their poles prefetched; shifts come from the configurations' prefetched
    `wish_shifts`, so this costs no query."""
    by_dimension = {d.pk: {"left": [], "right": []} for d in dimensions}
    for configuration in configurations:
        for shift in configuration.wish_shifts.all():
            side = "left" if shift.toward.position < 0 else "right"
            by_dimension.setdefault(shift.dimension_id, {"left": [], "right": []})[side].append((configuration, shift))
    rows = []
    for dimension in dimensions:
        poles = {p.position: p for p in dimension.poles.all()}
        shifts = by_dimension[dimension.pk]
        rows.append(
            {
                "dimension": dimension,
                "label": dimension.name,
                "url": dimension.get_absolute_url(),
                "left_pole": poles.get(-1),
                "right_pole": poles.get(1),
                "left": len(shifts["left"]),
                "right": len(shifts["right"]),
                "left_shifts": shifts["left"],
                "right_shifts": shifts["right"],
                "between": sorted({s.between.name for _, s in shifts["left"] + shifts["right"]}),
            }
        )
    return diverging_rows(rows)


def wish_profile_counts(shifts, dimensions):
    """Like wish_profile, from an aggregate over `shifts` (a WishShift queryset): 1 query, whatever
    the number of shifts. Each side counts shifts, as wish_profile does."""
    by_dimension = {d.pk: {"left": 0, "right": 0, "between": set()} for d in dimensions}
    rows = (
        shifts.order_by()
        .values("dimension", "toward__position", "between__name")
        .annotate(n=Count("pk"))
        .values_list("dimension", "toward__position", "between__name", "n")
    )
    for dimension_id, position, between, n in rows:
        entry = by_dimension.setdefault(dimension_id, {"left": 0, "right": 0, "between": set()})
        entry["left" if position < 0 else "right"] += n
        entry["between"].add(between)
    profile = []
    for dimension in dimensions:
        poles = {p.position: p for p in dimension.poles.all()}
        entry = by_dimension[dimension.pk]
        profile.append({
            "dimension": dimension, "label": dimension.name, "url": dimension.get_absolute_url(),
            "left_pole": poles.get(-1), "right_pole": poles.get(1),
            "left": entry["left"], "right": entry["right"], "between": sorted(entry["between"]),
        })
    return diverging_rows(profile)


def effect_summary(queryset):
    """Totals of a configuration queryset in one aggregate query: total, triggered, disabled,
    enablers, barriers."""
    return queryset.order_by().aggregate(
        total=Count("pk"),
        triggered=Count("pk", filter=Q(effect=Effect.TRIGGERED)),
        disabled=Count("pk", filter=Q(effect=Effect.DISABLED)),
        enablers=Count("pk", filter=Q(influence=Influence.ENABLER)),
        barriers=Count("pk", filter=Q(influence=Influence.BARRIER)),
    )


def cited_excerpt_count(configurations):
    """Distinct excerpts cited by a configuration queryset: 1 query."""
    return EvidenceLink.objects.filter(configuration__in=configurations.order_by().values("pk")).values(
        "excerpt").distinct().count()


def dimensions_with_poles():
    """All Wish dimensions with their poles: 2 queries."""
    return list(WishDimension.objects.prefetch_related(Prefetch("poles", queryset=WishPole.objects.order_by("position"))))


def _team_groups(configurations):
    """Columns for 'side by side': one per team, cross-team configurations in their own column."""
    columns = OrderedDict()
    for configuration in configurations:
        teams = list(configuration.teams.all())
        if len(teams) == 1:
            key, label, team = teams[0].slug, str(teams[0]), teams[0]
        else:
            key, label, team = "_cross", "Across teams", None
        column = columns.setdefault(key, {"label": label, "team": team, "configurations": [], "order": None})
        column["configurations"].append(configuration)
        column["order"] = (1, 0, "") if team is None else (0, team.order, team.name)
    return sorted(columns.values(), key=lambda c: c["order"])


def _effect_counts(configurations):
    triggered = sum(1 for c in configurations if c.effect == Effect.TRIGGERED)
    return {"triggered": triggered, "disabled": len(configurations) - triggered, "total": len(configurations)}


# --- mechanisms ------------------------------------------------------------------------------


def programme_crumb(programme):
    """The breadcrumb of a programme's home, first on each of its pages."""
    return (programme.short_name or programme.name, programme.get_absolute_url())


def mechanism_list(request, programme):
    """3 queries: the programme, its mechanisms with published counts, their themes."""
    programme = programme_or_404(request, programme)
    published = Q(configurations__status=PUBLISHED)
    mechanisms = share_programme(programme, list(EnablingMechanism.objects.filter(programme=programme).annotate(
        published_count=Count("configurations", filter=published, distinct=True),
        triggered_count=Count("configurations", filter=published & Q(configurations__effect=Effect.TRIGGERED), distinct=True),
        disabled_count=Count("configurations", filter=published & Q(configurations__effect=Effect.DISABLED), distinct=True),
    ).prefetch_related("themes")))
    return render(
        request,
        "mechanisms/mechanism_list.html",
        {"programme": programme, "mechanisms": mechanisms, "nav_section": "mechanisms",
         "breadcrumbs": [programme_crumb(programme), ("Mechanisms", None)]},
    )


def mechanism_detail(request, programme, slug):
    """1 (mechanism, with its programme) + 1 (themes) + 1 (counts by theme and effect) + 1 (teams)
    + 8 (the first CARDS_SHOWN configuration cards) = 12 queries, whatever the number of
    configurations. The slug is looked up in the programme (another may have the same)."""
    mechanism = in_programme(EnablingMechanism.objects.all(), request, programme).filter(slug=slug).first()
    if mechanism is None:
        raise Http404("No mechanism of this programme has this address.")
    programme = mechanism.programme
    themes = list(mechanism.themes.all())
    published = CMOConfiguration.objects.published().filter(mechanism=mechanism)
    counts = {"triggered": 0, "disabled": 0, "total": 0}
    theme_counts = {t.pk: {"triggered": 0, "disabled": 0} for t in themes}
    for theme_id, effect, n in published.order_by().values("theme", "effect").annotate(n=Count("pk")).values_list(
        "theme", "effect", "n"
    ):
        counts[effect] += n
        counts["total"] += n
        if theme_id in theme_counts:
            theme_counts[theme_id][effect] += n
    for theme in themes:
        theme.counts = theme_counts[theme.pk]
    team_count = (
        CMOConfiguration.teams.through.objects.filter(cmoconfiguration__in=published.order_by().values("pk"))
        .values("team").distinct().count()
    )
    configurations = attach_evidence(
        list(configuration_cards(published).order_by(THEME_ORDER, "slug")[:CARDS_SHOWN])
    )
    return render(
        request,
        "mechanisms/mechanism_detail.html",
        {
            "mechanism": mechanism,
            "themes": themes,
            "configurations": configurations,
            "columns": _team_groups(configurations),
            "team_count": team_count,
            "counts": counts,
            "hidden": counts["total"] - len(configurations),
            "programme": programme,
            "more_url": reverse("pages:configuration-list", args=[programme.slug]) + f"?mechanism={mechanism.slug}",
            "nav_section": "mechanisms",
            "breadcrumbs": [programme_crumb(programme), ("Mechanisms", reverse("pages:mechanism-list", args=[programme.slug])),
                            (mechanism.short_name or mechanism.name, None)],
        },
    )


# --- Wish dimensions -------------------------------------------------------------------------


def visible_published(request):
    """Published configurations of the programmes the visitor may see (no query of its own)."""
    return CMOConfiguration.objects.published().filter(programme__in=visible_programme_ids(request))


def per_programme_links(counts, params):
    """Links to each programme's configuration list with ``params`` (a dict) for a page across
    programmes: ``counts`` maps (programme slug, programme name) to how many it has there."""
    query = urlencode(params)
    return [
        {"label": name, "count": n, "url": reverse("pages:configuration-list", args=[slug]) + "?" + query}
        for (slug, name), n in sorted(counts.items(), key=lambda item: item[0][1])
    ]


def wish_list(request):
    """3 queries: dimensions with poles, shift counts per pole of the published configurations the
    visitor may see."""
    dimensions = dimensions_with_poles()
    counts = dict(
        WishShift.objects.filter(configuration__in=visible_published(request).order_by().values("pk"))
        .values("toward")
        .annotate(n=Count("configuration", distinct=True))
        .values_list("toward", "n")
    )
    rows = []
    for dimension in dimensions:
        poles = {p.position: p for p in dimension.poles.all()}
        left, right = poles.get(-1), poles.get(1)
        rows.append(
            {
                "dimension": dimension,
                "label": dimension.name,
                "url": dimension.get_absolute_url(),
                "left_pole": left,
                "right_pole": right,
                "left": counts.get(left.pk, 0) if left else 0,
                "right": counts.get(right.pk, 0) if right else 0,
            }
        )
    return render(
        request,
        "mechanisms/wish_list.html",
        {"rows": diverging_rows(rows), "nav_section": "wish", "breadcrumbs": [("Relationship dimensions", None)]},
    )


WISH_SHIFTS_SHOWN = 50


def wish_detail(request, slug):
    """1 (dimension) + 1 (poles) + 1 (shifts per programme, team and side, an aggregate) + 1
    (those teams) + 1 (the first WISH_SHIFTS_SHOWN shifts with configuration, pole, pair) + 1
    (their teams) = 6 queries, whatever the number of shifts. Shifts of the published
    configurations the visitor may see, of every programme."""
    dimension = get_object_or_404(WishDimension, slug=slug)
    poles = {p.position: p for p in dimension.poles.all()}
    published_shifts = WishShift.objects.filter(
        dimension=dimension, configuration__in=visible_published(request).order_by().values("pk")
    )
    Teams = CMOConfiguration.teams.through
    of_configuration = Teams.objects.filter(cmoconfiguration=OuterRef("configuration")).order_by()
    # A shift counts for its team, or under "Across teams" when its configuration has several (or none).
    per_team_counts = (
        published_shifts.order_by()
        .annotate(
            team_total=Subquery(of_configuration.values("cmoconfiguration").annotate(n=Count("pk")).values("n")),
            only_team=Case(When(team_total=1, then=Subquery(of_configuration.values("team")[:1])), default=None),
        )
        .values("configuration__programme__slug", "configuration__programme__name", "only_team", "toward__position")
        .annotate(n=Count("pk"))
        .values_list("configuration__programme__slug", "configuration__programme__name", "only_team",
                     "toward__position", "n")
    )
    per_team_counts = list(per_team_counts)
    teams = Team.objects.select_related("programme").in_bulk(
        {team_id for _, _, team_id, _, _ in per_team_counts if team_id})
    per_team, per_programme = {}, {}
    for programme_slug, programme_name, team_id, position, n in per_team_counts:
        per_programme[(programme_slug, programme_name)] = per_programme.get((programme_slug, programme_name), 0) + n
        team = teams.get(team_id)
        row = per_team.setdefault(team_id, {
            "label": str(team) if team else "Across teams",
            "url": team.get_absolute_url() if team else "",
            "order": (0, team.order, team.name) if team else (1, 0, ""),
            "left": 0,
            "right": 0,
        })
        row["left" if position < 0 else "right"] += n
    rows = diverging_rows(sorted(per_team.values(), key=lambda r: r["order"]))
    total = sum(r["left"] + r["right"] for r in rows)
    shifts = list(
        published_shifts.select_related(
            "configuration", "configuration__programme", "configuration__mechanism", "toward", "between")
        .prefetch_related(Prefetch("configuration__teams", queryset=Team.objects.select_related("programme")))
        .order_by("configuration__slug", "between__order")[:WISH_SHIFTS_SHOWN]
    )
    for shift in shifts:
        if shift.configuration.mechanism_id:
            shift.configuration.mechanism.programme = shift.configuration.programme
    return render(
        request,
        "mechanisms/wish_detail.html",
        {
            "dimension": dimension,
            "left_pole": poles.get(-1),
            "right_pole": poles.get(1),
            "shifts": shifts,
            "shift_total": total,
            "hidden": total - len(shifts),
            "more_links": per_programme_links(per_programme, {"wish_dimension": dimension.slug}),
            "rows": rows,
            "nav_section": "wish",
            "breadcrumbs": [("Relationship dimensions", reverse("pages:wish-list")), (dimension.name, None)],
        },
    )


# --- quality domains -------------------------------------------------------------------------


def quality_domain_list(request):
    """1 query: domains with the number of teams and published configurations touching them, of
    the programmes the visitor may see."""
    visible = visible_programme_ids(request)
    domains = QualityDomain.objects.annotate(
        team_count=Count("teamqualitydomain", filter=Q(teamqualitydomain__team__programme__in=visible), distinct=True),
        published_count=Count("configurations", filter=Q(
            configurations__status=PUBLISHED, configurations__programme__in=visible), distinct=True),
    )
    return render(
        request,
        "mechanisms/quality_domain_list.html",
        {"domains": domains, "nav_section": "quality", "breadcrumbs": [("Quality", None)]},
    )


def quality_domain_detail(request, slug):
    """1 (domain) + 1 (teams with basis and evidence) + 1 (outcomes with kind) + 1 (counts by
    programme, mechanism and effect) + 8 (the first CARDS_SHOWN cards) = 12 queries, whatever the
    size. Teams, outcomes and configurations of the programmes the visitor may see."""
    domain = get_object_or_404(QualityDomain, slug=slug)
    visible = visible_programme_ids(request)
    team_links = list(
        TeamQualityDomain.objects.filter(quality_domain=domain, team__programme__in=visible)
        .select_related("team", "team__programme", "evidence").order_by("team__order", "team__name")
    )
    outcomes = list(Outcome.objects.filter(quality_domains=domain, programme__in=visible).select_related("kind"))
    published = visible_published(request).filter(quality_domains=domain)
    counts = {"triggered": 0, "disabled": 0, "total": 0}
    per_mechanism, per_programme = {}, {}
    for programme_slug, programme_name, mechanism_id, effect, n in (
        published.order_by().values("programme__slug", "programme__name", "mechanism", "effect").annotate(n=Count("pk"))
        .values_list("programme__slug", "programme__name", "mechanism", "effect", "n")
    ):
        counts[effect] += n
        counts["total"] += n
        per_mechanism[mechanism_id] = per_mechanism.get(mechanism_id, 0) + n
        per_programme[(programme_slug, programme_name)] = per_programme.get((programme_slug, programme_name), 0) + n
    configurations = attach_evidence(list(
        configuration_cards(published).order_by(F("mechanism__order").asc(nulls_last=True), THEME_ORDER, "slug")[:CARDS_SHOWN]
    ))
    groups = [
        {"mechanism": mechanism, "configurations": items,
         "count": per_mechanism.get(mechanism.pk if mechanism else None, len(items))}
        for mechanism, items in group_by_mechanism(configurations)
    ]
    return render(
        request,
        "mechanisms/quality_domain_detail.html",
        {
            "several_programmes": len(per_programme) > 1,
            "domain": domain,
            "team_links": team_links,
            "outcomes": outcomes,
            "groups": groups,
            "configurations": configurations,
            "counts": counts,
            "hidden": counts["total"] - len(configurations),
            "more_links": per_programme_links(per_programme, {"quality_domain": domain.slug}),
            "nav_section": "quality",
            "breadcrumbs": [("Quality", reverse("pages:quality-domain-list")), (domain.name, None)],
        },
    )


# --- configurations --------------------------------------------------------------------------


def configuration_diagram(configuration, chain_up, chain_down):
    """The diagram of a configuration page: the configurations one step up its chain, itself, and
    those one step down, with the links among them (from the chain walk the page made). One query
    for the neighbours' parts, none when it has no neighbours."""
    from mechanisms.diagram import MAX_DRAWN, Drawn, diagram_figure

    up = [link.from_configuration for depth, link in chain_up if depth == 1]
    down = [link.to_configuration for depth, link in chain_down if depth == 1]
    room = MAX_DRAWN - 1
    shown_up = up[: max(room // 2, room - len(down))]
    shown_down = down[: room - len(shown_up)]
    slug = configuration.programme.slug
    neighbours = {d.pk: d for d in Drawn.load(shown_up + shown_down, programme_slug=slug)}
    drawn = ([neighbours[c.pk] for c in shown_up] + [Drawn.of(configuration, programme_slug=slug)]
             + [neighbours[c.pk] for c in shown_down])
    return diagram_figure(drawn, [link for depth, link in chain_up + chain_down],
                          more=len(up) + len(down) - len(shown_up) - len(shown_down), current=configuration.pk,
                          label=f"“{configuration.title}” and the configurations next to it in its chain")


def configuration_detail(request, programme, slug):
    """1 (configuration, with its programme, which the visitor must be able to see) + 6 (its parts)
    + 2 (a page of the excerpts it cites: count, page) + 1 (their links) + 1 (the evidence profile, over
    all its links) + 1 (how many others share the mechanism) + 1 (the first RELATED_SHOWN of them) + 1
    (their teams) + its chain up and down (a query each way, +1 for the links' evidence when there
are any) + 1 for the parts of its chain neighbours in the diagram, when it has any. Evidence
    pages by EVIDENCE_PAGE_SIZE (?evidence=2)."""
    configuration = in_programme(configuration_cards(evidence=False), request, programme).filter(slug=slug).first()
    if configuration is None:
        raise Http404("No published configuration of this programme has this address.")
    programme = configuration.programme
    attach_evidence([configuration], evidence=False)
    cited = EvidenceExcerpt.objects.filter(
        pk__in=EvidenceLink.objects.filter(configuration=configuration).values("excerpt_id")
    ).annotate(
        quote_last=Case(When(kind="participant_quote", then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("quote_last", "source_id", "start", "pk")
    evidence_page = Paginator(cited.values_list("pk", flat=True), EVIDENCE_PAGE_SIZE).get_page(request.GET.get("evidence"))
    links = EvidenceLink.objects.filter(configuration=configuration, excerpt_id__in=list(evidence_page.object_list)).select_related(
        "excerpt", "excerpt__speaker_role", "excerpt__team").order_by("excerpt__start", "part")
    configuration.evidence = group_links(links)
    configuration.evidence_count = evidence_page.paginator.count
    from mechanisms.confidence import components, profile_of

    configuration.profile = profile_of(configuration)  # all its links, not the page's (1 query)
    configuration.cerqual = components(configuration)
    related, related_total = [], 0
    if configuration.mechanism_id:
        others = CMOConfiguration.objects.published().filter(mechanism_id=configuration.mechanism_id).exclude(pk=configuration.pk)
        related_total = others.count()
        related = share_programme(programme, list(
            others.select_related("theme").prefetch_related("teams").order_by("slug")[:RELATED_SHOWN]))
    teams = list(configuration.teams.all())
    # Its chain (mechanisms/chains.py) among the programme's published configurations: a query per
    # step each way (+1 for the evidence of the links found).
    from mechanisms.chains import walk

    def chain_visible(prefix):
        return Q(**{f"{prefix}status": ReviewStatus.PUBLISHED, f"{prefix}programme": programme})

    chain_up = walk(configuration, chain_visible, "up")
    chain_down = walk(configuration, chain_visible, "down")
    cmo_diagram = configuration_diagram(configuration, chain_up, chain_down)
    list_url = reverse("pages:configuration-list", args=[programme.slug])
    crumbs = [programme_crumb(programme), ("Configurations", list_url), (configuration.title, None)]
    if len(teams) == 1:
        crumbs = [programme_crumb(programme), ("Teams", reverse("pages:team-list", args=[programme.slug])),
                  (str(teams[0]), teams[0].get_absolute_url()), (configuration.title, None)]
    return render(
        request,
        "mechanisms/configuration_detail.html",
        {
            "programme": programme,
            "configuration": configuration,
            "teams": teams,
            "chain_up": chain_up,
            "chain_down": chain_down,
            "cmo_diagram": cmo_diagram,
            "evidence_page": evidence_page,
            "related": related,
            "related_total": related_total,
            "related_hidden": related_total - len(related),
            "related_url": f"{list_url}?mechanism={configuration.mechanism.slug}" if configuration.mechanism_id else "",
            "nav_section": "configurations",
            "breadcrumbs": crumbs,
        },
    )


MATRIX_DEFAULTS = {"rows": "team", "cols": "mechanism"}
INFLUENCE_CHOICES = [("", "Barriers and enablers")] + [(v, f"{l}s only") for v, l in Influence.choices]


def _heat_level(count, top):
    """0 for an empty cell, else 1–5 in proportion to the fullest cell."""
    return 0 if not count else max(1, min(5, -(-5 * count // max(top, 1))))


def matrix(request, programme):
    """A programme's team × mechanism by default; rows and columns switch to any axis of
    mechanisms/matrix.py.

    Queries: the programme, and at most 5 for the matrix (build_matrix), whatever the data size."""
    programme = programme_or_404(request, programme)
    errors = []
    choice = {}
    for param, default in MATRIX_DEFAULTS.items():
        value = request.GET.get(param) or default
        if value not in AXES:
            errors.append(f"{'Rows' if param == 'rows' else 'Columns'}: “{value}” is not an axis; choose one of {', '.join(a.label for a in AXES.values())}.")
            value = default
        choice[param] = value
    influence = request.GET.get("influence", "")
    if influence not in dict(INFLUENCE_CHOICES):
        errors.append(f"Show: “{influence}” is not one of barriers, enablers.")
        influence = ""
    configurations = CMOConfiguration.objects.published().filter(programme=programme)
    if influence:
        configurations = configurations.filter(influence=influence)
    data = build_matrix(configurations, choice["rows"], choice["cols"],
                        programmes=Programme.objects.filter(pk=programme.pk))
    list_url = reverse("pages:configuration-list", args=[programme.slug])
    top = max([cell["count"] for row in data["cells"] for cell in row] + [0])
    extra = {"influence": influence} if influence else {}
    rows = []
    for header, cells in zip(data["rows"], data["cells"]):
        for cell, col in zip(cells, data["cols"]):
            cell["col_label"] = col["label"]
            cell["level"] = _heat_level(cell["count"], top)
            params = {choice["rows"]: cell["row"], choice["cols"]: cell["col"], **extra}
            cell["url"] = f"{list_url}?" + urlencode(params)
        rows.append({"header": header, "cells": cells, "url": _axis_url(programme, choice["rows"], header["key"])})
    cols = [dict(col, url=_axis_url(programme, choice["cols"], col["key"])) for col in data["cols"]]
    return render(
        request,
        "mechanisms/matrix.html",
        {
            "programme": programme,
            "matrix": data,
            "rows": rows,
            "cols": cols,
            "axes": [(key, axis.label) for key, axis in AXES.items()],
            "choice": choice,
            "influence": influence,
            "influence_choices": INFLUENCE_CHOICES,
            "errors": errors,
            "levels": range(6),
            "nav_section": "matrix",
            "breadcrumbs": [programme_crumb(programme), ("Matrix", None)],
        },
        status=400 if errors else 200,
    )


def _axis_url(programme, axis, key):
    """The page about one term of an axis, where there is one (a team's and a mechanism's in the
    programme, the shared frameworks' across programmes)."""
    if axis in ("team", "mechanism"):
        return reverse(f"pages:{axis}-detail", args=[programme.slug, key])
    shared = {"wish_dimension": "pages:wish-detail", "quality_domain": "pages:quality-domain-detail"}
    return reverse(shared[axis], args=[key]) if axis in shared else None


# --- filters shared with the API (mechanisms/api.py, evidence/api.py) -------------------------


def _split(params, name):
    return [v.strip() for raw in params.getlist(name) for v in raw.split(",") if v.strip()]


def own_vocabulary_errors(params, controls):
    """Check the values of the controls over a programme's own vocabulary (its teams, mechanisms,
    themes, speaker roles, waves) against that programme's terms, before the API's FilterSet sees
    them: it knows every programme's slugs, so it would take another programme's (and list them,
    a private programme's too, when refusing). Returns (errors, canonical values) in the API's
    wording; a wave named by its number becomes the slug of this programme's wave."""
    errors, canonical = {}, {}
    for control in controls:
        accepts = control.get("accepts")
        values = _split(params, control["param"]) if accepts is not None else []
        if not values:
            continue
        missing = [v for v in values if v not in accepts]
        if missing:
            errors[control["param"]] = [
                f"Unknown {control['noun']} {', '.join(repr(m) for m in missing)}. "
                f"Accepted: {_accepts(sorted(set(accepts)))}."
            ]
        else:
            canonical[control["param"]] = [accepts[v] for v in values]
    return errors, canonical


def apply_api_filters(filterset_class, params, queryset, names, controls=(), user=None):
    """Filter `queryset` with the API's FilterSet, reading only the parameters in `names`.

    The FilterSet sees the visitor (`user`) and nothing else of the request: it looks terms up in
    the programmes the visitor may see (a member's private programme among them), while `queryset`
    alone decides the rows (the pages pass published configurations only; none of the page filters
    resolves through "configurations visible to this client"). Returns (queryset, errors) where
    errors maps a parameter to its messages (the API's own wording, which names what is accepted).
    `controls` (filter_control dicts) over a programme's own vocabulary are checked against it first
    (own_vocabulary_errors): `queryset` is that programme's rows."""
    own_errors, canonical = own_vocabulary_errors(params, controls)
    if own_errors:
        return queryset.none(), own_errors
    data = QueryDict(mutable=True)
    for name in names:
        values = canonical.get(name) or [v for v in params.getlist(name) if v.strip()]
        if values:
            data.setlist(name, values)
    if not data:
        return queryset, {}
    filterset = filterset_class(data=data, queryset=queryset, request=SimpleNamespace(user=user) if user else None)
    if not filterset.is_valid():
        return queryset.none(), {k: [str(m) for m in v] for k, v in filterset.errors.items()}
    try:
        return filterset.qs, {}
    except DRFValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"filters": exc.detail}
        return queryset.none(), {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}


def filter_control(param, label, options, params, hint="", noun=None, aliases=None):
    """A labelled <select> for the filter form: options are (value, label) pairs.

    `noun` marks a programme's own vocabulary: only its options are accepted (see
    own_vocabulary_errors), and `aliases` other values that name one ({"1": "wave-1"})."""
    selected = [v for raw in params.getlist(param) for v in raw.split(",") if v.strip()]
    labels = dict(options)
    control = {
        "param": param,
        "label": label,
        "options": options,
        "selected": selected[0] if selected else "",
        "active": [(value, labels.get(value, labels.get((aliases or {}).get(value), value))) for value in selected],
        "hint": hint,
    }
    if noun:
        control["noun"] = noun
        control["accepts"] = {value: value for value, _ in options} | dict(aliases or {})
    return control


def configuration_filter_controls(params, programme):
    """The configuration filters people browse by, the programme's own teams, mechanisms and
    themes among them. 7 queries (one per vocabulary)."""
    return [
        filter_control("team", "Team", list(Team.objects.filter(programme=programme).values_list("slug", "name")),
                       params, noun="team"),
        filter_control("mechanism", "Mechanism",
                       list(EnablingMechanism.objects.filter(programme=programme).values_list("slug", "name")),
                       params, noun="mechanism"),
        filter_control(
            "theme", "Theme",
            [(slug, f"{name} ({mech or mech_name})") for slug, name, mech, mech_name in MechanismTheme.objects.filter(
                programme=programme).values_list("slug", "name", "mechanism__short_name", "mechanism__name")],
            params, noun="theme",
        ),
        filter_control("effect", "Triggered or disabled", list(Effect.choices), params),
        filter_control("influence", "Barrier or enabler", list(Influence.choices), params),
        filter_control("wish_dimension", "Relationship dimension", list(WishDimension.objects.values_list("slug", "name")), params),
        filter_control("quality_domain", "Quality domain", list(QualityDomain.objects.values_list("slug", "name")), params),
        filter_control("outcome_kind", "Kind of outcome", list(OutcomeKind.objects.values_list("slug", "name")), params),
        filter_control(
            "pathway", "RAND pathway", [(slug, f"{letter}: {name}") for slug, letter, name in Pathway.objects.values_list("slug", "letter", "name")], params
        ),
    ]


def error_list(errors, controls):
    labels = {c["param"]: c["label"] for c in controls}
    return [f"{labels.get(param, param)}: {message}" for param, messages in errors.items() for message in messages]


PAGE_SIZE = 20


def configuration_list(request, programme):
    """A programme's published configurations, filtered as the API filters them (the matrix cells
    link here).

    Queries: the programme + 7 (filter vocabularies) + 1 per active filter (its slugs checked) +
    count + the page's ids + their cards + 7 prefetches. 400 with the API's message when a filter
    value is unknown (for the programme's own vocabulary: not one of its terms)."""
    programme = programme_or_404(request, programme)
    controls = configuration_filter_controls(request.GET, programme)
    names = [c["param"] for c in controls]
    queryset, errors = apply_api_filters(
        ConfigurationFilterSet, request.GET, CMOConfiguration.objects.published().filter(programme=programme), names,
        controls, user=request.user,
    )
    # Pages through ids (narrow rows to sort and skip), then loads the page's cards by id.
    ordering = ("mechanism__order", "slug")
    paginator = Paginator(queryset.order_by(*ordering).values_list("pk", flat=True), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page_ids = list(page.object_list)
    configurations = attach_evidence(list(
        configuration_cards(CMOConfiguration.objects.filter(pk__in=page_ids)).order_by(*ordering)
    ))
    active = [(c["label"], label) for c in controls for _, label in c["active"]]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "mechanisms/configuration_list.html",
        {
            "programme": programme,
            "controls": controls,
            "errors": error_list(errors, controls),
            "page": page,
            "configurations": configurations,
            "active": active,
            "query": query.urlencode(),
            "nav_section": "configurations",
            "breadcrumbs": [programme_crumb(programme), ("Configurations", None)],
        },
        status=400 if errors else 200,
    )
