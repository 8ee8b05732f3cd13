"""Downloads for QDA tools: the knowledge base as a REFI-QDA project (.qdpx) or codebook (.qdc).

GET /api/export/qdpx/ and /api/export/qdc/ (URL names export-qdpx, export-qdc; cmo_kb/export_urls.py).
Anyone may download; the export holds the programmes the user may see (?programme=a,b: those),
their published configurations only. Evaluators (and lead evaluators) may add ?include_drafts=1 to
include the draft and in-review ones of the programmes they write in. Anyone else asking for
drafts gets a 403 naming the parameter rather than a silently different file: an analyst who asked
for drafts should know the file has none. Authentication is the API's (token or session), so an
analyst's token works here too; so are its rate limits.

The .qdpx streams (StreamingHttpResponse over refi_qda.iter_qdpx): it has no Content-Length, and its
queries run as the body is sent, so memory stays bounded whatever the size of the knowledge base.
"""

from django.http import HttpResponse, StreamingHttpResponse
from rest_framework import exceptions, renderers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from cmo_kb.internal_notes import shows_internal_notes
from cmo_kb.permissions import request_is_evaluator
from cmo_kb.throttles import API_THROTTLES

from . import refi_qda

ACCEPTED_PARAMETERS = ("include_drafts", "programme")
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


class IgnoreAccept(BaseContentNegotiation):
    """The body is a file whatever the Accept header says; errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _schema_filters():
    from cmo_kb.filters import ProgrammeListFilter

    return {"programme": ProgrammeListFilter(field_name="pk")}


class ExportView(APIView):
    permission_classes = [AllowAny]
    # The served schema lists the programme slugs ?programme= accepts (cmo_kb/openapi.py), as a filter's.
    schema_filters = property(lambda self: _schema_filters())
    throttle_classes = API_THROTTLES
    renderer_classes = [renderers.JSONRenderer]
    content_negotiation_class = IgnoreAccept
    # Subclasses: how to build the file (bytes), or stream it (an iterable of bytes), its name and type.
    build = None
    stream = None
    filename = None
    content_type = None

    def include_drafts(self, request):
        """Parse ?include_drafts= and check the user may have drafts. Costs one query when drafts
        are asked for by a signed-in user (their groups)."""
        unknown = sorted(set(request.query_params) - set(ACCEPTED_PARAMETERS))
        if unknown:
            raise exceptions.ValidationError(
                {name: [f"Unknown parameter. Accepted: {', '.join(ACCEPTED_PARAMETERS)}."] for name in unknown}
            )
        raw = request.query_params.get("include_drafts", "").strip().lower()
        if raw not in _TRUE | _FALSE:
            raise exceptions.ValidationError(
                {"include_drafts": [f"{raw!r} is not a boolean. Accepted: 1 or 0 (also true/false, yes/no)."]}
            )
        if raw not in _TRUE:
            return False
        if not request_is_evaluator(request):
            # A 403 body that names the parameter, for anonymous clients too (not DRF's 401 challenge).
            raise exceptions.PermissionDenied(
                {"include_drafts": ["Only evaluators can export draft and in-review configurations. "
                                    "Leave include_drafts out for the published knowledge base."]}
            )
        return True

    def programmes(self, request):
        """(The programmes exported, as a queryset, and the slugs asked for): ?programme= (several,
        comma-separated or repeated) among those the user may see, or all of those. An unknown or
        invisible slug is a 400 naming the parameter, listing those accepted (one query, with the
        parameter only)."""
        from projects.membership import visible_programmes

        visible = visible_programmes(request.user)
        asked = []
        for chunk in request.query_params.getlist("programme"):
            for slug in chunk.split(","):
                slug = slug.strip()
                if slug and slug not in asked:
                    asked.append(slug)
        if not asked:
            return visible, []
        found = set(visible.filter(slug__in=asked).values_list("slug", flat=True))
        missing = [slug for slug in asked if slug not in found]
        if missing:
            accepted = ", ".join(visible.order_by("slug").values_list("slug", flat=True)) or "(none)"
            raise exceptions.ValidationError({"programme": [
                f"Unknown programme {', '.join(repr(m) for m in missing)}. Accepted: {accepted}."]})
        return visible.filter(slug__in=asked), asked

    def drafts_of(self, request, asked):
        """The programmes whose drafts an evaluator's export holds: those they write in. Asked for
        by name, they must write in one of them at least (one query), or the file would hold none."""
        from projects.membership import writable_programmes

        writable = writable_programmes(request.user)
        if asked and not writable.filter(slug__in=asked).exists():
            raise exceptions.PermissionDenied({"include_drafts": [
                f"You write in none of the programmes {', '.join(asked)}: their drafts are their evaluators'. "
                "Leave include_drafts out for their published knowledge."]})
        return writable

    def get(self, request):
        with_drafts = self.include_drafts(request)
        programmes, asked = self.programmes(request)
        drafts_of = self.drafts_of(request, asked) if with_drafts else None
        # Evaluators' exports carry the curators' internal notes (cmo_kb/internal_notes.py).
        internal_notes = shows_internal_notes(request)
        options = {"include_drafts": with_drafts, "internal_notes": internal_notes, "programmes": programmes,
                   "drafts_of": drafts_of}
        if self.stream is not None:
            chunks = type(self).stream(**options)
            response = StreamingHttpResponse(chunks, content_type=self.content_type)
        else:
            payload = type(self).build(**options)
            response = HttpResponse(payload, content_type=self.content_type)
            response["Content-Length"] = str(len(payload))
        stem, extension = self.filename.rsplit(".", 1)
        name = stem + "".join(f"-{slug}" for slug in asked) + ("-with-drafts" if with_drafts else "") + "." + extension
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        # Drafts, internal notes and private programmes must not sit in shared caches; an export of
        # public programmes' published knowledge may be cached briefly (a signed-in reader's costs a
        # query to tell: anonymous readers see public programmes only).
        public = not (with_drafts or internal_notes) and (
            not request.user.is_authenticated or not programmes.filter(is_public=False).exists())
        response["Cache-Control"] = "public, max-age=300" if public else "private, no-store"
        return response


class ProjectExportView(ExportView):
    """The whole knowledge base as a REFI-QDA project: codebook, sources with coded excerpts,
    cases (teams), notes, links and sets, streamed. 34 queries anonymously (refi_qda.EXPORT_QUERIES,
    then refi_qda.STREAM_QUERIES as the body is sent), whatever the data size; a signed-in user adds
    the token (or session and user) lookup, and asking for drafts the user's groups."""

    stream = staticmethod(refi_qda.iter_qdpx)
    filename = "cmo-kb.qdpx"  # cmo-kb-<programmes>-with-drafts.qdpx as asked
    # A .qdpx is a ZIP archive; no media type is registered for it.
    content_type = "application/zip"


class CodebookExportView(ExportView):
    """The codebook alone (REFI-QDA .qdc), for tools that import codebooks only. 19 queries
    anonymously (refi_qda.CODEBOOK_QUERIES)."""

    build = staticmethod(refi_qda.export_codebook)
    filename = "cmo-kb-codebook.qdc"
    content_type = "application/xml; charset=utf-8"
