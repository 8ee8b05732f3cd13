"""What an export is built from: ``load_export_data`` reads the snapshot (everything but the evidence
rows, which grow with the data) in a fixed number of queries (EXPORT_QUERIES, whatever the data size);
``StreamedRows`` reads the excerpts, evidence links and source texts as streams, a fixed number of
queries more (STREAM_QUERIES), each through ``.iterator(chunk_size=...)`` so memory stays bounded.

Part of the REFI-QDA export (evidence/refi_qda/__init__.py says how the knowledge base maps
onto QDA-XML)."""

from dataclasses import dataclass, field

from evidence.refi_qda.schema import guid, source_guid


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
    # The programmes' Code rows (evidence/codes.py), by programme (in the order above), then order and
    # id: codebook.build_codes merges them with the derived codes.
    codes: list = field(default_factory=list)
    # Code row pk -> [memo GUID, ...]; source pk -> [memo GUID, ...] (the memos' NoteRefs, by memo id).
    memo_codes: dict = field(default_factory=dict)
    memo_sources: dict = field(default_factory=dict)
    # Relation pk -> [memo GUID, ...] (the NoteRefs of the <Link>s relations become).
    memo_relations: dict = field(default_factory=dict)
    # source pk -> GUID, team pk -> GUID: the GUID it was imported with (qda_guid) or the derived one.
    source_guids: dict = field(default_factory=dict)
    case_guids: dict = field(default_factory=dict)
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
    "codes (the programmes' Code rows)",
    "sources (with kind and programme, without their text)",
    "memos' codes (NoteRefs of codes)",
    "memos' sources (NoteRefs of sources)",
    "memos' relations (NoteRefs of links)",
    "users who created or changed an exported row, coded an excerpt or wrote a memo or relation",
]
# The queries StreamedRows makes while a project is written, whatever the data size.
STREAM_QUERIES = [
    "latest change of an excerpt",
    "latest change of an evidence link to an exported configuration",
    "excerpts of each team (cases)",
    "excerpts with their evidence links (selections)",
    "evidence links with a note (notes)",
    "evidence links to exported configurations (links)",
    "codings of each excerpt (selections)",
    "memos of each excerpt (NoteRefs of selections)",
    "memos (notes)",
    "relations (links)",
    "source texts",
]
CODEBOOK_QUERIES = EXPORT_QUERIES[: EXPORT_QUERIES.index("sources (with kind and programme, without their text)")]


def _grouped(rows):
    grouped = {}
    for key, value in rows:
        grouped.setdefault(key, []).append(value)
    return grouped


def _imported_guids(rows, derived):
    """{pk: GUID} of sources or teams: the GUID a row was imported with (qda_guid), or the derived one.
    A GUID is written once: a second row with the same qda_guid (two programmes that imported the same
    project) falls back to its derived GUID."""
    from evidence.codes import normalise_guid

    guids, used = {}, set()
    for row in rows:
        chosen = normalise_guid(row.qda_guid) if row.qda_guid else None
        if chosen is None or chosen in used:
            chosen = derived(row)
        used.add(chosen)
        guids[row.pk] = chosen
    return guids


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
    from evidence.models import Code, EvidenceExcerpt, EvidenceLink, Memo, Relation, Source, SpeakerRole
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
    # In the programmes' order (chosen: name, slug), whatever their ids.
    rank = {pk: index for index, pk in enumerate(ids)}
    data.codes = sorted(Code.objects.filter(**mine).order_by("order", "id"),
                        key=lambda code: rank[code.programme_id])
    if not evidence:
        return data
    data.exported = exported
    data.sources = list(Source.objects.filter(**mine).select_related("kind", "programme").defer("full_text")
                        .order_by("title", "slug"))
    data.memo_codes = _grouped(
        Memo.codes.through.objects.filter(memo__programme_id__in=ids, code__programme_id__in=ids)
        .order_by("code_id", "memo_id").values_list("code_id", "memo__guid")
    )
    data.memo_sources = _grouped(
        Memo.sources.through.objects.filter(memo__programme_id__in=ids, source__programme_id__in=ids)
        .order_by("source_id", "memo_id").values_list("source_id", "memo__guid")
    )
    data.memo_relations = _grouped(
        Memo.relations.through.objects.filter(memo__programme_id__in=ids, relation__programme_id__in=ids)
        .order_by("relation_id", "memo_id").values_list("relation_id", "memo__guid")
    )
    data.source_guids = _imported_guids(data.sources, lambda source: source_guid(source.slug))
    data.case_guids = _imported_guids(data.teams, lambda team: guid("case", "team", team.slug))
    links = EvidenceLink.objects.filter(configuration_id__in=exported)
    curated = [
        configurations,
        links,
        EvidenceExcerpt.objects.filter(source__programme_id__in=ids),
        Source.objects.filter(**mine),
        Team.objects.filter(**mine),
        Memo.objects.filter(**mine),
        Relation.objects.filter(**mine),
    ]
    who = Q()
    for qs in curated:
        who |= Q(pk__in=qs.filter(created_by__isnull=False).values("created_by"))
        who |= Q(pk__in=qs.filter(updated_by__isnull=False).values("updated_by"))
    who |= Q(pk__in=StreamedRows(data)._codings().filter(coder__isnull=False).values("coder"))
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

    def _codings(self):
        from evidence.models import Coding

        # Not the codings of a source under blind comparison (evidence/blind_coding.py): an export
        # knows no reader to show their own, so it waits until a lead reveals them.
        return Coding.objects.filter(excerpt__source__programme_id__in=self.data.programme_ids,
                                     code__programme_id__in=self.data.programme_ids,
                                     excerpt__source__coding_blind=False)

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
            .values_list("team_id", "slug", "qda_guid"),
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
            .values("pk", "source_id", "slug", "qda_guid", "start", "end", "attribution", "section", "kind", "team_id",
                    "speaker_role_id", "wave__name", "note", "created_by_id", "created_at", "updated_by_id",
                    "updated_at", link_configuration_id=F("links__configuration_id"), link_part=F("links__part")),
            "excerpts",
        )

    # The selections' order, for the streams walked alongside them (excerpt__ prefixed).
    _SELECTION_ORDER = ("source__title", "source__slug", "start", "end", "id")

    def codings(self):
        """(excerpt id, coding GUID, code GUID, coder id, created) of the Coding rows, in the selections'
        order, then by id (the order an import made them in)."""
        return Rows(
            self._codings().order_by(*(f"excerpt__{key}" for key in self._SELECTION_ORDER), "id")
            .values_list("excerpt_id", "guid", "code__guid", "coder_id", "created"),
            "codings",
        )

    def excerpt_memos(self):
        """(excerpt id, memo GUID) of the memos about an excerpt, in the selections' order."""
        from evidence.models import Memo

        ids = self.data.programme_ids
        return Rows(
            Memo.excerpts.through.objects.filter(memo__programme_id__in=ids,
                                                 evidenceexcerpt__source__programme_id__in=ids)
            .order_by(*(f"evidenceexcerpt__{key}" for key in self._SELECTION_ORDER), "memo_id")
            .values_list("evidenceexcerpt_id", "memo__guid"),
            "memos of excerpts",
        )

    def memos(self):
        """(guid, name, text, created_by_id, created_at, updated_by_id, updated_at) of the programmes' memos."""
        from evidence.models import Memo

        return (Memo.objects.filter(programme_id__in=self.data.programme_ids).order_by("id")
                .values_list("guid", "name", "text", "created_by_id", "created_at", "updated_by_id", "updated_at")
                .iterator(chunk_size=CHUNK))

    def relations(self):
        """One dict per relation of the programmes: its GUID, name, direction, colour, and the GUIDs
        (codes) or slugs and qda_guids (excerpts) of its ends."""
        from django.db.models import Q

        from evidence.models import Relation

        ids = self.data.programme_ids
        ends = [f"{end}_{kind}__{key}" for end in ("origin", "target")
                for kind, keys in (("code", ("guid",)), ("excerpt", ("slug", "qda_guid"))) for key in keys]
        # Both ends exported (the model lets a relation reach into another programme): no dangling GUID.
        exported_ends = Q()
        for end in ("origin", "target"):
            exported_ends &= (Q(**{f"{end}_code__programme_id__in": ids})
                              | Q(**{f"{end}_excerpt__source__programme_id__in": ids}))
        return (Relation.objects.filter(exported_ends, programme_id__in=ids).order_by("id")
                .values("pk", "guid", "name", "direction", "colour", *ends).iterator(chunk_size=CHUNK))

    def link_notes(self):
        """(excerpt slug, configuration id, part, note, created_by_id, created_at, updated_by_id,
        updated_at) of the links with a note."""
        return self._links().exclude(note="").order_by("excerpt_id", "configuration_id", "part").values_list(
            "excerpt__slug", "configuration_id", "part", "note", "created_by_id", "created_at", "updated_by_id",
            "updated_at",
        ).iterator(chunk_size=CHUNK)

    def links(self):
        """(excerpt slug, configuration id, part, stance, note, excerpt qda_guid) of every exported link."""
        return self._links().order_by("excerpt_id", "configuration_id", "part").values_list(
            "excerpt__slug", "configuration_id", "part", "stance", "note", "excerpt__qda_guid"
        ).iterator(chunk_size=CHUNK)

    def source_texts(self):
        """(pk, slug, full text) per source, in the snapshot's order."""
        from evidence.models import Source

        return (Source.objects.filter(programme_id__in=self.data.programme_ids).order_by("title", "slug")
                .values_list("pk", "slug", "full_text").iterator(chunk_size=TEXT_CHUNK))
