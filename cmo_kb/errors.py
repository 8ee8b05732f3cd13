"""Error answers shared by the middleware and the project's handler400/handler500: JSON under
/api/ (the API's clients parse JSON, not an HTML page), the site's own pages elsewhere; and the REST
API's exception handler (REST_FRAMEWORK['EXCEPTION_HANDLER']), which turns model-level errors into 4xx."""

import logging
import re

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.encoding import force_str
from django.views.defaults import page_not_found as default_page_not_found
from django.views.defaults import server_error as default_server_error
from rest_framework import exceptions, status
from rest_framework.response import Response

API_PREFIX = "/api/"
logger = logging.getLogger(__name__)


def is_api(request):
    return request.path.startswith(API_PREFIX)


def bad_request_response(request, problems):
    """400 naming each parameter at fault: ``problems`` maps a parameter to a list of messages."""
    if is_api(request):
        return JsonResponse(problems, status=400)
    return render(request, "400.html", {"problems": problems}, status=400)


def bad_request(request, exception=None):
    """handler400: Django's SuspiciousOperation and BadRequest end here (a 400 that says why)."""
    if isinstance(exception, TooManyFieldsSent):
        problems = {"query": ["Too many parameters in one request."]}
    elif isinstance(exception, RequestDataTooBig):
        problems = {"body": ["The request body is too large."]}
    else:
        problems = {"request": ["The request was malformed."]}
    return bad_request_response(request, problems)


def not_found(request, exception=None):
    """handler404: a URL no route matches (``/api/teams/a.b.c/``: the router's slugs hold no dot or
    slash) answers under /api/ like the API's own 404s, JSON with a ``detail``."""
    if is_api(request):
        return JsonResponse({"detail": "Not found: no API resource has this URL."}, status=404)
    return default_page_not_found(request, exception)


def server_error(request):
    """handler500: the traceback is logged by django.request; the client gets no detail."""
    if is_api(request):
        return JsonResponse(
            {"detail": "Server error: the request could not be completed. It has been logged; please try again later."},
            status=500,
        )
    return default_server_error(request)


# PostgreSQL: 'DETAIL:  Key (programme_id, short_name)=(1, SHC) already exists.'; SQLite:
# 'UNIQUE constraint failed: projects_team.programme_id, projects_team.short_name'.
_POSTGRES_KEY = re.compile(r"Key \(([^)]*)\)=")
_SQLITE_COLUMNS = re.compile(r"constraint failed: (.+)$", re.MULTILINE)


def integrity_conflict(exc):
    """The 409 body for a database constraint the serializer did not check: which fields clash, not
    the database's message (it names tables, constraints and values; it goes to the log instead)."""
    message = str(exc)
    logger.info("integrity conflict: %s", message)
    match = _POSTGRES_KEY.search(message) or _SQLITE_COLUMNS.search(message)
    fields = []
    if match:
        for column in match.group(1).split(","):
            name = column.strip().rsplit(".", 1)[-1]
            fields.append(name[:-3] if name.endswith("_id") else name)
    body = {"detail": "Conflicts with an existing record: the same values are already stored, or a rule of the database refuses them."}
    if fields:
        body["fields"] = fields
    return body


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
        return Response(integrity_conflict(exc), status=status.HTTP_409_CONFLICT)
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)
