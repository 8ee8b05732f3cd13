"""The workbench's "Import configurations" page (/admin/mechanisms/cmoconfiguration/import/), linked
from the configuration list, and the template it offers (import/template.csv, import/template.xlsx).

Upload: a dry run of mechanisms/configuration_import.py, shown row by row (what would be created, and
the errors). Confirm: the same file imported for real, every check run again. Between the two the
upload waits in evidence/staged_uploads.py (only the user who uploaded it can confirm it); it is
deleted once imported.
"""

import os

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from evidence.staged_uploads import stage, unstage
from projects import membership
from projects.programme_admin import writes_anywhere

from .configuration_import import COLUMNS, file_name_of, import_configurations, template_csv, template_xlsx

STAGED = "configuration_imports"  # evidence/staged_uploads.py: the session's staged spreadsheets


class ConfigurationImportForm(forms.Form):
    programme = forms.ModelChoiceField(queryset=None, to_field_name="slug",
                                       help_text="Only the programmes you write in are offered.")
    file = forms.FileField(help_text="A .csv (UTF-8) or .xlsx file, header row first (see the template).")
    create_terms = forms.BooleanField(
        required=False, label="Create unknown terms",
        help_text="Create the teams, contexts, mechanisms, themes and outcomes the file names that the programme "
        "lacks; otherwise each is an error.")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = membership.writable_programmes(user).order_by("name")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if os.path.splitext(upload.name)[1].lower() not in (".csv", ".xlsx"):
            raise forms.ValidationError("Choose a .csv or .xlsx file.")
        return upload


def _rows_of(report):
    """The report row by row for the preview table: [(where, created entries, errors)], file-wide
    problems first."""
    rows = {}
    for entry in report.entries:
        rows.setdefault(entry.where, ([], []))[0].append(entry)
    for problem in report.errors:
        rows.setdefault(problem.where, ([], []))[1].append(problem)

    def order(where):
        number = where.rsplit(" row ", 1)[-1] if " row " in where else ""
        return (int(number) if number.isdigit() else -1, where)

    return [(where, *rows[where]) for where in sorted(rows, key=order)]


def import_view(model_admin, request):
    opts = model_admin.model._meta
    if not model_admin.has_add_permission(request) or not writes_anywhere(request.user):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import configurations",
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "columns": COLUMNS.items(),
        "template_csv": reverse("admin:mechanisms_cmoconfiguration_import_template", args=["csv"]),
        "template_xlsx": reverse("admin:mechanisms_cmoconfiguration_import_template", args=["xlsx"]),
        "changelist_url": reverse("admin:mechanisms_cmoconfiguration_changelist"),
    }
    if request.method == "POST" and "token" in request.POST:
        return _confirm(model_admin, request, context)
    form = ConfigurationImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        programme, upload = form.cleaned_data["programme"], form.cleaned_data["file"]
        create_terms = form.cleaned_data["create_terms"]
        try:
            report = import_configurations(upload, programme, user=request.user, dry_run=True, create_terms=create_terms)
        except membership.ProgrammeWriteRefused as refusal:
            form.add_error("programme", refusal.message)
        else:
            context.update(report=report, rows=_rows_of(report), programme=programme, create_terms=create_terms)
            if report.ok:
                upload.seek(0)
                context["token"] = stage(request, STAGED, upload.read(), file_name_of(upload),
                                         {"programme": programme.slug, "create_terms": create_terms})
    context["form"] = form
    return TemplateResponse(request, "admin/mechanisms/cmoconfiguration/import.html", context)


def _confirm(model_admin, request, context):
    staged = unstage(request, STAGED, request.POST["token"])
    if staged is None:
        messages.error(request, "That upload is no longer waiting to be imported: upload the file again.")
        return HttpResponseRedirect(request.path)
    kept, data = staged
    programme = membership.writable_programmes(request.user).filter(slug=kept["programme"]).first()
    if programme is None:
        raise PermissionDenied
    report = import_configurations(ContentFile(data, name=kept["name"]), programme, user=request.user,
                                   create_terms=kept["create_terms"])
    if report.written:
        messages.success(request, report.summary())
        return HttpResponseRedirect(context["changelist_url"] + "?status=draft")
    # The knowledge base changed since the dry run: show why nothing was written.
    context.update(report=report, rows=_rows_of(report), programme=programme, create_terms=kept["create_terms"],
                   form=ConfigurationImportForm(user=request.user, initial={"programme": programme}))
    return TemplateResponse(request, "admin/mechanisms/cmoconfiguration/import.html", context)


def template_view(model_admin, request, extension):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if extension == "csv":
        response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    elif extension == "xlsx":
        response = HttpResponse(
            template_xlsx(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        raise Http404("The template is offered as .csv and .xlsx.")
    response["Content-Disposition"] = f'attachment; filename="cmo-configurations-template.{extension}"'
    return response
