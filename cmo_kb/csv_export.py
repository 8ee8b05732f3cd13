"""``GET /api/<resource>/export/``: every row of a list as one CSV download, streamed.

The same rows as the list (its filters, its visibility: drafts and internal notes as the list shows
them to this client), the same columns as the list's ``?format=csv`` (cmo_kb/renderers.py flattens
the list serializer's output the same way), in the same order as its pages, but all of them in one
response. Rows are read from a server-side cursor (``QuerySet.iterator(chunk_size=...)``) and each
chunk is serialized, written and forgotten, so memory stays flat whatever the size; the prefetches
of the list run once per chunk (so a chunk costs what one list page of that size costs).

Why not the renderer: a renderer is handed the whole serialized list. The columns come from the
serializers (nested objects, evaluator-only fields, joined lists), and one code path for the page
and the export keeps them equal; the two big lists have faster paths that tests hold to the same
bytes: on PostgreSQL the excerpts and the configurations are written by ``COPY`` (``export_csv``,
cmo_kb/copy_csv.py), elsewhere the excerpts from tuples (``export_rows``).
"""

import csv

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers, serializers
from rest_framework.decorators import action

from cmo_kb.renderers import CSVRenderer, flatten_row

EXPORT_CHUNK_SIZE = 2000
PAGE_PARAMETERS = ("page", "page_size", "cursor")


class _Echo:
    """csv.writer writes into this and gets the line back (the csv module's streaming idiom)."""

    def write(self, value):
        return value


def csv_columns(serializer, prefix=""):
    """The columns ``?format=csv`` gives this serializer's rows: a nested object (not a list) as
    dotted columns, everything else as one column, in field order."""
    for name, field in serializer.fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(field, serializers.Serializer) and not isinstance(field, serializers.ListSerializer):
            yield from csv_columns(field, key)
        else:
            yield key


def _as_evaluated(queryset, chunk):
    """Rows read by .iterator() skip what a queryset does once evaluated: the SQLite search fallback
    sets each hit's snippet there (evidence/search.py, _SnippetMixin), so the same is done here."""
    spec = getattr(queryset, "_snippet_spec", None)
    if spec:
        from evidence.search import highlight

        fields, terms = spec
        for obj in chunk:
            obj.snippet = highlight(" ".join(str(getattr(obj, field) or "") for field in fields), terms)


class CSVExportMixin:
    """Adds the ``export`` list action to a viewset (KBModelViewSet has it, so every resource does)."""

    export_chunk_size = EXPORT_CHUNK_SIZE

    @extend_schema(
        summary="Every matching row as CSV",
        description="The list's rows, every one of them (not one page), as a streamed CSV download: the "
        "same filters, visibility and columns as `?format=csv` of the list, in the same order. "
        "`page`, `page_size` and `cursor` are not parameters here (a 400).",
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="A header line, then one row per result.")},
    )
    @action(detail=False, methods=["get"], url_path="export", url_name="export",
            renderer_classes=[CSVRenderer, renderers.JSONRenderer], pagination_class=None)
    def export(self, request, *args, **kwargs):
        given = [name for name in PAGE_PARAMETERS if name in request.query_params]
        if given:
            raise exceptions.ValidationError(
                {name: ["Not a parameter of the export: it has every matching row. Accepted: the list's filters."]
                 for name in given}
            )
        # Filters are checked here, before the first byte: a bad one is a 400, not a broken download.
        queryset = self.filter_queryset(self.get_queryset())
        queryset = queryset.order_by(*self.export_ordering(queryset))
        serializer_class = self.get_serializer_class()
        context = self.get_serializer_context()
        probe = serializer_class(context=context)
        searching = getattr(getattr(self, "filterset", None), "search_active", False)
        header = [c for c in csv_columns(probe) if searching or c not in ("rank", "snippet")]
        response = StreamingHttpResponse(
            self._csv_lines(queryset, serializer_class, context, header), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{self.basename}s.csv"'
        return response

    def export_ordering(self, queryset):
        """The order of the list's pages: the cursor's ordering, or the queryset's (numbered pages),
        with the primary key last so that equal keys still come in one order."""
        pagination = type(self).pagination_class  # (the action itself has none)
        if pagination is not None and hasattr(pagination, "get_ordering") and hasattr(self, "cursor_ordering"):
            ordering = list(pagination().get_ordering(self.request, queryset, self))
        else:
            ordering = list(queryset.query.order_by or queryset.model._meta.ordering or [])
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering.append("pk")
        return ordering

    export_rows = None
    """A resource may write its rows itself: a function (view, queryset, header, chunk_size) giving
    chunks of rows (cell lists in header order), or None to leave a request to the serializer (see
    evidence/excerpt_export.py; the export tests hold it equal to the pages)."""

    export_csv = None
    """Or a function (view, queryset, header) giving blocks of CSV bytes (the rows after the header),
    or None to leave the request to ``export_rows`` (cmo_kb/copy_csv.py: PostgreSQL's COPY writes
    them)."""

    def _csv_lines(self, queryset, serializer_class, context, header):
        writer = csv.writer(_Echo(), lineterminator="\r\n")
        yield writer.writerow(header).encode("utf-8")
        copy = type(self).export_csv
        chunks = copy(self, queryset, header) if copy else None
        if chunks is not None:
            yield from chunks
            return
        fast = type(self).export_rows
        chunks = fast(self, queryset, header, self.export_chunk_size) if fast else None
        if chunks is not None:
            for rows in chunks:
                yield "".join(writer.writerow(row) for row in rows).encode("utf-8")
            return
        chunk = []
        for instance in queryset.iterator(chunk_size=self.export_chunk_size):
            chunk.append(instance)
            if len(chunk) == self.export_chunk_size:
                yield self._chunk_bytes(writer, chunk, queryset, serializer_class, context, header)
                chunk = []
        if chunk:
            yield self._chunk_bytes(writer, chunk, queryset, serializer_class, context, header)

    def _chunk_bytes(self, writer, chunk, queryset, serializer_class, context, header):
        _as_evaluated(queryset, chunk)
        lines = []
        for item in serializer_class(chunk, many=True, context=context).data:
            row = flatten_row(item)
            lines.append(writer.writerow([row.get(column, "") for column in header]))
        return "".join(lines).encode("utf-8")
