"""The snapshot an export is built from: ``load_export_data`` reads it in a fixed number of queries
(EXPORT_QUERIES, whatever the data size).

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

from dataclasses import dataclass, field


# --- Reading the database ------------------------------------------------------------------------


@dataclass
class ExportData:
    """Everything an export needs, read up front (see load_export_data)."""

    include_drafts: bool = False
    # Curators' internal notes (cmo_kb/internal_notes.py): configuration notes, excerpt notes.
    internal_notes: bool = False
    mechanisms: list = field(default_factory=list)
    themes: list = field(default_factory=list)
    dimensions: list = field(default_factory=list)
    poles: list = field(default_factory=list)
    quality_domains: list = field(default_factory=list)
    outcome_kinds: list = field(default_factory=list)
    outcomes: list = field(default_factory=list)
    contexts: list = field(default_factory=list)
    teams: list = field(default_factory=list)
    speaker_roles: list = field(default_factory=list)
    configurations: list = field(default_factory=list)
    # configuration id -> [related id, ...] in the related model's order
    configuration_teams: dict = field(default_factory=dict)
    configuration_contexts: dict = field(default_factory=dict)
    configuration_outcomes: dict = field(default_factory=dict)
    configuration_quality_domains: dict = field(default_factory=dict)
    # configuration id -> [WishShift (with between), ...] / [pathway letter, ...] in order
    wish_shifts: dict = field(default_factory=dict)
    pathways: dict = field(default_factory=dict)
    sources: list = field(default_factory=list)
    excerpts: list = field(default_factory=list)
    links: list = field(default_factory=list)
    users: list = field(default_factory=list)


# The queries load_export_data makes, whatever the data size (pinned by tests/exports/).
EXPORT_QUERIES = [
    "enabling mechanisms",
    "mechanism themes",
    "Wish dimensions",
    "Wish poles",
    "quality domains",
    "outcome kinds",
    "outcomes",
    "contexts",
    "teams (with programme)",
    "speaker roles",
    "configurations",
    "configuration teams",
    "configuration contexts",
    "configuration outcomes",
    "configuration quality domains",
    "Wish shifts (with relationship pair)",
    "configuration pathways (with pathway)",
    "sources (with kind and programme)",
    "evidence excerpts (with wave)",
    "evidence links to exported configurations",
    "users who created or changed an exported row",
]
CODEBOOK_QUERIES = EXPORT_QUERIES[: EXPORT_QUERIES.index("sources (with kind and programme)")]


def _grouped(rows):
    grouped = {}
    for key, value in rows:
        grouped.setdefault(key, []).append(value)
    return grouped


def load_export_data(include_drafts=False, evidence=True, internal_notes=False):
    """Read what an export shows. Costs len(EXPORT_QUERIES) queries, whatever the data size; without
    evidence (a codebook needs no sources, excerpts, links or users) len(CODEBOOK_QUERIES).

    Published configurations only, unless include_drafts; curators' internal notes only with
    internal_notes (the caller decides who may ask for either: evaluators).
    Vocabularies, sources, excerpts and teams are public and exported whole.
    """
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from evidence.models import EvidenceExcerpt, EvidenceLink, Source, SpeakerRole
    from mechanisms.models import (
        CMOConfiguration,
        ConfigurationPathway,
        Context,
        EnablingMechanism,
        MechanismTheme,
        Outcome,
        OutcomeKind,
        WishDimension,
        WishPole,
        WishShift,
    )
    from projects.models import QualityDomain, Team

    configurations = CMOConfiguration.objects.all() if include_drafts else CMOConfiguration.objects.published()
    configurations = configurations.defer("search_text", "search_vector").order_by("slug")
    # Subqueries, not id lists: an empty id list would skip its query and change the count.
    exported = configurations.values("pk")

    def through(relation, target):
        return list(
            relation.through.objects.filter(cmoconfiguration_id__in=exported)
            .order_by(f"{target}__order", f"{target}__name", f"{target}_id")
            .values_list("cmoconfiguration_id", f"{target}_id")
        )

    data = ExportData(include_drafts=include_drafts, internal_notes=internal_notes)
    data.mechanisms = list(EnablingMechanism.objects.order_by("order", "name", "slug"))
    data.themes = list(MechanismTheme.objects.order_by("mechanism__order", "order", "name", "slug"))
    data.dimensions = list(WishDimension.objects.order_by("order", "name", "slug"))
    data.poles = list(WishPole.objects.order_by("dimension__order", "position", "slug"))
    data.quality_domains = list(QualityDomain.objects.order_by("order", "name", "slug"))
    data.outcome_kinds = list(OutcomeKind.objects.order_by("order", "name", "slug"))
    data.outcomes = list(Outcome.objects.order_by("order", "name", "slug"))
    data.contexts = list(Context.objects.order_by("category", "order", "name", "slug"))
    data.teams = list(Team.objects.select_related("programme").order_by("order", "name", "slug"))
    data.speaker_roles = list(SpeakerRole.objects.order_by("order", "name", "slug"))
    data.configurations = list(configurations)
    data.configuration_teams = _grouped(through(CMOConfiguration.teams, "team"))
    data.configuration_contexts = _grouped(through(CMOConfiguration.contexts, "context"))
    data.configuration_outcomes = _grouped(through(CMOConfiguration.outcomes, "outcome"))
    data.configuration_quality_domains = _grouped(through(CMOConfiguration.quality_domains, "qualitydomain"))
    data.wish_shifts = _grouped(
        (shift.configuration_id, shift)
        for shift in WishShift.objects.filter(configuration_id__in=exported)
        .select_related("between")
        .order_by("configuration_id", "dimension__order", "between__order", "pk")
    )
    data.pathways = _grouped(
        ConfigurationPathway.objects.filter(configuration_id__in=exported)
        .order_by("configuration_id", "order", "pathway__letter")
        .values_list("configuration_id", "pathway__letter")
    )
    if not evidence:
        return data
    data.sources = list(Source.objects.select_related("kind", "programme").order_by("title", "slug"))
    data.excerpts = list(
        EvidenceExcerpt.objects.defer("search_vector").select_related("wave").order_by("source_id", "start", "end")
    )
    links = EvidenceLink.objects.filter(configuration_id__in=exported)
    data.links = list(links.order_by("excerpt_id", "configuration_id", "part"))
    curated = [
        configurations,
        links,
        EvidenceExcerpt.objects.all(),
        Source.objects.all(),
        Team.objects.all(),
    ]
    who = Q()
    for qs in curated:
        who |= Q(pk__in=qs.filter(created_by__isnull=False).values("created_by"))
        who |= Q(pk__in=qs.filter(updated_by__isnull=False).values("updated_by"))
    data.users = list(get_user_model().objects.filter(who).order_by("username"))
    return data
