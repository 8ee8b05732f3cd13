"""Pages of the REST API: cursor pages (keyset, no COUNT) for the big lists, numbered pages for the
small vocabularies; ``page_size`` from 1 to MAX_PAGE_SIZE."""


from rest_framework import exceptions
from rest_framework.pagination import CursorPagination, PageNumberPagination

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
