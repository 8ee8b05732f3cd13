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
from rest_framework.fields import get_error_detail
from rest_framework.response import Response

from cmo_kb.vocabulary import RULE

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


# Error codes (DRF's and the project's) of a well-formed request that the stored data refuses.
DUPLICATE_CODES = frozenset({"unique", "unique_together"})
# RULE (cmo_kb/vocabulary.py): a rule across fields or rows, e.g. the verbatim rule, a publishing step.
UNPROCESSABLE_CODES = DUPLICATE_CODES | {"does_not_exist", RULE}


def _codes(codes):
    if isinstance(codes, dict):
        for value in codes.values():
            yield from _codes(value)
    elif isinstance(codes, (list, tuple)):
        for value in codes:
            yield from _codes(value)
    else:
        yield codes


def validation_status(exc):
    """400 when anything in the request is malformed (a type, a format, a missing or unknown field, a
    bad choice: what the schema says); otherwise, when only the stored data refuses it, 409 for a
    duplicate of a stored row and 422 for a reference to a row that does not exist or a broken rule
    (RULE). So a client can tell a request to fix from one the knowledge base cannot take as it is."""
    codes = set(_codes(exc.get_codes()))
    if not codes or not codes <= UNPROCESSABLE_CODES:
        return status.HTTP_400_BAD_REQUEST
    if codes <= DUPLICATE_CODES:
        return status.HTTP_409_CONFLICT
    return status.HTTP_422_UNPROCESSABLE_ENTITY


def exception_handler(exc, context):
    """DRF's handler, plus model-level errors turned into 4xx instead of 500s.

    - a validation error -> {field: [message]}, with the status validation_status() picks: 400 for a
      malformed request, 409 for a duplicate, 422 for a rule about stored rows or other fields
      (django ValidationErrors from model clean/save, e.g. the verbatim rule, are converted first)
    - ProtectedError/RestrictedError on delete -> 409 with what still depends on the object
    - IntegrityError (a constraint the serializer did not catch) -> 409
    - the publish lock (mechanisms/publish_lock.py) -> 403 naming the published configurations
    - the programme write rule (projects/membership.py ProgrammeWriteRefused) -> 403 naming the programme
    """
    from mechanisms.publish_lock import PublishedKnowledgeLocked
    from projects.membership import ProgrammeWriteRefused

    if isinstance(exc, PublishedKnowledgeLocked):
        return Response({"detail": exc.message, "configurations": exc.slugs}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, ProgrammeWriteRefused):
        return Response({"detail": exc.message, "programme": exc.programme}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DjangoValidationError):
        detail = get_error_detail(exc)  # messages with their codes
        exc = exceptions.ValidationError(detail if isinstance(detail, dict) else {"non_field_errors": detail})
    if isinstance(exc, exceptions.ValidationError):
        from rest_framework.views import exception_handler as drf_exception_handler

        response = drf_exception_handler(exc, context)
        response.status_code = validation_status(exc)
        return response
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
