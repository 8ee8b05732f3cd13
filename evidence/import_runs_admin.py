"""The workbench's "Imports" (/admin/evidence/importrun/): the user's imports, and one import's page
(status, a progress bar that follows the run, its report row by row once it has ended, Confirm for a
dry run without errors, Undo for a run that wrote). The spreadsheet import and the document upload
start their runs here (mechanisms/import_admin.py, evidence/admin_views.py).

The progress bar is static/curation/import_run.js (no inline script: the CSP allows this origin's
files only); it polls <run>/status/ and reloads the page once the run has ended.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .import_runs import ImportRun, UndoRefused


def report_rows(report):
    """The report (ImportReport.as_dict()) row by row: [(where, entries, errors)], file-wide problems
    first, then rows and elements in the file's order."""
    rows = {}
    for entry in (report or {}).get("entries", []):
        rows.setdefault(entry["where"], ([], []))[0].append(entry)
    for problem in (report or {}).get("errors", []):
        rows.setdefault(problem["where"], ([], []))[1].append(problem)

    def order(where):
        number = where.rsplit(" row ", 1)[-1] if " row " in where else ""
        return (int(number) if number.isdigit() else -1, where)

    return [(where, *rows[where]) for where in sorted(rows, key=order)]


def run_url(run):
    return reverse("admin:evidence_importrun_change", args=[run.pk])


class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "programme", "status", "user", "created_at"]
    list_filter = ["status", "kind", "dry_run"]
    list_select_related = ["programme", "user"]
    search_fields = ["file_name"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    # Runs are started by the import pages and never edited; those who may import (who write in a
    # programme) see their own and their programmes' runs.
    def has_module_permission(self, request):
        from projects.programme_admin import writes_anywhere

        return request.user.is_active and request.user.is_staff and (
            request.user.is_superuser or writes_anywhere(request.user))

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<int:run_id>/status/", view(self.status_view), name="%s_%s_status" % info),
            path("<int:run_id>/confirm/", view(self.confirm_view), name="%s_%s_confirm" % info),
            path("<int:run_id>/undo/", view(self.undo_view), name="%s_%s_undo" % info),
        ] + super().get_urls()

    def _run(self, request, run_id):
        run = self.get_queryset(request).select_related("programme", "user", "confirms").filter(pk=run_id).first()
        if run is None:
            raise Http404("No import of yours has this number.")
        return run

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET"])
        if not str(object_id).isdigit():
            raise Http404("No import of yours has this number.")
        run = self._run(request, object_id)
        confirmed = run.confirmed_by.order_by("-pk").first()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import #{run.pk}: {run.file_name}", "subtitle": None, "opts": self.opts,
            "app_label": self.opts.app_label, "run": run, "state": run.status_dict(),
            "rows": report_rows(run.report), "confirmed": confirmed,
            "can_confirm": run.dry_run and run.status == ImportRun.Status.DONE and bool(run.file)
            and confirmed is None and run.may_confirm(request.user),
            "can_undo": not run.dry_run and run.status == ImportRun.Status.DONE and run.written
            and run.may_undo(request.user),
        }
        return TemplateResponse(request, "admin/evidence/importrun/run.html", context)

    def status_view(self, request, run_id):
        return JsonResponse(self._run(request, run_id).status_dict())

    def confirm_view(self, request, run_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self._run(request, run_id)
        if not run.may_confirm(request.user):
            raise PermissionDenied
        try:
            real = run.confirm(request.user)
        except ValueError:
            messages.error(request, "This dry run was already confirmed, or found errors: upload the file again.")
            return HttpResponseRedirect(run_url(run))
        return HttpResponseRedirect(run_url(real))

    def undo_view(self, request, run_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self._run(request, run_id)
        try:
            run.undo(request.user)
        except UndoRefused as refused:
            messages.error(request, " ".join([refused.message, *refused.rows]))
        else:
            messages.success(request, f"Import #{run.pk} undone: what it created is deleted, what it changed restored.")
        return HttpResponseRedirect(run_url(run))
