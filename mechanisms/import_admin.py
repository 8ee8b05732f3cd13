"""The workbench's "Import configurations" page (/admin/mechanisms/cmoconfiguration/import/), linked
from the configuration list, and the template it offers (import/template.csv, import/template.xlsx).

Upload: a dry run of mechanisms/configuration_import.py in the background (an ImportRun,
evidence/import_runs.py), whose page shows its progress and then the report row by row (what would be
created, and the errors). Confirm, on that page: the same file imported for real, every check run
again, as another run the user can undo.
"""

import os

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from projects import membership
from projects.programme_admin import writes_anywhere

from .configuration_import import COLUMNS, template_csv, template_xlsx

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
    form = ConfigurationImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        from evidence.import_runs import ImportRun
        from evidence.import_runs_admin import run_url

        run = ImportRun.start(user=request.user, programme=form.cleaned_data["programme"], file=form.cleaned_data["file"],
                              kind="configurations", dry_run=True,
                              options={"create_terms": form.cleaned_data["create_terms"]})
        return HttpResponseRedirect(run_url(run))
    context["form"] = form
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
