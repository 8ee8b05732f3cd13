"""What an export is built from: ``load_export_data`` reads the snapshot (everything but the evidence
rows, which grow with the data) in a fixed number of queries (EXPORT_QUERIES, whatever the data size);
``StreamedRows`` reads the excerpts, evidence links and source texts as streams, a fixed number of
queries more (STREAM_QUERIES), each through ``.iterator(chunk_size=...)`` so memory stays bounded.

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
    # The programmes exported (by name), and their ids (every programme-owned query is narrowed to them).
    programmes: list = field(default_factory=list)
    programme_ids: list = field(default_factory=list)
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
    # Without their full text (StreamedRows.source_texts reads it, one source at a time).
    sources: list = field(default_factory=list)
    users: list = field(default_factory=list)
    # The exported configurations' pks, as a subquery (StreamedRows filters evidence links by it).
    exported: object = None


# The queries load_export_data makes, whatever the data size (pinned by tests/exports/).
EXPORT_QUERIES = [
    "programmes exported",
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
    "sources (with kind and programme, without their text)",
    "users who created or changed an exported row",
]
# The queries StreamedRows makes while a project is written, whatever the data size.
STREAM_QUERIES = [
    "latest change of an excerpt",
    "latest change of an evidence link to an exported configuration",
    "excerpts of each team (cases)",
    "excerpts with their evidence links (selections)",
    "evidence links with a note (notes)",
    "evidence links to exported configurations (links)",
    "source texts",
]
CODEBOOK_QUERIES = EXPORT_QUERIES[: EXPORT_QUERIES.index("sources (with kind and programme, without their text)")]


def _grouped(rows):
    grouped = {}
    for key, value in rows:
        grouped.setdefault(key, []).append(value)
    return grouped


def load_export_data(include_drafts=False, evidence=True, internal_notes=False, programmes=None, drafts_of=None):
    """Read what an export shows. Costs len(EXPORT_QUERIES) queries, whatever the data size; without
    evidence (a codebook needs no sources, excerpts, links or users) len(CODEBOOK_QUERIES).

    ``programmes``: the programmes exported (a Programme queryset; None: every programme); their own
    vocabularies, teams, sources and excerpts are exported whole, the shared frameworks too.
    Published configurations only, unless include_drafts: then also the drafts and configurations
    in review of ``drafts_of`` (a Programme queryset, those the reader writes in; None: every
    programme exported). Curators' internal notes only with internal_notes (the caller decides who
    may ask for either: evaluators).
    """
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from cmo_kb.vocabulary import ReviewStatus
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
    from projects.models import Programme, QualityDomain, Team

    chosen = list((Programme.objects.all() if programmes is None else programmes).order_by("name", "slug"))
    ids = [programme.pk for programme in chosen]
    shown = Q(status=ReviewStatus.PUBLISHED)
    if include_drafts:
        shown = Q() if drafts_of is None else shown | Q(programme__in=drafts_of)
    configurations = CMOConfiguration.objects.filter(shown, programme_id__in=ids)
    configurations = configurations.defer("search_text", "search_vector").order_by("slug")
    # Subqueries, not id lists: an empty id list would skip its query and change the count.
    exported = configurations.values("pk")

    def through(relation, target):
        return list(
            relation.through.objects.filter(cmoconfiguration_id__in=exported)
            .order_by(f"{target}__order", f"{target}__name", f"{target}_id")
            .values_list("cmoconfiguration_id", f"{target}_id")
        )

    data = ExportData(include_drafts=include_drafts, internal_notes=internal_notes, programmes=chosen, programme_ids=ids)
    mine = {"programme_id__in": ids}
    data.mechanisms = list(EnablingMechanism.objects.filter(**mine).order_by("order", "name", "programme_id", "slug"))
    data.themes = list(MechanismTheme.objects.filter(**mine).order_by(
        "mechanism__order", "order", "name", "programme_id", "slug"))
    data.dimensions = list(WishDimension.objects.order_by("order", "name", "slug"))
    data.poles = list(WishPole.objects.order_by("dimension__order", "position", "slug"))
    data.quality_domains = list(QualityDomain.objects.order_by("order", "name", "slug"))
    data.outcome_kinds = list(OutcomeKind.objects.order_by("order", "name", "slug"))
    data.outcomes = list(Outcome.objects.filter(**mine).order_by("order", "name", "programme_id", "slug"))
    data.contexts = list(Context.objects.filter(**mine).order_by("category", "order", "name", "programme_id", "slug"))
    data.teams = list(Team.objects.filter(**mine).select_related("programme").order_by("order", "name", "slug"))
    data.speaker_roles = list(SpeakerRole.objects.filter(**mine).order_by("order", "name", "programme_id", "slug"))
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
    data.exported = exported
    data.sources = list(Source.objects.filter(**mine).select_related("kind", "programme").defer("full_text")
                        .order_by("title", "slug"))
    links = EvidenceLink.objects.filter(configuration_id__in=exported)
    curated = [
        configurations,
        links,
        EvidenceExcerpt.objects.filter(source__programme_id__in=ids),
        Source.objects.filter(**mine),
        Team.objects.filter(**mine),
    ]
    who = Q()
    for qs in curated:
        who |= Q(pk__in=qs.filter(created_by__isnull=False).values("created_by"))
        who |= Q(pk__in=qs.filter(updated_by__isnull=False).values("updated_by"))
    data.users = list(get_user_model().objects.filter(who).order_by("username"))
    return data


# --- Streaming the evidence ----------------------------------------------------------------------

CHUNK = 2000
TEXT_CHUNK = 16  # source texts are whole reports: a few at a time


class Rows:
    """A peekable iterator over a streamed queryset."""

    _END = object()

    def __init__(self, queryset, name, chunk_size=CHUNK):
        self.name = name
        self._rows = queryset.iterator(chunk_size=chunk_size)
        self._next = self._END

    def peek(self):
        if self._next is self._END:
            self._next = next(self._rows, None)
        return self._next

    def __iter__(self):
        return self

    def __next__(self):
        row = self.peek()
        if row is None:
            raise StopIteration
        self._next = self._END
        return row

    def exhausted(self):
        """Every row was used: the stream's order matched the snapshot's (a left-over row would be
        evidence the export silently dropped)."""
        if self.peek() is not None:
            raise RuntimeError(f"REFI-QDA export: {self.name} were not all written (order mismatch)")


class StreamedRows:
    """The evidence of an export, read as streams (one query each, see STREAM_QUERIES) in the order
    the project needs it. The orders follow the snapshot's (teams, sources: order, name/title, slug)
    so the writer can walk both together."""

    def __init__(self, data):
        self.data = data

    def _excerpts(self):
        from evidence.models import EvidenceExcerpt

        return EvidenceExcerpt.objects.filter(source__programme_id__in=self.data.programme_ids)

    def _links(self):
        from evidence.models import EvidenceLink

        return EvidenceLink.objects.filter(configuration_id__in=self.data.exported)

    def latest_excerpt_change(self):
        from django.db.models import Max

        return self._excerpts().aggregate(latest=Max("updated_at"))["latest"]

    def latest_link_change(self):
        from django.db.models import Max

        return self._links().aggregate(latest=Max("updated_at"))["latest"]

    def excerpts_by_team(self):
        """(team id, excerpt slug), by team in the snapshot's order, then by place in the sources."""
        return Rows(
            self._excerpts().filter(team__isnull=False)
            .order_by("team__order", "team__name", "team__slug", "source_id", "start", "end", "pk")
            .values_list("team_id", "slug"),
            "team excerpts",
        )

    def selections(self):
        """One dict per excerpt and evidence link (link_configuration_id and link_part None for an
        excerpt without links), by source in the snapshot's order, then place. Links to every
        configuration: the writer keeps those to the snapshot's configurations (FilteredRelation
        cannot take the exported subquery), so drafts stay out whatever changes meanwhile."""
        from django.db.models import F

        return Rows(
            self._excerpts()
            .order_by("source__title", "source__slug", "start", "end", "pk")
            .values("pk", "source_id", "slug", "start", "end", "attribution", "section", "kind", "team_id",
                    "speaker_role_id", "wave__name", "note", "created_by_id", "created_at", "updated_by_id",
                    "updated_at", link_configuration_id=F("links__configuration_id"), link_part=F("links__part")),
            "excerpts",
        )

    def link_notes(self):
        """(excerpt slug, configuration id, part, note, created_by_id, created_at, updated_by_id,
        updated_at) of the links with a note."""
        return self._links().exclude(note="").order_by("excerpt_id", "configuration_id", "part").values_list(
            "excerpt__slug", "configuration_id", "part", "note", "created_by_id", "created_at", "updated_by_id",
            "updated_at",
        ).iterator(chunk_size=CHUNK)

    def links(self):
        """(excerpt slug, configuration id, part, stance, note) of every exported link."""
        return self._links().order_by("excerpt_id", "configuration_id", "part").values_list(
            "excerpt__slug", "configuration_id", "part", "stance", "note"
        ).iterator(chunk_size=CHUNK)

    def source_texts(self):
        """(slug, full text) per source, in the snapshot's order."""
        from evidence.models import Source

        return (Source.objects.filter(programme_id__in=self.data.programme_ids).order_by("title", "slug")
                .values_list("slug", "full_text").iterator(chunk_size=TEXT_CHUNK))
