"""The workbench's "Import a QDA project" page (/admin/evidence/source/import-qda/), linked from the
source list: a REFI-QDA project (.qdpx) or codebook (.qdc) imported through evidence/refi_qda_import.py.

Upload: a dry run in the background (an ImportRun, evidence/import_runs.py) whose page shows its
progress and then the report element by element (what would be created or updated, and the errors,
each at its element and line); confirm there, and the same file is imported for real, every check run
again; the real run's page offers its undo. As mechanisms/import_admin.py does for CMO spreadsheets.
"""

import os

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from projects import membership
from projects.programme_admin import writes_anywhere

EXTENSIONS = (".qdpx", ".qdc")


class RefiQdaImportForm(forms.Form):
    programme = forms.ModelChoiceField(queryset=None, to_field_name="slug",
                                       help_text="Only the programmes you write in are offered.")
    file = forms.FileField(help_text="A REFI-QDA project (.qdpx) or codebook (.qdc) from NVivo, ATLAS.ti, MAXQDA, "
                           "QualCoder, Taguette or CMO KB.")
    offsets = forms.ChoiceField(
        choices=[("codepoints", "Characters (REFI-QDA's rule)"),
                 ("utf16", "UTF-16 units (an emoji or other character outside the BMP counts two)")],
        initial="codepoints", label="Positions count",
        help_text="Change it only when the report says a selection fits its text counted in UTF-16 units.")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = membership.writable_programmes(user).order_by("name")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if os.path.splitext(upload.name)[1].lower() not in EXTENSIONS:
            raise forms.ValidationError("Choose a .qdpx project or a .qdc codebook.")
        return upload


def import_view(model_admin, request):
    """The upload becomes a dry run in the background (an ImportRun, evidence/import_runs.py): its page
    shows the progress, then the report element by element, and without errors the button that
    imports the file for real; the real run's page offers its undo."""
    opts = model_admin.model._meta
    if not model_admin.has_add_permission(request) or not writes_anywhere(request.user):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import a QDA project",
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "changelist_url": reverse("admin:evidence_source_changelist"),
    }
    form = RefiQdaImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        from evidence.import_runs import ImportRun
        from evidence.import_runs_admin import run_url

        run = ImportRun.start(user=request.user, programme=form.cleaned_data["programme"], file=form.cleaned_data["file"],
                              kind="refi-qda", dry_run=True, options={"offsets": form.cleaned_data["offsets"]})
        return HttpResponseRedirect(run_url(run))
    context["form"] = form
    return TemplateResponse(request, "admin/evidence/source/import_qda.html", context)
