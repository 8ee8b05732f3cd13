"""POST /api/imports/refi-qda/: a REFI-QDA project (.qdpx) or codebook (.qdc) imported into a
programme through the one function the command and the workbench use (evidence/refi_qda_import.py),
answered with its report, as POST /api/imports/configurations/ answers (mechanisms/import_api.py).

A plain APIView, not a router resource: an import is an action on a programme, not a collection of
rows to list, read or version."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cmo_kb.api import KBAPIDefaults
from cmo_kb.openapi import ERROR_BAD_INPUT, ERROR_FORBIDDEN
from cmo_kb.serializer_fields import StrictCharField
from mechanisms.import_api import ImportReportSerializer

from .refi_qda_import import OFFSETS, import_refi_qda


class RefiQdaImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The REFI-QDA project (.qdpx: a ZIP of project.qde and its sources) or "
                                 "codebook (.qdc).")
    programme = StrictCharField(max_length=80, help_text="Slug of the programme to import into (you must write there).")
    dry_run = serializers.BooleanField(default=False, help_text="Check and report what would be written; write nothing.")
    offsets = serializers.ChoiceField(
        choices=OFFSETS, default="codepoints",
        help_text="How the project counts selection positions: `codepoints` (characters, REFI-QDA's rule) or `utf16` "
        "(UTF-16 units: a character outside the Basic Multilingual Plane, such as an emoji, counts two).")


class RefiQdaImportView(KBAPIDefaults, APIView):
    """Import a REFI-QDA project or codebook (NVivo, ATLAS.ti, MAXQDA, QualCoder, Taguette, CMO KB) into a programme.

    Codes become the programme's codes (matched by GUID: a re-import updates them), text sources become
    sources, selections become excerpts at exactly their positions, codings keep their coder and date,
    cases become teams, notes become memos and links between codes and selections become relations; what
    has no place (sets, other variables, non-text sources...) is listed in `notes`. All or nothing: any
    error anywhere and nothing is written; the report names every error (file, element and line,
    attribute, value, reason).

    200: a dry run without errors (nothing written); 201: written; 422: refused, with the report;
    400: the body is malformed, or the file is no .qdpx or .qdc at all (a damaged ZIP, no project.qde):
    the field is named (`file`); 403: you do not write in the programme.
    """

    permission_classes = [permissions.IsAuthenticated]
    pagination_class = None
    filter_backends = []

    @extend_schema(
        operation_id="imports_refi_qda_create",
        request={"multipart/form-data": RefiQdaImportRequestSerializer},
        responses={
            200: OpenApiResponse(ImportReportSerializer, description="A dry run without errors: what a real run writes."),
            201: OpenApiResponse(ImportReportSerializer, description="Written."),
            400: OpenApiResponse(ERROR_BAD_INPUT, description="A malformed body, or a file that is no REFI-QDA project "
                                 "or codebook at all (a damaged ZIP, no project.qde): the field at fault is named (`file`)."),
            403: OpenApiResponse(ERROR_FORBIDDEN, description="You do not write in the programme (`programme` names it)."),
            422: OpenApiResponse(
                {"oneOf": [{"$ref": "#/components/schemas/ImportReport"}, ERROR_BAD_INPUT]},
                description="Refused: the report with every error, nothing written (XML that is not well formed "
                "too: its error names the element and the line); or `programme` names no programme you can see."),
        },
        examples=[OpenApiExample("A selection past the end of its text", response_only=True, status_codes=["422"], value={
            "file": "interviews.qdpx", "dry_run": False, "written": False, "counts": [], "entries": [],
            "errors": [{"where": "project.qde line 120 <PlainTextSelection guid=6f1c…>", "field": "endPosition",
                        "value": "5120", "reason": "past the end of the text of 'Interview 3' (5081 characters)"}],
            "notes": []})],
    )
    def post(self, request):
        from projects.membership import visible_programmes, writable_programmes

        if not writable_programmes(request.user).exists():
            raise exceptions.PermissionDenied(
                "Only the evaluators and lead evaluators of a programme import QDA projects into it; "
                "you write in no programme.")
        body = RefiQdaImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        slug = body.validated_data["programme"]
        programme = visible_programmes(request.user).filter(slug=slug).first()
        if programme is None:
            raise exceptions.ValidationError(
                {"programme": [f"No programme '{slug}' that you can see (see /api/programmes/)."]}, code="does_not_exist")
        report = import_refi_qda(body.validated_data["file"], programme, user=request.user,
                                 dry_run=body.validated_data["dry_run"], offsets=body.validated_data["offsets"])
        if report.errors and all(problem.field == "file" for problem in report.errors):
            return Response({"file": [f"{problem.where}: {problem.reason}" for problem in report.errors]},
                            status=status.HTTP_400_BAD_REQUEST)
        if report.errors:
            code = status.HTTP_422_UNPROCESSABLE_ENTITY
        else:
            code = status.HTTP_201_CREATED if report.written else status.HTTP_200_OK
        return Response(report.as_dict(), status=code)
