"""The REST API's base viewset and what every resource shares. The resources live in
projects/api.py, mechanisms/api.py and evidence/api.py; the router in cmo_kb/api_urls.py. The shared
pieces each have a module: filters (cmo_kb/filters.py), pages (pagination.py), formats (renderers.py),
permissions, throttles, the error handler (errors.py), tokens (token_views.py), the schema (openapi.py).

The conventions every resource follows (several values per filter, 400s that name the parameter)
are in cmo_kb/filters.py.
"""


from django.db import transaction
from rest_framework import serializers, viewsets

from cmo_kb.concurrency import VersionedWritesMixin
from cmo_kb.csv_export import CSVExportMixin
from cmo_kb.filters import StrictFilterBackend
from cmo_kb.pagination import KBPageNumberPagination
from cmo_kb.permissions import IsEvaluatorOrReadOnly
from cmo_kb.renderers import API_RENDERERS, FormatNegotiation
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


class KBAPIDefaults(ThrottledViewMixin):
    """What every API view uses (see the note on REST_FRAMEWORK in settings for why not DEFAULT_*);
    its throttles count a request in one query (cmo_kb/throttles.py)."""

    permission_classes = [IsEvaluatorOrReadOnly]
    filter_backends = [StrictFilterBackend]
    pagination_class = KBPageNumberPagination
    renderer_classes = API_RENDERERS
    throttle_classes = API_THROTTLES
    content_negotiation_class = FormatNegotiation


class KBModelViewSet(KBAPIDefaults, CSVExportMixin, VersionedWritesMixin, WriteRecordsUserMixin, viewsets.ModelViewSet):
    """Slug lookups, evaluator-only writes, strict filters, numbered pages (cursor pages where a view
    sets pagination_class = KBCursorPagination), ETags and If-Match (cmo_kb/concurrency.py), and
    /export/: every row of the list as one streamed CSV (cmo_kb/csv_export.py)."""

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
