"""POST /api/imports/configurations/: a CMO spreadsheet imported through the one function the
command and the workbench use (mechanisms/configuration_import.py), answered with its report.

A plain APIView, not a router resource: an import is an action on a programme, not a collection of
rows to list, read or version."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cmo_kb.api import KBAPIDefaults
from cmo_kb.openapi import ERROR_BAD_INPUT, ERROR_FORBIDDEN
from cmo_kb.serializer_fields import StrictCharField

from .configuration_import import import_configurations


class ConfigurationImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The spreadsheet: .csv (UTF-8, with or without BOM) or .xlsx; "
                                 "header row first. The template: /admin/mechanisms/cmoconfiguration/import/template.xlsx.")
    programme = StrictCharField(max_length=80, help_text="Slug of the programme to import into (you must write there).")
    dry_run = serializers.BooleanField(default=False, help_text="Check and report what would be written; write nothing.")
    create_terms = serializers.BooleanField(
        default=False, help_text="Create the teams, contexts, mechanisms, themes and outcomes the file names that the "
        "programme lacks (otherwise each is an error of its row).")


_problem = inline_serializer("ImportProblem", {
    "where": serializers.CharField(help_text="The file, and the row (the header is row 1)."),
    "field": serializers.CharField(help_text="The column (or `file`, `header`)."),
    "value": serializers.CharField(help_text="The value read there."),
    "reason": serializers.CharField(),
})
ImportReportSerializer = inline_serializer("ImportReport", {
    "file": serializers.CharField(),
    "dry_run": serializers.BooleanField(),
    "written": serializers.BooleanField(help_text="Whether anything was kept: only a real run without errors writes."),
    "counts": serializers.ListField(child=inline_serializer("ImportCount", {
        "action": serializers.CharField(), "kind": serializers.CharField(), "count": serializers.IntegerField()})),
    "entries": serializers.ListField(child=inline_serializer("ImportEntry", {
        "action": serializers.CharField(help_text="created or updated."), "kind": serializers.CharField(),
        "label": serializers.CharField(), "where": serializers.CharField()})),
    "errors": serializers.ListField(child=_problem),
    "notes": serializers.ListField(child=serializers.CharField()),
})


class ConfigurationImportView(KBAPIDefaults, APIView):
    """Import CMO configurations from a spreadsheet into a programme, as drafts.

    One row is one configuration (columns: title, slug, teams, contexts, activity, mechanism, theme,
    effect, influence, outcomes, outcome_kind, quality_domains, relationship_level, confidence,
    statement, notes, evidence, evidence_source, evidence_part, evidence_stance, evidence_kind; several
    values separated by `;`; a second quote in evidence_2, evidence_source_2...). Terms are named by
    slug or name; each quote is located in its source verbatim (or with white space collapsed) and
    becomes an excerpt linked to the configuration. All or nothing: any error anywhere and nothing is
    written; the report names every error (file, row, column, value, reason).

    200: a dry run without errors (nothing written); 201: written; 422: refused, with the report;
    400: the body is malformed or the file cannot be read as a .csv or .xlsx (`file` says why);
    403: you do not write in the programme (`programme` names it).
    """

    permission_classes = [permissions.IsAuthenticated]
    pagination_class = None
    filter_backends = []

    @extend_schema(
        operation_id="imports_configurations_create",
        request={"multipart/form-data": ConfigurationImportRequestSerializer},
        responses={
            200: OpenApiResponse(ImportReportSerializer, description="A dry run without errors: what a real run writes."),
            201: OpenApiResponse(ImportReportSerializer, description="Written."),
            400: OpenApiResponse(ERROR_BAD_INPUT, description="A malformed body, or a file that cannot be read as a "
                                 ".csv or .xlsx: the field at fault is named (`file`)."),
            403: OpenApiResponse(ERROR_FORBIDDEN, description="You do not write in the programme (`programme` names it)."),
            422: OpenApiResponse(
                {"oneOf": [{"$ref": "#/components/schemas/ImportReport"}, ERROR_BAD_INPUT]},
                description="Refused: the report with every error, nothing written; or `programme` names no programme "
                "you can see."),
        },
        examples=[OpenApiExample("A refused row", response_only=True, status_codes=["422"], value={
            "file": "configurations.csv", "dry_run": False, "written": False, "counts": [], "entries": [],
            "errors": [{"where": "configurations.csv row 3", "field": "evidence", "value": "Nobody said this.",
                        "reason": "not found in the source 'ctg-report', even with white space collapsed"}],
            "notes": []})],
    )
    def post(self, request):
        from projects.membership import visible_programmes, writable_programmes

        if not writable_programmes(request.user).exists():
            raise exceptions.PermissionDenied(
                "Only the evaluators and lead evaluators of a programme import configurations into it; "
                "you write in no programme.")
        body = ConfigurationImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        slug = body.validated_data["programme"]
        programme = visible_programmes(request.user).filter(slug=slug).first()
        if programme is None:
            raise exceptions.ValidationError(
                {"programme": [f"No programme '{slug}' that you can see (see /api/programmes/)."]}, code="does_not_exist")
        report = import_configurations(body.validated_data["file"], programme, user=request.user,
                                       dry_run=body.validated_data["dry_run"],
                                       create_terms=body.validated_data["create_terms"])
        if report.errors and all(problem.field == "file" for problem in report.errors):
            return Response({"file": [problem.reason for problem in report.errors]}, status=status.HTTP_400_BAD_REQUEST)
        if report.errors:
            code = status.HTTP_422_UNPROCESSABLE_ENTITY
        else:
            code = status.HTTP_201_CREATED if report.written else status.HTTP_200_OK
        return Response(report.as_dict(), status=code)
