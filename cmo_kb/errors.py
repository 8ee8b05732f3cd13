"""Error answers shared by the middleware and the project's handler400/handler500: JSON under
/api/ (the API's clients parse JSON, not an HTML page), the site's own pages elsewhere."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import JsonResponse
from django.shortcuts import render
from django.views.defaults import server_error as default_server_error

API_PREFIX = "/api/"


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


def server_error(request):
    """handler500: the traceback is logged by django.request; the client gets no detail."""
    if is_api(request):
        return JsonResponse(
            {"detail": "Server error: the request could not be completed. It has been logged; please try again later."},
            status=500,
        )
    return default_server_error(request)
