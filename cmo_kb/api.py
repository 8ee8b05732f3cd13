"""The REST API's base viewset and what every resource shares. The resources live in
projects/api.py, mechanisms/api.py and evidence/api.py; the router in cmo_kb/api_urls.py. The shared
pieces each have a module: filters (cmo_kb/filters.py), pages (pagination.py), formats (renderers.py),
permissions, throttles, the error handler (errors.py), tokens (token_views.py), the schema (openapi.py).

The conventions every resource follows (several values per filter, 400s that name the parameter)
are in cmo_kb/filters.py.
"""


from django.db import transaction
from rest_framework import exceptions, serializers, viewsets
from rest_framework.response import Response

from cmo_kb.concurrency import VersionedWritesMixin
from cmo_kb.csv_export import CSVExportMixin
from cmo_kb.filters import StrictFilterBackend
from cmo_kb.pagination import KBPageNumberPagination
from cmo_kb.permissions import IsEvaluatorOrReadOnly
from cmo_kb.renderers import API_RENDERERS, FormatNegotiation
from cmo_kb.serializer_fields import KBModelSerializer, StrictCharField
from cmo_kb.throttles import API_THROTTLES, ThrottledViewMixin


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
        # A write that changes nothing (an empty PATCH, or the stored values sent back) saves nothing:
        # no updated_by/updated_at stamp, no history record claiming a change.
        if changes_nothing(serializer):
            return
        with transaction.atomic():
            serializer.save(**self._user_fields(serializer, creating=False))

    def destroy(self, request, *args, **kwargs):
        # A savepoint: the publish lock refuses a delete inside Django's own atomic(savepoint=False)
        # block, which would otherwise leave an enclosing transaction unusable.
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)




def changes_nothing(serializer):
    """Whether every validated value equals the stored one (costs a query per many-to-many field
    sent). Nested rows (a configuration's Wish shifts, its ordered pathways) always count as a change."""
    from django.core.exceptions import FieldDoesNotExist

    instance = serializer.instance
    for name, value in serializer.validated_data.items():
        try:
            field = instance._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if field.many_to_many:
            if not field.remote_field.through._meta.auto_created:
                return False  # a list with its own rows (ordered pathways): compared by its writer
            stored = set(getattr(instance, name).values_list("pk", flat=True))
            if {getattr(item, "pk", item) for item in value} != stored:
                return False
        elif not field.concrete or getattr(instance, field.name) != value:
            return False
    return True


# --- Lists read as rows ----------------------------------------------------------------------------


class _Row:
    """A values() row seen as an object, for a SerializerMethodField (it sees the row's columns only)."""

    def __init__(self, row):
        self.__dict__.update(row)


class ValuesRows:
    """A list serializer's representation built from values() rows instead of model instances, for
    serializers whose every field is one of: a model column (its DRF field formats the value), a
    foreign key's slug (SlugRelatedField), a list of related slugs (SlugRelatedField many=True), a
    list of owned rows (a nested many=True ModelSerializer over a reverse foreign key, whose own
    fields follow these rules), a foreign key's id (PrimaryKeyRelatedField), or a SerializerMethodField (called with the row). Each list is one
    more query, in the related model's ordering, as prefetch_related gives.
    ``ValuesRows.of(serializer_class)`` is None for any other serializer, whose list keeps the
    instances.

    Why: a vocabulary list of a few rows spent more on building the serializer's fields, model
    instances and prefetch querysets than on its SQL (the benchmark's vocabulary floors are under
    a millisecond); the same serializer fields format the values, so the JSON is the same
    (tests/api/test_resources.py compares every such list with its serializer)."""

    _plans = {}

    @classmethod
    def of(cls, serializer_class):
        if serializer_class not in cls._plans:
            cls._plans[serializer_class] = cls._plan(serializer_class)
        return cls._plans[serializer_class]

    @classmethod
    def _plan(cls, serializer_class):
        from django.core.exceptions import FieldDoesNotExist
        from rest_framework.relations import ManyRelatedField, PrimaryKeyRelatedField, SlugRelatedField

        if getattr(serializer_class, "evaluator_only_fields", ()):
            return None  # its fields depend on who asks; the plan is made once
        model = serializer_class.Meta.model
        serializer = serializer_class(context={"request": None})
        plan = cls()
        plan.model, plan.serializer, plan.fields, plan.columns, plan.many, plan.nested = model, serializer, [], ["pk"], {}, {}
        for name, field in serializer.fields.items():
            if field.write_only:
                continue
            if isinstance(field, serializers.SerializerMethodField):
                plan.fields.append((name, "method", getattr(serializer, field.method_name)))
                continue
            if len(field.source_attrs) > 1 and isinstance(field, SlugRelatedField) and field.read_only:
                # A slug reached through foreign keys (an excerpt's programme, through its source).
                column = "__".join([*field.source_attrs, field.slug_field])
                plan.columns.append(column)
                plan.fields.append((name, "column", (column, None)))
                continue
            if len(field.source_attrs) != 1:
                return None
            if isinstance(field, serializers.ListSerializer) and isinstance(field.child, serializers.ModelSerializer):
                # Rows owned through a foreign key (a team's key figures): one query, rows in turn.
                reverse = [rel for rel in model._meta.related_objects
                           if rel.one_to_many and rel.get_accessor_name() == field.source]
                child = cls.of(type(field.child))
                if not reverse or child is None:
                    return None
                plan.nested[name] = (reverse[0].field, child)
                plan.fields.append((name, "nested", None))
                continue
            try:
                model_field = model._meta.get_field(field.source)
            except FieldDoesNotExist:
                return None
            if isinstance(field, ManyRelatedField) and isinstance(field.child_relation, SlugRelatedField):
                if model_field.auto_created and not model_field.concrete:
                    back = model_field.field.name  # a reverse foreign key or many-to-many
                elif model_field.many_to_many:
                    back = model_field.related_query_name()
                else:
                    return None
                plan.many[name] = (model_field.related_model, back, field.child_relation.slug_field)
                plan.fields.append((name, "many", None))
            elif isinstance(field, SlugRelatedField) and model_field.many_to_one and model_field.concrete:
                column = f"{field.source}__{field.slug_field}"
                plan.columns.append(column)
                plan.fields.append((name, "column", (column, None)))
            elif isinstance(field, PrimaryKeyRelatedField) and model_field.many_to_one and model_field.concrete:
                plan.columns.append(model_field.attname)  # the foreign key's own column (a code's parent id)
                plan.fields.append((name, "column", (model_field.attname, None)))
            elif not model_field.is_relation and model_field.concrete and not isinstance(
                field, (serializers.Serializer, serializers.ListSerializer, serializers.RelatedField)
            ):
                plan.columns.append(model_field.attname)
                plan.fields.append((name, "column", (model_field.attname, field.to_representation)))
            else:
                return None
        plan.columns = list(dict.fromkeys(plan.columns))
        return plan

    def queryset(self, queryset):
        return queryset.prefetch_related(None).values(*self.columns)

    def represent(self, rows):
        """The serializer's representation of ``rows`` (dicts from queryset()): one query per list
        of related slugs."""
        ids = [row["pk"] for row in rows]
        many = {}
        for name, (related, back, slug_field) in self.many.items():
            grouped = many[name] = {}
            if ids:
                for pk, slug in related._default_manager.filter(**{f"{back}__in": ids}).values_list(back, slug_field):
                    grouped.setdefault(pk, []).append(slug)
        for name, (foreign_key, child) in self.nested.items():
            grouped = many[name] = {}
            if ids:
                child_rows = list(foreign_key.model._default_manager.filter(**{f"{foreign_key.name}__in": ids})
                                  .values(foreign_key.attname, *child.columns))
                for child_row, item in zip(child_rows, child.represent(child_rows)):
                    grouped.setdefault(child_row[foreign_key.attname], []).append(item)
        data = []
        for row in rows:
            item = {}
            for name, kind, how in self.fields:
                if kind == "column":
                    column, represent = how
                    value = row[column]
                    item[name] = value if value is None or represent is None else represent(value)
                elif kind in ("many", "nested"):
                    item[name] = many[name].get(row["pk"], [])
                else:
                    item[name] = how(_Row(row))
            data.append(item)
        return data


class RowsListMixin:
    """A list read as rows (ValuesRows) where the view sets ``list_reads_rows`` and its list
    serializer allows it: 1 query for the rows (+ the page's COUNT), 1 per list of related slugs."""

    list_reads_rows = False

    def list(self, request, *args, **kwargs):
        plan = ValuesRows.of(self.get_serializer_class()) if self.list_reads_rows else None
        if plan is None:
            return super().list(request, *args, **kwargs)
        queryset = self.filter_queryset(plan.queryset(self.get_queryset()))
        page = self.paginate_queryset(queryset)
        if page is None:
            return Response(plan.represent(list(queryset)))
        return self.get_paginated_response(plan.represent(page))


class KBAPIDefaults(ThrottledViewMixin):
    """What every API view uses (see the note on REST_FRAMEWORK in settings for why not DEFAULT_*);
    its throttles count a request in one query (cmo_kb/throttles.py)."""

    permission_classes = [IsEvaluatorOrReadOnly]
    filter_backends = [StrictFilterBackend]
    pagination_class = KBPageNumberPagination
    renderer_classes = API_RENDERERS
    throttle_classes = API_THROTTLES
    content_negotiation_class = FormatNegotiation


class AmbiguousSlug(exceptions.APIException):
    """Several rows the user may see have the slug a detail URL names (terms of two programmes)."""

    status_code = 409
    default_code = "ambiguous"


class ProgrammeScopedMixin:
    """What a viewset reads is what the user may see of the programmes (projects/membership.py):
    a private programme's rows are absent from lists and a 404 alone. A programme's own terms have
    slugs unique within it: a detail by a slug two visible programmes share is a 409 naming them and
    asking for ?programme= (the request is well formed; what is stored makes it ambiguous)."""

    def filter_queryset(self, queryset):
        from projects.membership import scope

        return super().filter_queryset(scope(queryset, self.request.user))

    def get_object(self):
        from django.core.exceptions import MultipleObjectsReturned

        try:
            return super().get_object()
        except MultipleObjectsReturned:
            slug = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
            programmes = sorted(self.filter_queryset(self.get_queryset()).filter(**{self.lookup_field: slug})
                                .values_list("programme__slug", flat=True))
            raise AmbiguousSlug({"programme": [
                f"Several programmes have a {self.get_queryset().model._meta.verbose_name} '{slug}' "
                f"({', '.join(programmes)}): say which with ?programme=."
            ]}) from None


class KBModelViewSet(KBAPIDefaults, ProgrammeScopedMixin, RowsListMixin, CSVExportMixin, VersionedWritesMixin,
                     WriteRecordsUserMixin, viewsets.ModelViewSet):
    """Slug lookups, evaluator-only writes, strict filters, numbered pages (cursor pages where a view
    sets pagination_class = KBCursorPagination), ETags and If-Match (cmo_kb/concurrency.py), and
    /export/: every row of the list as one streamed CSV (cmo_kb/csv_export.py); rows of the
    programmes the user may see (ProgrammeScopedMixin)."""

    lookup_field = "slug"


class SearchHitSerializerMixin(serializers.Serializer):
    """`rank` and `snippet` of a ?search= hit; absent from the representation without a search."""

    rank = serializers.FloatField(read_only=True, required=False, help_text="Only with ?search=: higher is better.")
    snippet = StrictCharField(read_only=True, required=False, help_text="Only with ?search=: HTML with <mark>.")

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
    return type(f"{model.__name__}Serializer", (KBModelSerializer,), attrs)

