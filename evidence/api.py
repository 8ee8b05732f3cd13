"""API resources of the evidence app: sources, excerpts, evidence links, speaker roles, waves.

Excerpts are verbatim text of published sources, so everyone may read every excerpt; what is hidden
from non-evaluators is the link to an unpublished configuration (nested `links`, /api/evidence-links/
and the `configuration`/`mechanism` filters all respect that).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.fields import get_error_detail

from cmo_kb.api import KBModelViewSet, SearchHitSerializerMixin, vocabulary_serializer
from cmo_kb.filters import (
    ChoiceListFilter,
    IntegerListFilter,
    KBFilterSet,
    SearchParamFilter,
    SlugListFilter,
    TextListFilter,
    VocabularyFilterSet,
)
from cmo_kb.internal_notes import EvaluatorOnlyFieldsMixin, shows_internal_notes
from cmo_kb.openapi import KBAutoSchema
from cmo_kb.pagination import KBCursorPagination
from cmo_kb.parsers import MultiPartParser
from cmo_kb.permissions import visible_configurations
from cmo_kb.serializer_fields import (
    KBModelSerializer,
    StrictCharField,
    StrictSlugRelatedField,
    programme_field,
)
from cmo_kb.vocabulary import RULE, ReviewStatus
from evidence import excerpt_export
from evidence.models import (
    EvaluationWave,
    EvidenceExcerpt,
    EvidenceLink,
    ExcerptKind,
    Part,
    Source,
    SourceKind,
    SpeakerRole,
    Stance,
)
from evidence.search import search_excerpts
from mechanisms import publish_lock
from mechanisms.models import CMOConfiguration, EnablingMechanism
from projects.models import Programme, Team

# --- Sources ------------------------------------------------------------------------------------


class SourceSerializer(KBModelSerializer):
    kind = StrictSlugRelatedField(slug_field="slug", queryset=SourceKind.objects.all())
    programme = StrictSlugRelatedField(slug_field="slug", queryset=Programme.objects.all(), allow_null=True, required=False)
    length = serializers.SerializerMethodField(help_text="Characters in the full text (offsets count these).")
    excerpts_url = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = ["slug", "title", "kind", "programme", "authors", "date", "publisher", "url", "length", "excerpts_url",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def get_length(self, obj) -> int:
        return obj.text_length if hasattr(obj, "text_length") else len(obj.full_text)

    def get_excerpts_url(self, obj) -> str:
        return f"/api/excerpts/?source={obj.slug}"


class HeadingSerializer(serializers.Serializer):
    level = serializers.IntegerField(read_only=True, help_text="1 for a top-level heading, 2 under it...")
    title = StrictCharField(read_only=True)
    start = serializers.IntegerField(read_only=True, help_text="Character offset of the title in the full text.")


class SourceDetailSerializer(SourceSerializer):
    outline = HeadingSerializer(many=True, read_only=True,
                                help_text="The headings of the document the text was read from (empty when it was pasted).")

    class Meta(SourceSerializer.Meta):
        fields = SourceSerializer.Meta.fields + ["full_text", "outline", "extractor", "extractor_version"]
        read_only_fields = SourceSerializer.Meta.read_only_fields + ["extractor", "extractor_version"]
        # Verbatim: excerpts count characters into it, so not one is trimmed.
        extra_kwargs = {"full_text": {"trim_whitespace": False}}


class SourceUploadSerializer(serializers.Serializer):
    """A document to read as a new source (evidence/document_import.py)."""

    # An empty file is the reader's to refuse (a 422 naming it), as any other file it cannot read.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="The document: .txt, .md, .docx, .odt, .pdf, .html or .rtf, at most SOURCE_UPLOAD_MAX_BYTES "
                  "(20 MB by default). Its text is kept verbatim; its headings become the outline.")
    programme = programme_field(help_text="The programme the source belongs to (you must write in it).")
    kind = StrictSlugRelatedField(slug_field="slug", queryset=SourceKind.objects.all(), required=False,
                                  help_text="The source kind (default: evaluation-report).")
    title = StrictCharField(required=False, allow_blank=True, max_length=500,
                            help_text="Default: the first heading, else the file name.")


NO_NUL = "^[^\\u0000]*$"
# The form SourceUploadSerializer reads, as the schema states it: written out because a form part
# that names no field is refused, not ignored (cmo_kb/middleware.py refuses a form name holding a
# NUL before the view sees it), so the form admits no other parts (additionalProperties: false),
# which drf-spectacular does not say of a serializer.
UPLOAD_FORM = {
    "type": "object",
    "description": SourceUploadSerializer.__doc__,
    "properties": {
        "file": {"type": "string", "format": "binary", "description": SourceUploadSerializer._declared_fields["file"].help_text},
        "programme": {"type": "string", "minLength": 1, "pattern": NO_NUL,
                      "description": SourceUploadSerializer._declared_fields["programme"].help_text},
        "kind": {"type": "string", "minLength": 1, "pattern": NO_NUL,
                 "description": SourceUploadSerializer._declared_fields["kind"].help_text},
        "title": {"type": "string", "maxLength": 500, "pattern": NO_NUL,
                  "description": SourceUploadSerializer._declared_fields["title"].help_text},
    },
    "required": ["file", "programme"],
    "additionalProperties": False,
}


class UploadFormSchema(KBAutoSchema):
    """The upload's form is required (drf-spectacular says a body given as a schema is optional)."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


class SourceFilterSet(VocabularyFilterSet):
    name = None
    title = TextListFilter(field_name="title", help_text="Part of the title.")
    kind = SlugListFilter(SourceKind, noun="source kind", field_name="kind")
    # (?programme= is KBFilterSet's, as on every programme's list)


@extend_schema_view(
    list=extend_schema(description="Documents whose text the evidence quotes. The list leaves out the full "
                       "text (the report alone is 190,000 characters); a source's own page includes it."),
)
class SourceViewSet(KBModelViewSet):
    """Documents whose full text is stored so evidence can be shown in context."""

    filterset_class = SourceFilterSet

    def get_queryset(self):
        qs = Source.objects.select_related("kind", "programme")
        if self.action == "list":
            qs = qs.defer("full_text")  # lengths: paginate_queryset, for the page's rows only
        elif self.action == "export":
            from django.db.models.functions import Length

            qs = qs.defer("full_text").annotate(text_length=Length("full_text"))
        return qs

    def paginate_queryset(self, queryset):
        """The page's lengths in one more query, for its rows only: annotated on the list, length()
        would read (detoast) every source's full text before the sort by title picks a page, 9 s
        for 4,000 sources of a few hundred thousand characters each."""
        from django.db.models.functions import Length

        page = super().paginate_queryset(queryset)
        if page:
            lengths = dict(Source.objects.filter(pk__in=[s.pk for s in page]).annotate(n=Length("full_text")).values_list("pk", "n"))
            for source in page:
                source.text_length = lengths[source.pk]
        return page

    def get_serializer_class(self):
        if self.action == "upload":
            return SourceUploadSerializer
        return SourceSerializer if self.action in ("list", "export") else SourceDetailSerializer

    @extend_schema(
        request={"multipart/form-data": UPLOAD_FORM},
        responses={201: SourceDetailSerializer},
        description="Create a source from a document (multipart/form-data): its verbatim text, its headings as "
        "the outline and the original file (downloaded by the programme's evaluators in the workbench). A "
        "file that cannot be read (encrypted or scanned PDF, damaged file, wrong extension, empty, too large) "
        "is a 422 naming `file`, and nothing is stored; a programme you do not write in is a 403 naming it.",
    )
    @action(detail=False, methods=["post"], url_path="upload", url_name="upload", parser_classes=[MultiPartParser],
            schema=UploadFormSchema())
    def upload(self, request, *args, **kwargs):
        from evidence.document_import import import_document
        from evidence.documents import DocumentRefused

        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            report = import_document(data["file"], data["programme"], user=request.user, kind=data.get("kind"),
                                     title=data.get("title"))
        except DocumentRefused as refused:
            # Well formed (a file was sent) but unreadable as a document: a 422 (cmo_kb/errors.py).
            raise exceptions.ValidationError({refused.field: [refused.message]}, code=RULE) from None
        if not report.written:
            raise exceptions.ValidationError({"file": [str(problem) for problem in report.errors]
                                              or [report.summary()]}, code=RULE)
        source = Source.objects.select_related("kind", "programme").get(pk=report.source.pk)
        body = SourceDetailSerializer(source, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"/api/sources/{source.slug}/"})


SpeakerRoleViewSet = type(
    "SpeakerRoleViewSet", (KBModelViewSet,),
    {"__doc__": "Who speaks in a quote (values of the excerpts' `speaker_role` filter).",
     "queryset": SpeakerRole.objects.all(), "serializer_class": vocabulary_serializer(SpeakerRole),
     "filterset_class": VocabularyFilterSet, "list_reads_rows": True},
)


class WaveViewSet(KBModelViewSet):
    """Evaluation waves: rounds of fieldwork (values of the excerpts' `wave` filter, by number or slug)."""

    queryset = EvaluationWave.objects.all()
    serializer_class = vocabulary_serializer(EvaluationWave, ["number", "period"])
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


# --- Excerpts -------------------------------------------------------------------------------------


class WaveFilter(SlugListFilter):
    """Waves by number (1, 2, 3) or slug, among the waves of the programmes in play (a wave's number,
    like its slug, is unique within its programme: without ?programme=, `1` is every visible
    programme's first wave)."""

    @staticmethod
    def _is_number(v):
        # ASCII digits only ("²".isdigit() is true, int("²") fails); longer numbers are no wave's and
        # would overflow the database's integer.
        return v.isascii() and v.isdigit()

    def schema_enum(self, request):
        """What the OpenAPI schema lists (cmo_kb/openapi.py): the numbers, then the slugs."""
        waves = self.known_queryset(request).order_by("number", "slug").values_list("number", "slug")
        numbers = list(dict.fromkeys(str(number) for number, _ in waves if number is not None))
        return numbers + list(dict.fromkeys(slug for _, slug in waves))

    def validate(self, value):
        numbers = [int(v) for v in value if self._is_number(v) and len(v) < 10]
        known = set(self.known_queryset().filter(number__in=numbers).values_list("number", flat=True)) if numbers else set()
        for original in value:
            if self._is_number(original) and (len(original) >= 10 or int(original) not in known):
                known_numbers = sorted(set(self.known_queryset().values_list("number", flat=True)))
                raise exceptions.ValidationError(
                    {self.parent_param or "wave": [f"Unknown wave number {original!r}. Accepted: numbers "
                                                   f"{', '.join(map(str, known_numbers)) or '(none yet)'} or wave slugs."]}
                )
        super().validate([v for v in value if not self._is_number(v)])

    def filter(self, qs, value):
        if not value:
            return qs
        self.validate(value)
        numbers = [int(v) for v in value if self._is_number(v)]
        slugs = [v for v in value if not self._is_number(v)]
        waves = self.known_queryset().filter(Q(number__in=numbers) | Q(slug__in=slugs))
        return qs.filter(wave__in=waves.values("pk"))


class LinkedMechanismFilter(SlugListFilter):
    """Excerpts linked to a configuration, visible to the client, that has this mechanism (of the
    programmes in play)."""

    def apply(self, qs, value):
        links = EvidenceLink.objects.filter(
            configuration__in=visible_configurations(self.parent.request), configuration__mechanism__in=self.terms(value)
        )
        return qs.filter(pk__in=links.values("excerpt_id"))


class ExcerptFilterSet(KBFilterSet):
    id = IntegerListFilter(field_name="pk", help_text="Excerpt ids.")
    team = SlugListFilter(Team, field_name="team", list_url="/api/teams/")
    speaker_role = SlugListFilter(SpeakerRole, noun="speaker role", field_name="speaker_role", list_url="/api/speaker-roles/")
    kind = ChoiceListFilter(ExcerptKind.choices, field_name="kind", help_text="What the excerpt is.")
    source = SlugListFilter(Source, field_name="source", list_url="/api/sources/")
    wave = WaveFilter(EvaluationWave, noun="wave", field_name="wave", list_url="/api/waves/",
                      help_text="Evaluation wave by number (1, 2, 3) or slug (see /api/waves/). Several values: "
                      "comma-separated or repeated; a row matches any of them.")
    section = TextListFilter(field_name="section", help_text="Part of the section path, e.g. Targeting.")
    configuration = SlugListFilter(
        CMOConfiguration, noun="configuration", field_name="links__configuration", list_url="/api/configurations/",
        queryset=visible_configurations,
        help_text="Excerpts linked to this configuration (slug; only configurations you may see). Several values: "
        "comma-separated or repeated; a row matches any of them.",
    )
    mechanism = LinkedMechanismFilter(
        EnablingMechanism, noun="mechanism", field_name="mechanism", list_url="/api/mechanisms/",
        help_text="Excerpts linked to a configuration with this mechanism. Several values: comma-separated "
        "or repeated; a row matches any of them.",
    )
    search = SearchParamFilter(search_excerpts)

    class Meta:
        model = EvidenceExcerpt
        fields = []

    @property
    def search_active(self):
        return bool((self.form.cleaned_data.get("search") or "").strip())


class ExcerptLinkSerializer(KBModelSerializer):
    configuration = StrictSlugRelatedField(slug_field="slug", read_only=True)
    configuration_title = StrictCharField(source="configuration.title", read_only=True)

    class Meta:
        model = EvidenceLink
        fields = ["id", "configuration", "configuration_title", "stance", "part", "note"]


class ExcerptSerializer(EvaluatorOnlyFieldsMixin, SearchHitSerializerMixin, KBModelSerializer):
    evaluator_only_fields = ("note",)  # cmo_kb/internal_notes.py
    source = StrictSlugRelatedField(slug_field="slug", queryset=Source.objects.all())
    programme = programme_field(source="source.programme", read_only=True,
                                help_text="The programme of the excerpt's source (see /api/programmes/).")
    team = StrictSlugRelatedField(slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False)
    speaker_role = StrictSlugRelatedField(slug_field="slug", queryset=SpeakerRole.objects.all(), allow_null=True, required=False)
    wave = StrictSlugRelatedField(slug_field="slug", queryset=EvaluationWave.objects.all(), allow_null=True, required=False)
    links = ExcerptLinkSerializer(many=True, read_only=True, help_text="Links to configurations you may see.")
    created_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    updated_by = StrictSlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = EvidenceExcerpt
        fields = ["id", "slug", "source", "programme", "text", "start", "end", "section", "team", "speaker_role", "attribution", "kind",
                  "wave", "note", "links", "created_by", "updated_by", "created_at", "updated_at", "rank", "snippet"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"text": {"trim_whitespace": False}}  # verbatim: may begin or end with white space

    def validate(self, attrs):
        # The verbatim rule: text == source.full_text[start:end]; the model's clean() says which field is wrong.
        probe = EvidenceExcerpt(**{**self._current(), **attrs})
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc))  # with the rule's code (422)
        return attrs

    def _current(self):
        if self.instance is None:
            return {}
        names = ("source", "text", "start", "end", "section", "team", "speaker_role", "attribution", "kind", "wave", "note", "slug")
        return {name: getattr(self.instance, name) for name in names}



def excerpt_queryset(request):
    """1 query for excerpts (+ source without its text, team, role, wave, users), 1 for visible links.
    (The list reads rows, not instances: ExcerptRows below.)"""
    visible_links = EvidenceLink.objects.filter(configuration__in=visible_configurations(request)).select_related("configuration")
    return (
        EvidenceExcerpt.objects.select_related("source__programme", "team", "speaker_role", "wave", "created_by", "updated_by")
        .defer("source__full_text", "search_vector")
        .prefetch_related(Prefetch("links", visible_links.order_by("configuration__slug", "part")))
    )


class ExcerptRows:
    """The excerpt list as rows, not model instances: the columns ExcerptSerializer shows (the related
    rows' slugs and names only, no Source, Team or User row), read with values(), and the page's
    visible links in one more query. 2 queries whatever the page size.

    Why not the serializer: at 500 rows, building seven model instances per row (select_related),
    500 prefetch querysets and running twenty serializer fields each cost 6× the SQL; these rows are
    the same JSON (tests/api/test_excerpts.py compares them with ExcerptSerializer's)."""

    COLUMNS = {
        "id": "id", "slug": "slug", "source": "source__slug", "programme": "source__programme__slug", "text": "text", "start": "start", "end": "end",
        "section": "section", "team": "team__slug", "speaker_role": "speaker_role__slug", "attribution": "attribution",
        "kind": "kind", "wave": "wave__slug", "note": "note", "created_by": "created_by__username",
        "updated_by": "updated_by__username", "created_at": "created_at", "updated_at": "updated_at",
    }
    LINK_COLUMNS = ("id", "excerpt_id", "configuration__slug", "configuration__title", "stance", "part", "note")

    @classmethod
    def queryset(cls):
        return EvidenceExcerpt.objects.values(*cls.COLUMNS.values(), "source_id")  # source_id: the cursor's

    @classmethod
    def represent(cls, rows, request):
        """ExcerptSerializer's representation of ``rows`` (dicts from queryset(), annotated with rank
        and snippet by a search). One query: the visible links of these rows."""
        links = {}
        if rows:
            visible = EvidenceLink.objects.filter(
                configuration__in=visible_configurations(request), excerpt_id__in=[row["id"] for row in rows]
            ).order_by("configuration__slug", "part")
            for link_id, excerpt_id, slug, title, stance, part, note in visible.values_list(*cls.LINK_COLUMNS):
                links.setdefault(excerpt_id, []).append(
                    {"id": link_id, "configuration": slug, "configuration_title": title, "stance": stance, "part": part, "note": note}
                )
        show_note = shows_internal_notes(request)
        when = serializers.DateTimeField().to_representation
        data = []
        for row in rows:
            item = {name: row[column] for name, column in cls.COLUMNS.items()}
            if not show_note:
                del item["note"]
            item["links"] = links.get(row["id"], [])
            for name in ("created_by", "updated_by", "created_at", "updated_at"):
                item[name] = item.pop(name)  # after links, as the serializer orders them
            item["created_at"], item["updated_at"] = when(item["created_at"]), when(item["updated_at"])
            if "rank" in row:
                item["rank"] = float(row["rank"])
                item["snippet"] = str(row["snippet"]) if row["snippet"] is not None else None
            data.append(item)
        return data


class ExcerptViewSet(KBModelViewSet):
    """Verbatim evidence excerpts: exact text of a source between character offsets.

    Public to all (they are the source's own text); links to unpublished configurations are shown to
    evaluators only. Writes must keep the verbatim rule (text == the source's text between start and
    end, counted in characters): otherwise 400 naming the field. Cursor-paginated, in source order
    (by rank, best first, with ?search=).
    """

    filterset_class = ExcerptFilterSet
    serializer_class = ExcerptSerializer
    pagination_class = KBCursorPagination
    # Keyset on real columns, served by the index excerpt_cursor (source, start, id): see
    # KBCursorPagination in cmo_kb/pagination.py.
    cursor_ordering = ("source_id", "start", "pk")
    export_rows = excerpt_export.export_rows  # rows without a serializer each: the export of a million
    export_csv = excerpt_export.export_csv  # on PostgreSQL, COPY writes them

    def get_queryset(self):
        return ExcerptRows.queryset() if self.action == "list" else excerpt_queryset(self.request)

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ExcerptRows.represent(rows, request))


# --- Evidence links -------------------------------------------------------------------------------


class EvidenceLinkFilterSet(KBFilterSet):
    configuration = SlugListFilter(CMOConfiguration, noun="configuration", field_name="configuration",
                                   list_url="/api/configurations/", queryset=visible_configurations)
    excerpt = SlugListFilter(EvidenceExcerpt, noun="excerpt", field_name="excerpt", list_url="/api/excerpts/")
    stance = ChoiceListFilter(Stance.choices, field_name="stance", help_text="How the excerpt bears on the configuration.")
    part = ChoiceListFilter(Part.choices, field_name="part", help_text="Which part of the configuration it speaks to.")

    class Meta:
        model = EvidenceLink
        fields = []


class EvidenceLinkSerializer(KBModelSerializer):
    excerpt = StrictSlugRelatedField(slug_field="slug", queryset=EvidenceExcerpt.objects.defer("search_vector"))
    configuration = StrictSlugRelatedField(slug_field="slug", queryset=CMOConfiguration.objects.defer("search_vector"))
    programme = programme_field(source="configuration.programme", read_only=True,
                                help_text="The programme of the configuration (and of the excerpt's source).")
    created_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    updated_by = StrictSlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = EvidenceLink
        fields = ["id", "excerpt", "configuration", "programme", "stance", "part", "note", "relevance", "rigour",
                  "appraisal_note", "created_by", "updated_by", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


def _guard_published_evidence(link):
    """Removing a link from a published configuration: leads only (the publish lock), and never its last one."""
    configuration = link.configuration
    if configuration.status != ReviewStatus.PUBLISHED:
        return
    publish_lock.check_delete(link)
    if not configuration.evidence_links.exclude(pk=link.pk).exists():
        raise exceptions.ValidationError(
            {"configuration": [f"'{configuration.slug}' is published and this is its only evidence link; "
                               "return it to draft before removing it."]}
        )


class EvidenceLinkViewSet(KBModelViewSet):
    """An excerpt's bearing (supports / challenges / illustrates) on one part (context / mechanism /
    outcome) of a configuration. Links to unpublished configurations are visible to evaluators only.
    Looked up by id; cursor-paginated by id."""

    lookup_field = "pk"
    filterset_class = EvidenceLinkFilterSet
    serializer_class = EvidenceLinkSerializer
    pagination_class = KBCursorPagination
    cursor_ordering = ("pk",)
    list_reads_rows = True  # cmo_kb/api.py ValuesRows: slugs and usernames, no Excerpt or User rows

    def get_queryset(self):
        return (
            EvidenceLink.objects.filter(configuration__in=visible_configurations(self.request))
            .select_related("excerpt", "configuration__programme", "created_by", "updated_by")
            .defer("excerpt__search_vector", "configuration__search_vector", "configuration__search_text")
        )

    def perform_destroy(self, instance):
        _guard_published_evidence(instance)
        instance.delete()
