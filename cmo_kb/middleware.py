"""Request checks made before any view runs, so a malformed request is a 400 naming what is wrong
rather than a 500 from deeper down.

- A NUL byte (``%00``) in the path or in any query or form parameter's name or value: PostgreSQL
  refuses NUL in text ("A string literal cannot contain NUL (0x00) characters"), so without this
  check ``/api/waves/?name=a%00b`` reaches the database and fails there.
- More parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS (Django raises TooManyFieldsSent lazily, from
  wherever request.GET is first read; some views never read it and others turn it into a bare 400).

Under /api/ the answer is JSON shaped like the API's other 400s (``{parameter: [message]}``);
elsewhere a plain page saying the same (templates/400.html). JSON request bodies are checked by the
API's parser (cmo_kb/parsers.py), which sees them after they are decoded.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent

from cmo_kb.errors import bad_request_response

NUL = "\x00"


def _nul_problems(querydict, where):
    problems = {}
    for name, values in querydict.lists():
        shown = name.replace(NUL, "\\x00")
        if NUL in name:
            problems[shown] = [f"The {where} parameter's name contains a NUL byte (%00), which is not allowed."]
        elif any(NUL in value for value in values):
            problems[shown] = [f"The {where} parameter contains a NUL byte (%00), which is not allowed in any value."]
    return problems


class RequestChecksMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problems = self.problems(request)
        if problems:
            return bad_request_response(request, problems)
        return self.get_response(request)

    def problems(self, request):
        if NUL in request.path:
            return {"path": ["The URL path contains a NUL byte (%00), which is not allowed."]}
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        try:
            problems = _nul_problems(request.GET, "query")
        except TooManyFieldsSent:
            return {"query": [f"Too many query parameters: at most {limit} are accepted in one request."]}
        if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                problems.update(_nul_problems(request.POST, "form"))
            except TooManyFieldsSent:
                return {"form": [f"Too many form fields: at most {limit} are accepted in one request."]}
            except RequestDataTooBig:
                return {"form": [f"The request body is too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."]}
        return problems
