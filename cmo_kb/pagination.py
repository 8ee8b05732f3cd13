"""Pages of the REST API: cursor pages (keyset, no COUNT) for the big lists, numbered pages for the
small vocabularies; ``page_size`` from 1 to MAX_PAGE_SIZE."""


import json
from base64 import b64decode, b64encode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import BooleanField, F, Func, Q, Value
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


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


class RowCompare(Func):
    """``(a, b, c) > (x, y, z)``: a row-value comparison, which PostgreSQL answers from a b-tree index
    on (a, b, c) as a range start (an OR of per-column conditions would be a filter over every row
    before the position). SQLite understands row values too (3.15+)."""

    output_field = BooleanField()

    def __init__(self, columns, values, operator):
        super().__init__(*columns, *values)
        self.width, self.operator = len(columns), operator

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        lhs, rhs = ", ".join(parts[: self.width]), ", ".join(parts[self.width :])
        return f"({lhs}) {self.operator} ({rhs})", params


class KBCursorPagination(KBPaginationMixin, CursorPagination):
    """Keyset pages on several columns: a deep page costs what the first costs (no OFFSET, no COUNT).

    DRF's own CursorPagination keeps its position in the first ordering column only and pages through
    ties by OFFSET, which is why excerpts used to be ordered by a computed ``source_id*2**32+start``
    that no index covers. Here the cursor holds the whole position, e.g. (source_id, start, id) of a
    page's last row, and the next page is ``WHERE (source_id, start, id) > (…) ORDER BY … LIMIT n+1``,
    one range scan of the index on those columns. The ordering must end in a unique column (pk), so
    the order is total and a page never repeats or skips a row.

    Each view names its ordering in ``cursor_ordering`` (model field names, ``-`` for descending);
    search results are ordered by rank, best first. The cursor stays opaque: base64 of a small JSON
    list; one that does not decode, or does not fit the ordering, is a 404 naming ``cursor``.
    """

    ordering = ("pk",)
    invalid_page_error = {"cursor": ["Invalid cursor. Accepted: the `next` or `previous` link of a page."]}

    def get_ordering(self, request, queryset, view):
        filterset = getattr(view, "filterset", None)
        if filterset is not None and getattr(filterset, "search_active", False):
            return ("-rank", "pk")
        return tuple(getattr(view, "cursor_ordering", ("pk",)))

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        reverse, position = self._decode(request)
        ordering = [_flip(name) for name in self.ordering] if reverse else list(self.ordering)
        queryset = queryset.order_by(*ordering)
        if position is not None:
            try:
                queryset = queryset.filter(_after(ordering, position))
            except (TypeError, ValueError, DjangoValidationError):
                raise exceptions.NotFound(self.invalid_page_error)
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
        self.page = rows
        self.has_next, self.has_previous = (position is not None, more) if reverse else (more, position is not None)
        return rows

    # --- the cursor: base64 of JSON [reverse, [values of the ordering columns]] ---

    def _decode(self, request):
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:  # absent or empty: the first page
            return False, None
        try:
            reverse, position = json.loads(b64decode(raw.encode("ascii"), altchars=b"-_", validate=True))
            ok = (
                isinstance(reverse, bool)
                and isinstance(position, list)
                and len(position) == len(self.ordering)
                and all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in position)
            )
        except (ValueError, TypeError, UnicodeError):
            ok = False
        if not ok:
            raise exceptions.NotFound(self.invalid_page_error)
        return reverse, position

    def _link(self, row, reverse):
        position = [_value(row, name.lstrip("-")) for name in self.ordering]
        token = b64encode(json.dumps([reverse, position], separators=(",", ":")).encode(), altchars=b"-_").decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def get_next_link(self):
        return self._link(self.page[-1], False) if self.has_next and self.page else None

    def get_previous_link(self):
        if not self.has_previous:
            return None
        if not self.page:  # an empty page reached from a cursor: back to the first page
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(self.page[0], True)

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        result["properties"]["next"]["description"] = "URL of the next page, or null on the last page."
        return result


def _flip(name):
    return name[1:] if name.startswith("-") else "-" + name


def _value(row, name):
    if isinstance(row, dict):  # a values() row
        return row["id"] if name == "pk" else row[name]
    return getattr(row, name)


def _after(ordering, position):
    """Rows strictly after ``position`` in ``ordering``: one row comparison when every column runs
    the same way (an index range), otherwise the OR of "equal so far, then beyond" terms."""
    names = [name.lstrip("-") for name in ordering]
    descending = [name.startswith("-") for name in ordering]
    if len(set(descending)) == 1:
        return RowCompare([F(n) for n in names], [Value(v) for v in position], "<" if descending[0] else ">")
    condition = Q()
    for i, (name, value) in enumerate(zip(names, position)):
        step = Q(**{f"{n}": v for n, v in zip(names[:i], position[:i])}) & Q(**{f"{name}__{'lt' if descending[i] else 'gt'}": value})
        condition |= step
    return condition


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
