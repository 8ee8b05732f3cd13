"""API resources of a programme's thematic coding (evidence/codes.py): /api/codes/ and /api/codings/.

Built like the other programme-owned resources (evidence/api.py): read by whoever may see the
programme (a private programme's codes and codings are its members'), written by its evaluators and
leads (403 naming the programme for anyone else, projects/membership.py), versioned (ETag, If-Match,
cmo_kb/concurrency.py). Codes have no slug: both resources are looked up by id, as evidence links are,
and a coding names its code by id. The model rules (a code under itself or under a code of another
programme, a coding of a group code or of an excerpt of another programme) are 422s naming the field.
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from cmo_kb.api import KBModelViewSet
from cmo_kb.filters import (
    LIST_NOTE,
    IntegerListFilter,
    KBFilterSet,
    SlugListFilter,
    StrictBooleanFilter,
    TextListFilter,
    _schema,
)
from cmo_kb.pagination import KBCursorPagination
from cmo_kb.serializer_fields import (
    KBModelSerializer,
    ProgrammeSlugMixin,
    StrictCharField,
    StrictSlugRelatedField,
    from_a_form,
    programme_field,
)
from cmo_kb.vocabulary import RULE
from evidence.codes import Code, Coding, normalise_guid
from evidence.models import EvidenceExcerpt, Source

# As the schema states them (JSON Schema's patterns are ECMA-262: no \Z, so no Python-only syntax).
COLOUR_PATTERN = r"^(#[0-9A-Fa-f]{6})?$"
MAX_ID = 2**63 - 1
_HEX_GUID = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
GUID_PATTERN = rf"^({_HEX_GUID}|\{{{_HEX_GUID}\}})$"  # in braces or without, not half


class StrictPrimaryKeyRelatedField(ProgrammeSlugMixin, serializers.PrimaryKeyRelatedField):
    """A row by id, as a JSON integer only: DRF's looked `true` up as id 1 and "7" as 7, which the
    schema (an integer) does not say. Rows of programmes the user cannot see are not found, and a
    programme's own rows only within the programme written in (ProgrammeSlugMixin): a 422 naming the
    field."""

    def to_internal_value(self, data):
        if (isinstance(data, bool) or not isinstance(data, int)) and not from_a_form(self):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, int) and not -MAX_ID <= data <= MAX_ID:
            # No row has it (ids are 64-bit); the database driver would overflow rather than miss.
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class GuidField(StrictCharField):
    """A REFI-QDA GUID, in upper or lower case, with or without braces: stored in lower case without
    them (evidence/codes.py normalise_guid)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 38)
        kwargs.setdefault("help_text", "A GUID (8-4-4-4-12 hexadecimal digits, braces and upper case accepted): "
                          "the REFI-QDA identifier kept from the project it came from. Default: a new one. "
                          "Set on creation only.")
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(GUID_PATTERN, "Not a GUID: write it as 8-4-4-4-12 hexadecimal digits, "
                                              "e.g. 2f1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d."))

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        guid = normalise_guid(value)
        if guid is None:  # (the pattern says as much; this keeps a stray brace out of the column)
            raise serializers.ValidationError(self.validators[-1].message, code="invalid")
        return guid


def _fixed_guid(serializer, value):
    """A stored row keeps the GUID it was made or imported with: REFI-QDA matches rows by it."""
    if serializer.instance is not None and value != serializer.instance.guid:
        raise serializers.ValidationError("The GUID of a stored row cannot change: REFI-QDA projects match rows by it.",
                                          code=RULE)
    return value


def _run_model_clean(probe):
    try:
        probe.clean()
    except DjangoValidationError as exc:
        raise serializers.ValidationError(get_error_detail(exc)) from None  # with the rule's code (422)


def group_code_refusal(code):
    """Why ``code`` cannot become a group code (not codable), or None: only codable codes are coded
    (evidence/codes.py Coding.clean), so a code with codings stays codable. One query."""
    count = code.codings.count() if code.pk else 0
    if count:
        return (f"Code '{code.name}' codes {count} excerpt{'s' if count > 1 else ''}: only codable codes are coded. "
                "Move or remove its codings first.")
    return None


AUDIT_FIELDS = ["created_by", "updated_by", "created_at", "updated_at"]


# --- Codes --------------------------------------------------------------------------------------------


class CodeSerializer(KBModelSerializer):
    """A code of a programme's code tree."""

    programme = programme_field(required=False, help_text="The programme whose code tree it belongs to (see "
                                "/api/programmes/); optional when you write in one programme only.")
    parent = StrictPrimaryKeyRelatedField(
        queryset=Code.objects.all(), allow_null=True, required=False,
        help_text="Id of the code it sits under (a code of the same programme), or null for a top-level code.")
    guid = GuidField()
    colour = StrictCharField(required=False, allow_blank=True, max_length=7,
                             validators=[RegexValidator(COLOUR_PATTERN, "Not a colour: write it as #RRGGBB, e.g. #2E7D32.")],
                             help_text="#RRGGBB, or empty.")
    created_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    updated_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    codings_url = serializers.SerializerMethodField(help_text="This code's codings in the API.")

    class Meta:
        model = Code
        fields = ["id", "programme", "parent", "guid", "name", "description", "colour", "codable", "order",
                  "codings_url", *AUDIT_FIELDS]
        read_only_fields = ["created_at", "updated_at"]

    def get_codings_url(self, obj) -> str:
        return f"/api/codings/?code={obj.pk}"

    def get_validators(self):
        return []  # the GUID once in a programme: validate() names the guid field

    def validate_guid(self, value):
        return _fixed_guid(self, value)

    def validate(self, attrs):
        instance = self.instance
        programme = attrs.get("programme", getattr(instance, "programme", None))
        guid = attrs.get("guid")
        if programme is not None and guid:
            twice = Code.objects.filter(programme=programme, guid=guid)
            if instance is not None:
                twice = twice.exclude(pk=instance.pk)
            if twice.exists():
                raise serializers.ValidationError({"guid": ["This programme already has a code with this GUID."]},
                                                  code="unique")
        if (instance is not None and programme is not None and programme.pk != instance.programme_id
                and (instance.children.exists() or instance.codings.exists())):
            raise serializers.ValidationError({"programme": [
                "A code with codings or codes under it stays in its programme: move or remove them first."]}, code=RULE)
        if instance is not None and attrs.get("codable") is False:
            refusal = group_code_refusal(instance)
            if refusal:
                raise serializers.ValidationError({"codable": [refusal]}, code=RULE)
        # The tree's rules are the model's (evidence/codes.py Code.clean): a 422 naming `parent`.
        probe = Code(pk=getattr(instance, "pk", None), programme=programme,
                     parent=attrs["parent"] if "parent" in attrs else getattr(instance, "parent", None))
        _run_model_clean(probe)
        return attrs


class CodeFilterSet(KBFilterSet):
    id = IntegerListFilter(field_name="pk", help_text="Code ids.")
    parent = IntegerListFilter(field_name="parent", help_text="Codes directly under these codes (ids).")
    root = StrictBooleanFilter(field_name="parent", lookup_expr="isnull",
                               help_text="true: top-level codes only; false: codes under another code only.")
    codable = StrictBooleanFilter(field_name="codable", help_text="true: codes text can be coded with; false: group codes.")
    name = TextListFilter(field_name="name", help_text="Part of the name.")
    # (?programme= is KBFilterSet's, as on every programme's list)

    class Meta:
        model = Code
        fields = []


class CodeViewSet(KBModelViewSet):
    """A programme's codes: a tree of any depth (`parent`, null at the top), brought from NVivo,
    ATLAS.ti, MAXQDA, QualCoder or Taguette (REFI-QDA) or made here. Read with the programme (a private
    programme's codes are its members'); written by its evaluators and leads. Looked up by id. A code
    that codings, codes under it or relations use cannot be deleted (409 naming them)."""

    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    lookup_field = "pk"
    serializer_class = CodeSerializer
    filterset_class = CodeFilterSet

    def get_queryset(self):
        # 1 query for the page (+ the COUNT): programme and users joined.
        return Code.objects.select_related("programme", "created_by", "updated_by").order_by("programme__slug", "order", "pk")


# --- Codings ------------------------------------------------------------------------------------------


class CoderFilter(TextListFilter):
    """Codings by these coders (usernames, exactly). Not a vocabulary: a coder is a person, and one
    who has coded nothing yet (or whose codings you cannot see) has no codings, an empty list rather
    than a 400 listing the accounts that have."""

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        django_filters.Filter.__init__(self, **kwargs)
        _schema(self, f"{description} {LIST_NOTE}", {"type": "string"})

    def filter(self, qs, value):
        return qs.filter(coder__username__in=value) if value else qs


class CodingSerializer(KBModelSerializer):
    """An excerpt coded with a code, by a coder, at a time."""

    excerpt = StrictSlugRelatedField(slug_field="slug", queryset=EvidenceExcerpt.objects.select_related("source").defer(
                                         "search_vector", "source__full_text"),
                                     help_text="Slug of the excerpt coded (an excerpt of the code's programme).")
    code = StrictPrimaryKeyRelatedField(queryset=Code.objects.all(),
                                        help_text="Id of the code (a codable code; see /api/codes/).")
    programme = programme_field(source="code.programme", read_only=True, help_text="The programme of the code.")
    coder = StrictSlugRelatedField(slug_field="username", read_only=True,
                                   help_text="Who coded it (username): the writer, for a coding made here.")
    guid = GuidField()
    created_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    updated_by = StrictSlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Coding
        fields = ["id", "excerpt", "code", "programme", "coder", "created", "guid", *AUDIT_FIELDS]
        read_only_fields = ["created", "created_at", "updated_at"]

    def get_validators(self):
        return []  # once per coder: validate() knows the coder and names the code

    def validate_guid(self, value):
        return _fixed_guid(self, value)

    def validate(self, attrs):
        instance = self.instance
        if instance is None:
            request = self.context.get("request")
            attrs["coder"] = getattr(request, "user", None)
        coder = attrs.get("coder", getattr(instance, "coder", None))
        excerpt = attrs.get("excerpt", getattr(instance, "excerpt", None))
        code = attrs.get("code", getattr(instance, "code", None))
        probe = Coding(pk=getattr(instance, "pk", None), excerpt=excerpt, code=code, coder=coder)
        _run_model_clean(probe)
        twice = Coding.objects.filter(excerpt=excerpt, code=code, coder=coder)
        if instance is not None:
            twice = twice.exclude(pk=instance.pk)
        if twice.exists():
            who = coder.get_username() if coder is not None else "An unknown coder"
            raise serializers.ValidationError({"code": [
                f"{who} has already coded excerpt '{excerpt.slug}' with code '{code.name}'."]}, code="unique")
        return attrs


class CodingFilterSet(KBFilterSet):
    id = IntegerListFilter(field_name="pk", help_text="Coding ids.")
    code = IntegerListFilter(field_name="code", help_text="Codings with these codes (ids; see /api/codes/).")
    excerpt = SlugListFilter(EvidenceExcerpt, noun="excerpt", field_name="excerpt", list_url="/api/excerpts/")
    source = SlugListFilter(Source, field_name="excerpt__source", list_url="/api/sources/",
                            help_text="Codings of the excerpts of these sources (slugs; see /api/sources/). Several "
                            "values: comma-separated or repeated; a row matches any of them.")
    coder = CoderFilter(field_name="coder", help_text="Codings by these coders (usernames, exactly; someone who "
                        "coded nothing you can see has none).")
    # (?programme= is KBFilterSet's: the code's programme)

    class Meta:
        model = Coding
        fields = []


class CodingViewSet(KBModelViewSet):
    """Codings: an excerpt coded with a code by a coder (REFI-QDA's <Coding> of a selection). Read with
    the programme; written by its evaluators and leads, each coding recorded as theirs (`coder`). The
    code must be codable and of the excerpt's programme (422 naming `code`); one coder codes an excerpt
    with a code once (409). Looked up by id, cursor-paginated by id."""

    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    lookup_field = "pk"
    serializer_class = CodingSerializer
    filterset_class = CodingFilterSet

    pagination_class = KBCursorPagination
    cursor_ordering = ("pk",)

    def get_queryset(self):
        # 1 query for the page (no COUNT with cursor pages): excerpt, code, programme, users joined.
        # Less the others' codings of a source whose coding is blind (evidence/blind_coding.py).
        from evidence.blind_coding import visible_codings

        return visible_codings(
            Coding.objects.select_related("excerpt", "code__programme", "coder", "created_by", "updated_by")
            .defer("excerpt__text", "excerpt__search_vector", "code__description"), self.request.user)

