"""Shared pieces of the REST API: filters that refuse bad values, pagination, CSV, permissions,
throttles and error handling. The resources live in projects/api.py, mechanisms/api.py and
evidence/api.py; the router in cmo_kb/api_urls.py.

Conventions every resource follows (and the OpenAPI description repeats):
- A filter takes several values, comma-separated (``team=camhs,pathway``) or repeated
  (``team=camhs&team=pathway``); a row matches any of them. Different filters combine with AND.
- A bad value (unknown slug, bad choice, malformed number or date, unknown parameter) is a 400 whose
  body maps the parameter to what was wrong and what it accepts: ``{"team": ["Unknown team 'x'.
  Accepted: camhs, mums-power, …."]}``. Never an empty 200, never a 500.
"""

import csv
import io
import json
from datetime import datetime, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.dateparse import parse_datetime
from django.utils.encoding import force_str
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import set_override
from rest_framework import exceptions, permissions, renderers, serializers, status, throttling, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings

from cmo_kb.concurrency import VersionedWritesMixin
from cmo_kb.tokens import token_grantable_users
from cmo_kb.vocabulary import user_is_evaluator

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

# --- Query parameters holding several values --------------------------------------------------


class ListWidget(forms.TextInput):
    """Reads ``p=a,b`` and ``p=a&p=b`` (and both mixed) as ['a', 'b']; blanks and repeats dropped.
    Rendered (in the browsable API's filter form) as one text box holding the comma list."""

    def format_value(self, value):
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        return super().format_value(value)

    def value_from_datadict(self, data, files, name):
        raw = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        values = []
        for chunk in raw:
            for value in (chunk or "").split(","):
                value = value.strip()
                if value and value not in values:
                    values.append(value)
        return values

    def value_omitted_from_data(self, data, files, name):
        return name not in data


class ListField(forms.Field):
    widget = ListWidget

    def __init__(self, *, parse=None, **kwargs):
        self.parse = parse
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        values = list(value or [])
        return [self.parse(v) for v in values] if self.parse else values


def _accepts(values, limit=40):
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown + (f" (and {len(values) - limit} more)" if len(values) > limit else "") if values else "(none yet)"


def _schema(filter_, description, items, *, array=True):
    filter_.extra["help_text"] = description
    schema = {"type": "array", "items": items} if array else dict(items)
    schema["description"] = description
    set_override(filter_, "field", schema)


LIST_NOTE = "Several values: comma-separated or repeated; a row matches any of them."


class SlugListFilter(django_filters.Filter):
    """Rows related (through ``field_name``) to any of the given slugs of ``model``.

    Unknown slugs are a 400 listing the accepted ones. ``queryset`` (callable taking the request, or a
    queryset) limits which rows count as known, e.g. configurations the user may see.
    """

    field_class = ListField

    def __init__(self, model, *, noun=None, slug_field="slug", queryset=None, list_url=None, **kwargs):
        # (not self.model: FilterSet.__init__ sets that to the filtered model on every filter)
        self.vocabulary = model
        self.noun = noun or model._meta.verbose_name
        self.slug_field = slug_field
        self.queryset = queryset
        super().__init__(**kwargs)
        where = f" (see {list_url})" if list_url else ""
        _schema(self, kwargs.pop("help_text", None) or f"Slug of a {self.noun}{where}. {LIST_NOTE}", {"type": "string"})

    def known_queryset(self):
        qs = self.queryset
        if callable(qs):
            qs = qs(getattr(self.parent, "request", None))
        return qs if qs is not None else self.vocabulary._default_manager.all()

    def filter(self, qs, value):
        if not value:
            return qs
        self.validate(value)
        return self.apply(qs, value)

    def validate(self, value):
        known = self.known_queryset()
        found = set(known.filter(**{f"{self.slug_field}__in": value}).values_list(self.slug_field, flat=True))
        missing = [v for v in value if v not in found]
        if missing:
            accepted = known.order_by(self.slug_field).values_list(self.slug_field, flat=True)
            raise exceptions.ValidationError(
                {
                    self.field_name_param: [
                        f"Unknown {self.noun} {', '.join(repr(m) for m in missing)}. Accepted: {_accepts(accepted)}."
                    ]
                }
            )

    @property
    def field_name_param(self):
        return self.parent_param or self.field_name

    parent_param = None

    def apply(self, qs, value):
        related = qs.model._default_manager.filter(**{f"{self.field_name}__{self.slug_field}__in": value})
        return qs.filter(pk__in=related.values("pk"))


class ChoiceListFilter(django_filters.Filter):
    """Rows whose ``field_name`` is any of the given choices."""

    field_class = ListField

    def __init__(self, choices, **kwargs):
        self.choice_values = [str(value) for value, _ in choices]
        self.choice_labels = dict((str(v), str(label)) for v, label in choices)
        param_help = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        choice_text = "; ".join(f"`{v}`: {self.choice_labels[v]}" for v in self.choice_values)
        _schema(self, f"{param_help} One of: {choice_text}. {LIST_NOTE}".strip(), {"type": "string", "enum": self.choice_values})

    def filter(self, qs, value):
        if not value:
            return qs
        bad = [v for v in value if v not in self.choice_values]
        if bad:
            raise exceptions.ValidationError(
                {self.parent_param or self.field_name: [
                    f"{', '.join(repr(b) for b in bad)} is not a valid choice. Accepted: {', '.join(self.choice_values)}."
                ]}
            )
        return qs.filter(**{f"{self.field_name}__in": value})

    parent_param = None


MAX_WHOLE_NUMBER = 2**63 - 1


def _whole_number(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise forms.ValidationError(f"{value!r} is not a whole number. Accepted: whole numbers such as 1 or 1,2,3.")
    if number < 0:
        raise forms.ValidationError(f"{value!r} is negative. Accepted: whole numbers of 0 or more.")
    if number > MAX_WHOLE_NUMBER:
        # Past a 64-bit integer the database driver overflows (a 500) rather than matching nothing.
        raise forms.ValidationError(f"{value!r} is too large. Accepted: whole numbers up to {MAX_WHOLE_NUMBER}.")
    return number


class IntegerListFilter(django_filters.Filter):
    """Rows whose ``field_name`` is any of the given whole numbers."""

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "Whole numbers.")
        super().__init__(**kwargs)
        self.extra["parse"] = _whole_number
        _schema(self, f"{description} {LIST_NOTE}", {"type": "integer", "minimum": 0})

    field_class = ListField

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _boolean(value):
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise forms.ValidationError(f"{value!r} is not a boolean. Accepted: true or false (also 1/0, yes/no).")


class StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        return _boolean(value)


class StrictBooleanFilter(django_filters.Filter):
    """true/false; anything else is a 400 (django-filter's own BooleanFilter ignores bad values)."""

    field_class = StrictBooleanField

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        _schema(self, f"{description} true or false (also 1/0, yes/no).".strip(), {"type": "boolean"}, array=False)


MAX_UTC_OFFSET = timedelta(hours=14)  # the world's offsets run from -12:00 to +14:00


class DateTimeField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise forms.ValidationError(
                    f"{value!r} is not a date or date-time. Accepted: ISO 8601, e.g. 2014-06-01 or 2014-06-01T12:00:00Z."
                ) from None
        from datetime import timezone as tz

        from django.utils import timezone

        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError(
                f"{value!r} has no real UTC offset. Accepted: an offset from -14:00 to +14:00, or Z."
            )
        try:
            if parsed.tzinfo is None:
                parsed = timezone.make_aware(parsed)
            # Sent to the database in UTC: PostgreSQL refuses offsets beyond ±15:59 ("time zone
            # displacement out of range"), and a moment outside years 1-9999 in UTC overflows here.
            parsed = parsed.astimezone(tz.utc)
        except (OverflowError, ValueError):
            raise forms.ValidationError(
                f"{value!r} is out of range. Accepted: a date-time between 0001-01-02 and 9999-12-30 (UTC)."
            ) from None
        return parsed


class DateTimeFilter(django_filters.Filter):
    field_class = DateTimeField

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        _schema(self, f"{description} ISO 8601 date or date-time.".strip(), {"type": "string", "format": "date-time"}, array=False)


class TextListFilter(django_filters.Filter):
    """Rows whose ``field_name`` contains any of the given strings (case-insensitive)."""

    field_class = ListField

    def __init__(self, **kwargs):
        description = kwargs.pop("help_text", "")
        super().__init__(**kwargs)
        _schema(self, f"{description} Case-insensitive substring. {LIST_NOTE}".strip(), {"type": "string"})

    def filter(self, qs, value):
        if not value:
            return qs
        from django.db.models import Q

        condition = Q()
        for text in value:
            condition |= Q(**{f"{self.field_name}__icontains": text})
        return qs.filter(condition)


class SearchParamFilter(django_filters.Filter):
    """Full-text search (evidence/search.py); results come best first, each with rank and snippet."""

    field_class = forms.CharField

    def __init__(self, search, **kwargs):
        self.search = search
        super().__init__(**kwargs)
        _schema(
            self,
            "Full-text search. On PostgreSQL: stemmed English words, all required; \"quoted phrase\", "
            "`a OR b`, `-word` to exclude; results ranked best first with a highlighted `snippet` "
            "(HTML: escaped text with <mark> around matches). On SQLite (development) a plain "
            "case-insensitive contains match of every term.",
            {"type": "string"},
            array=False,
        )

    def filter(self, qs, value):
        if not value or not value.strip():
            return qs
        from evidence.search import SearchQueryError

        try:
            return self.search(qs, value)
        except SearchQueryError as exc:
            raise exceptions.ValidationError({self.parent_param or self.field_name: [str(exc)]}) from None

    parent_param = None


class KBFilterSet(django_filters.FilterSet):
    """Gives each filter its parameter name for error messages, and the request to querysets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, filter_ in self.filters.items():
            filter_.parent_param = name

    @property
    def search_active(self):
        return bool(self.form.cleaned_data.get("search")) if hasattr(self.form, "cleaned_data") else False


# --- Filter backend: every query parameter is known ---------------------------------------------

COMMON_PARAMS = {"format", "page_size", "cursor", "page", "view"}


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, plus a 400 for parameters nobody reads (a typo would otherwise give every row)."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        allowed = set(COMMON_PARAMS) | set(getattr(view, "extra_query_params", ()))
        if filterset is not None:
            allowed |= set(filterset.filters)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise exceptions.ValidationError(
                {name: [f"Unknown query parameter. Accepted: {', '.join(sorted(allowed))}."] for name in unknown}
            )
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise exceptions.ValidationError({k: list(v) for k, v in filterset.errors.items()})
        view.filterset = filterset
        return filterset.qs


# --- Pagination -------------------------------------------------------------------------------


def page_size_from(request, default=DEFAULT_PAGE_SIZE):
    raw = request.query_params.get("page_size")
    if raw in (None, ""):
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise exceptions.ValidationError(
            {"page_size": [f"{raw!r} is not a page size. Accepted: a whole number from 1 to {MAX_PAGE_SIZE}."]}
        )
    return size


class KBPaginationMixin:
    """What both kinds of pages share: ``page_size`` from 1 to MAX_PAGE_SIZE (a 400 otherwise), a 404
    naming the parameter for a page that does not exist (``invalid_page_error``: a page past the last,
    a cursor no page gave; well-formed, so not a 400), and the next/previous links also as an HTTP
    Link header, so CSV pages can be followed."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    invalid_page_error = {}

    def get_page_size(self, request):
        return page_size_from(request, self.page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {"page": {"minimum": 1}, "page_size": {"minimum": 1, "maximum": MAX_PAGE_SIZE}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
            if parameter["name"] == "page_size":
                parameter["description"] = f"Results per page, 1 to {MAX_PAGE_SIZE} (default {self.page_size})."
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self.validate_page_parameter(request)
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            raise exceptions.NotFound(self.invalid_page_error)

    def validate_page_parameter(self, request):
        """A 400 for a page parameter that is malformed (rather than pointing nowhere)."""

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        links = [f'<{url}>; rel="{rel}"' for rel, url in (("next", self.get_next_link()), ("prev", self.get_previous_link())) if url]
        if links:
            response["Link"] = ", ".join(links)
        return response


class KBCursorPagination(KBPaginationMixin, CursorPagination):
    """Cursor pages: a deep page costs what the first costs (keyset, no OFFSET, no COUNT).

    Ordered by ``slug`` (configurations) or ``source, start`` … see each view's ``cursor_ordering``;
    search results by rank, best first.
    """

    ordering = "pk"
    invalid_page_error = {"cursor": ["Invalid cursor. Accepted: the `next` or `previous` link of a page."]}

    def get_ordering(self, request, queryset, view):
        filterset = getattr(view, "filterset", None)
        if filterset is not None and getattr(filterset, "search_active", False):
            return ("-rank", "pk")
        return getattr(view, "cursor_ordering", ("pk",))

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        result["properties"]["next"]["description"] = "URL of the next page, or null on the last page."
        return result


class KBPageNumberPagination(KBPaginationMixin, PageNumberPagination):
    """Numbered pages for the small vocabularies (they have a count)."""

    invalid_page_error = {"page": ["No such page. Accepted: a page number from 1 to the last page."]}

    def validate_page_parameter(self, request):
        raw = request.query_params.get(self.page_query_param)
        if raw in (None, "") or raw == "last":
            return
        if not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError(
                {self.page_query_param: [f"{raw!r} is not a page number. Accepted: a whole number from 1 to the last page."]}
            )


# --- CSV ----------------------------------------------------------------------------------------


def _flatten(value, prefix, row):
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else key, row)
    elif isinstance(value, (list, tuple)):
        parts = []
        for item in value:
            if isinstance(item, dict):
                parts.append(str(item.get("slug") or item.get("key") or item.get("excerpt") or json.dumps(item, ensure_ascii=False)))
            else:
                parts.append("" if item is None else str(item))
        row[prefix] = "; ".join(parts)
    else:
        row[prefix] = "" if value is None else value


# A spreadsheet runs a cell that begins with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text_cell(value):
    """An error cell echoes the request (an unknown parameter's name): a leading apostrophe keeps a
    crafted link's "=HYPERLINK(...)" text in a spreadsheet. Data cells are not changed: evaluators
    write them, and excerpt text must stay verbatim for the scripts that read it."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CSVRenderer(renderers.BaseRenderer):
    """``?format=csv`` on every list: one row per result, nested objects as dotted columns
    (``mechanism.slug``), lists joined with "; " (objects by their slug). Paginated like JSON: the
    next page's URL is in the Link header."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        elif isinstance(data, dict) and "csv_rows" in data:
            data = data["csv_rows"]
        elif isinstance(data, dict):
            # an error body or a single object: one row per field
            if all(isinstance(v, list) for v in data.values()) and data:
                data = [{"parameter": _as_text_cell(k), "error": _as_text_cell(" ".join(map(str, v)))}
                        for k, v in data.items()]
            else:
                data = [data]
        rows, header = [], []
        for item in data:
            row = {}
            _flatten(item, "", row)
            for key in row:
                if key not in header:
                    header.append(key)
            rows.append(row)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode(self.charset)


# --- Permissions and throttles ----------------------------------------------------------------


class IsEvaluatorOrReadOnly(permissions.BasePermission):
    """Anyone reads (what they may see is decided by the queryset); only evaluators write."""

    message = "Only evaluators can change the knowledge base; analysts and anonymous clients read."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return request_is_evaluator(request)


def _rate(scope):
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


class AnonThrottle(throttling.AnonRateThrottle):
    """Anonymous clients, by IP; the rate is REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['anon'],
    read at request time so settings overrides (tests, env) take effect."""

    def get_rate(self):
        return _rate(self.scope)


class UserThrottle(throttling.UserRateThrottle):
    """Signed-in clients (token or session), by user; rate from DEFAULT_THROTTLE_RATES['user']."""

    def get_rate(self):
        return _rate(self.scope)


# --- Errors -------------------------------------------------------------------------------------


def exception_handler(exc, context):
    """DRF's handler, plus model-level errors turned into 4xx instead of 500s.

    - django ValidationError (model clean/save, e.g. the verbatim rule) -> 400 {field: [message]}
    - ProtectedError/RestrictedError on delete -> 409 with what still depends on the object
    - IntegrityError (a constraint the serializer did not catch) -> 409
    - the publish lock (mechanisms/publish_lock.py) -> 403 naming the published configurations
    """
    from mechanisms.publish_lock import PublishedKnowledgeLocked

    if isinstance(exc, PublishedKnowledgeLocked):
        return Response({"detail": exc.message, "configurations": exc.slugs}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        objs = list(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)
        return Response(
            {
                "detail": "Cannot delete: other records depend on it. Remove or reassign them first.",
                "dependents": [f"{o._meta.verbose_name}: {force_str(o)}" for o in objs[:50]],
            },
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, IntegrityError):
        return Response({"detail": f"Conflicts with an existing record: {exc}"}, status=status.HTTP_409_CONFLICT)
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


class WriteRecordsUserMixin:
    """Writes record who made them: created_by/updated_by on curated models; simple_history takes the
    user from the request (HistoryRequestMiddleware; DRF sets request.user for token auth too)."""

    def _user_fields(self, serializer, creating):
        model = serializer.Meta.model
        names = {f.name for f in model._meta.get_fields()}
        fields = {}
        if "updated_by" in names:
            fields["updated_by"] = self.request.user
        if creating and "created_by" in names:
            fields["created_by"] = self.request.user
        return fields

    # Atomic: a write refused halfway (the publish lock on a many-to-many set after the row's own
    # save, say) leaves nothing behind.
    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save(**self._user_fields(serializer, creating=True))

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save(**self._user_fields(serializer, creating=False))

    def destroy(self, request, *args, **kwargs):
        # A savepoint: the publish lock refuses a delete inside Django's own atomic(savepoint=False)
        # block, which would otherwise leave an enclosing transaction unusable.
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)


# --- Base viewset and vocabulary helpers -------------------------------------------------------


class VocabularyFilterSet(KBFilterSet):
    name = TextListFilter(field_name="name", help_text="Part of the name.")


API_RENDERERS = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]
API_THROTTLES = [AnonThrottle, UserThrottle]


class FormatNegotiation(DefaultContentNegotiation):
    """?format=xml is a 400 naming the formats on offer (DRF's own answer is a bare 404)."""

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            raise exceptions.ValidationError(
                {"format": [f"{format!r} is not a format. Accepted: {', '.join(r.format for r in renderers)}."]}
            )
        return matching


class KBAPIDefaults:
    """What every API view uses (see the note on REST_FRAMEWORK in settings for why not DEFAULT_*)."""

    permission_classes = [IsEvaluatorOrReadOnly]
    filter_backends = [StrictFilterBackend]
    pagination_class = KBPageNumberPagination
    renderer_classes = API_RENDERERS
    throttle_classes = API_THROTTLES
    content_negotiation_class = FormatNegotiation


class KBModelViewSet(KBAPIDefaults, VersionedWritesMixin, WriteRecordsUserMixin, viewsets.ModelViewSet):
    """Slug lookups, evaluator-only writes, strict filters, numbered pages (cursor pages where a view
    sets pagination_class = KBCursorPagination), ETags and If-Match (cmo_kb/concurrency.py)."""

    lookup_field = "slug"


class SearchHitSerializerMixin(serializers.Serializer):
    """`rank` and `snippet` of a ?search= hit; absent from the representation without a search."""

    rank = serializers.FloatField(read_only=True, required=False, help_text="Only with ?search=: higher is better.")
    snippet = serializers.CharField(read_only=True, required=False, help_text="Only with ?search=: HTML with <mark>.")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not hasattr(instance, "rank"):
            data.pop("rank", None)
            data.pop("snippet", None)
        return data


VOCABULARY_FIELDS = ["slug", "name", "description", "order"]


def vocabulary_serializer(model, extra_fields=(), **declared):
    """A ModelSerializer for a VocabularyTerm subclass: slug, name, description, order (+ extras)."""
    meta = type("Meta", (), {"model": model, "fields": VOCABULARY_FIELDS + list(extra_fields)})
    attrs = {"Meta": meta, "__doc__": model.__doc__, **declared}
    return type(f"{model.__name__}Serializer", (serializers.ModelSerializer,), attrs)


def request_is_evaluator(request):
    """user_is_evaluator(request.user), computed once per request (it costs a query)."""
    if request is None:
        return False
    cached = getattr(request, "_kb_is_evaluator", None)
    if cached is None:
        cached = user_is_evaluator(request.user)
        request._kb_is_evaluator = cached
    return cached


def visible_configurations(request):
    """Configurations this request may see: published for everyone, all for evaluators."""
    from mechanisms.models import CMOConfiguration

    qs = CMOConfiguration.objects.all()
    return qs if request_is_evaluator(request) else qs.published()


# --- OpenAPI: KBAutoSchema, ExportDownloadSchema and filter_parameters live in cmo_kb/openapi.py ---

from cmo_kb.openapi import ExportDownloadSchema, KBAutoSchema, filter_parameters  # noqa: E402,F401


# --- Tokens -------------------------------------------------------------------------------------

from django.contrib.auth import get_user_model  # noqa: E402
from drf_spectacular.utils import extend_schema, inline_serializer  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.authtoken.views import ObtainAuthToken  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for your API token (created on first use).

    Send it as ``Authorization: Token <key>``. Analysts read with it; evaluators also write.

    After several wrong passwords in a row the account is locked: the answer is a 429 whose
    ``detail`` says for how long (see also its Retry-After header), even for the right password.
    """

    throttle_classes = [AnonThrottle, UserThrottle]
    # DRF's own list names its JSONParser, which turns a too-deep body into a 500.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    def get_serializer_context(self):
        # django-axes counts failures on, and flags a lockout on, Django's HttpRequest; DRF's Request
        # wrapper would keep the flag to itself and the lockout answer (cmo_kb/lockout.py) never come.
        return {**super().get_serializer_context(), "request": self.request._request}

    @extend_schema(
        request=inline_serializer("TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class IssueTokenView(KBAPIDefaults, APIView):
    """Evaluators issue (or look up) the API token of a read-only account, e.g. an analyst's, or
    their own; superusers of any account (cmo_kb/tokens.py).

    (Tokens can also be issued in the admin, under Auth Token.)"""

    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer]

    @extend_schema(
        request=inline_serializer("IssueTokenRequest", {"username": serializers.CharField()}),
        responses={200: inline_serializer("IssuedToken", {"username": serializers.CharField(), "token": serializers.CharField()}),
                   403: None, 400: None},
    )
    def post(self, request):
        if not request_is_evaluator(request):
            raise exceptions.PermissionDenied("Only evaluators can issue tokens for other accounts.")
        username = request.data.get("username")
        if not username:
            raise exceptions.ValidationError({"username": ["This field is required."]})
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise exceptions.ValidationError({"username": [f"No active account is called {username!r}."]})
        if not token_grantable_users(request.user).filter(pk=user.pk).exists():
            raise exceptions.PermissionDenied(
                f"Evaluators issue tokens for themselves and for read-only accounts such as analysts, "
                f"not for {username!r}: its token would act with more rights than yours."
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"username": user.username, "token": token.key})


class MeView(KBAPIDefaults, APIView):
    """Who the API thinks you are, and what you may do."""

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "username": serializers.CharField(allow_null=True),
                "authenticated": serializers.BooleanField(),
                "evaluator": serializers.BooleanField(help_text="Sees drafts and writes."),
                "lead": serializers.BooleanField(help_text="Also publishes."),
            },
        )
    )
    def get(self, request):
        from cmo_kb.vocabulary import user_is_lead

        user = request.user
        return Response(
            {
                "username": user.username if user.is_authenticated else None,
                "authenticated": user.is_authenticated,
                "evaluator": request_is_evaluator(request),
                "lead": user_is_lead(user),
            }
        )


# --- Documentation pages -----------------------------------------------------------------------

