"""/api/imports/: imports in the background (evidence/import_runs.py).

GET /api/imports/               the caller's runs, and the runs of the programmes they write in
POST /api/imports/              multipart: file, programme, kind (default: from the extension), dry_run,
                                options (a JSON object) -> 202 with the run and its Location
GET /api/imports/<id>/          status, progress and, once ended, the report
POST /api/imports/<id>/undo/    undo a real run as one step (its owner, or a lead of its programme)

The synchronous doors stay: POST /api/imports/configurations/ and POST /api/sources/upload/.
"""

import json

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cmo_kb.api import KBAPIDefaults
from cmo_kb.openapi import ERROR_BAD_INPUT, ERROR_DETAIL, ERROR_FORBIDDEN
from cmo_kb.serializer_fields import StrictCharField
from mechanisms.import_api import ImportReportSerializer  # noqa: F401 (the ImportReport schema component)

from .import_runs import IMPORTERS, ImportRun, UndoRefused, importer_for


BOOLEAN_OPTIONS = {"create_terms"}  # the importers' options that are true or false (the others are text)


class ImportRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    file = serializers.CharField(source="file_name", read_only=True)
    programme = serializers.CharField(source="programme.slug", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True, allow_null=True, default=None)
    done = serializers.SerializerMethodField(help_text="Steps done (rows, elements); live while the run runs.")
    total = serializers.SerializerMethodField(help_text="Steps in all (0 until the importer knows).")
    percent = serializers.SerializerMethodField()
    ended = serializers.BooleanField(read_only=True, help_text="Whether the run has stopped (done, refused, failed, undone).")
    written = serializers.BooleanField(read_only=True, help_text="Whether the run wrote (a real run without errors).")

    class Meta:
        model = ImportRun
        fields = ["id", "url", "status", "kind", "file", "programme", "user", "dry_run", "options", "done", "total",
                  "percent", "ended", "written", "message", "created_at", "started_at", "finished_at", "undone_at"]
        read_only_fields = fields

    def get_url(self, run) -> str:
        return f"/api/imports/{run.pk}/"

    def get_done(self, run) -> int:
        return run.live_progress()[0]

    def get_total(self, run) -> int:
        return run.live_progress()[1]

    def get_percent(self, run) -> int:
        return run.status_dict()["percent"]


@extend_schema_field({"allOf": [{"$ref": "#/components/schemas/ImportReport"}], "nullable": True})
class ReportField(serializers.JSONField):
    pass


class ImportRunDetailSerializer(ImportRunSerializer):
    report = ReportField(read_only=True, help_text="What the run did or would do, row by row; null until it ends.")

    class Meta(ImportRunSerializer.Meta):
        fields = [*ImportRunSerializer.Meta.fields, "report"]
        read_only_fields = fields


class ImportRunRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The file: a document (.txt .md .docx .odt .pdf .html .rtf), a CMO "
                                 "spreadsheet (.csv .xlsx) or a REFI-QDA project (.qdpx .qdc).")
    programme = StrictCharField(max_length=80, help_text="Slug of the programme to import into (you must write there).")
    kind = serializers.ChoiceField(choices=[], required=False,
                                   help_text="The importer; default: the one that reads the file's extension.")
    dry_run = serializers.BooleanField(default=False, help_text="Check and report what would be written; write nothing.")
    options = StrictCharField(required=False, default="{}", max_length=2000,
                              help_text='A JSON object of the importer\'s options, e.g. {"create_terms": true} for '
                              'configurations, {"kind": "interview", "title": "…"} for a document.')

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = sorted(IMPORTERS)

    def validate_options(self, value):
        try:
            options = json.loads(value or "{}")
        except ValueError:
            raise serializers.ValidationError("Not JSON: give an object, e.g. {\"create_terms\": true}.") from None
        if not isinstance(options, dict):
            raise serializers.ValidationError("Give a JSON object, e.g. {\"create_terms\": true}.")
        return options

    def validate(self, data):
        importer = importer_for(data["file"].name, data.get("kind"))
        if importer is None:
            known = ", ".join(ext for imp in IMPORTERS.values() for ext in imp.extensions)
            raise serializers.ValidationError({"file": [f"No importer reads “{data['file'].name}”: give a file "
                                                        f"ending in {known}, or name the kind."]})
        unknown = sorted(set(data["options"]) - set(importer.options))
        if unknown:
            accepted = ", ".join(importer.options) or "none"
            raise serializers.ValidationError({"options": [f"Unknown option {', '.join(unknown)} for a {importer.kind} "
                                                           f"import. Accepted: {accepted}."]})
        odd = sorted(name for name, value in data["options"].items()
                     if not isinstance(value, bool if name in BOOLEAN_OPTIONS else str))
        if odd:
            raise serializers.ValidationError({"options": [
                f"{name}: give {'true or false' if name in BOOLEAN_OPTIONS else 'a text'}." for name in odd]})
        data["importer"] = importer
        return data


UNDO_REFUSED = {**ERROR_DETAIL, "properties": {
    "detail": {"type": "string"},
    "rows": {"type": "array", "items": {"type": "string"}, "description": "The rows changed after the import."}}}


@extend_schema_view(
    list=extend_schema(description="Your imports, and those of the programmes you write in, newest first."),
    retrieve=extend_schema(description="An import's status and progress; its report once it has ended. Poll "
                           "this until `ended` is true."),
)
class ImportRunViewSet(KBAPIDefaults, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Imports run in the background: documents, CMO spreadsheets, REFI-QDA projects."""

    permission_classes = [permissions.IsAuthenticated]
    filter_backends = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if not self.request.user.is_authenticated:  # the schema's probe
            return ImportRun.objects.none()
        return ImportRun.objects.visible_to(self.request.user).select_related("programme", "user")

    def get_serializer_class(self):
        if self.action == "create":
            return ImportRunRequestSerializer
        return ImportRunSerializer if self.action == "list" else ImportRunDetailSerializer

    @extend_schema(
        request={"multipart/form-data": ImportRunRequestSerializer},
        responses={
            202: OpenApiResponse(ImportRunDetailSerializer, description="Queued (or already run): poll its Location."),
            400: OpenApiResponse(ERROR_BAD_INPUT, description="A malformed body, a file no importer reads, an unknown "
                                 "option, or a programme you cannot see; the field at fault is named."),
            403: OpenApiResponse(ERROR_FORBIDDEN, description="You do not write in the programme (`programme` names it)."),
        },
    )
    def create(self, request, *args, **kwargs):
        from projects.membership import can_write, visible_programmes, writable_programmes

        if not writable_programmes(request.user).exists():
            raise exceptions.PermissionDenied("Only the evaluators and lead evaluators of a programme import into it; "
                                              "you write in no programme.")
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        programme = visible_programmes(request.user).filter(slug=data["programme"]).first()
        if programme is None:
            raise exceptions.ValidationError(
                {"programme": [f"No programme '{data['programme']}' that you can see (see /api/programmes/)."]})
        if not can_write(request.user, programme):
            error = exceptions.PermissionDenied(
                f"You do not write in the programme '{programme.slug}': only its evaluators and lead evaluators can "
                "import into it.")
            error.detail = {"detail": error.detail, "programme": programme.slug}
            raise error
        run = ImportRun.start(user=request.user, programme=programme, file=data["file"], kind=data["importer"].kind,
                              dry_run=data["dry_run"], options=data["options"])
        body = ImportRunDetailSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/api/imports/{run.pk}/"})

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(ImportRunDetailSerializer, description="Undone: what the run created is deleted, "
                                 "what it updated restored."),
            403: OpenApiResponse(ERROR_FORBIDDEN, description="Neither the run's owner nor a lead of its programme."),
            409: OpenApiResponse(UNDO_REFUSED, description="Refused, nothing changed: already undone, a dry run, or "
                                 "rows changed after the import (`rows` names them)."),
        },
    )
    @action(detail=True, methods=["post"])
    def undo(self, request, *args, **kwargs):
        run = self.get_object()
        if not run.may_undo(request.user):
            raise exceptions.PermissionDenied(
                f"Only the user who imported the file, or a lead evaluator of '{run.programme.slug}', can undo it.")
        try:
            run.undo(request.user)
        except UndoRefused as refused:
            return Response({"detail": refused.message, "rows": refused.rows}, status=status.HTTP_409_CONFLICT)
        return Response(ImportRunDetailSerializer(run, context=self.get_serializer_context()).data)
