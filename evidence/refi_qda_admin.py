"""The workbench's "Import a QDA project" page (/admin/evidence/source/import-qda/), linked from the
source list: a REFI-QDA project (.qdpx) or codebook (.qdc) imported through evidence/refi_qda_import.py.

Upload: a dry run, shown element by element (what would be created or updated, and the errors, each
at its element and line). Confirm: the same file imported for real, every check run again. Between the
two the upload waits in evidence/staged_uploads.py (only the user who uploaded it can confirm it); it is
deleted once imported. As mechanisms/import_admin.py does for CMO spreadsheets.
"""

import os
import re

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from evidence.refi_qda_import import file_name_of, import_refi_qda
from evidence.staged_uploads import stage, unstage
from projects import membership
from projects.programme_admin import writes_anywhere

STAGED = "refi_qda_imports"  # evidence/staged_uploads.py: the session's staged projects
EXTENSIONS = (".qdpx", ".qdc")
_LINE = re.compile(r" line (\d+)\b")


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


def rows_of(report):
    """The report element by element for the preview: [(where, entries, errors)], in the file's
    order (by line; file-wide problems first)."""
    rows = {}
    for entry in report.entries:
        rows.setdefault(entry.where, ([], []))[0].append(entry)
    for problem in report.errors:
        rows.setdefault(problem.where, ([], []))[1].append(problem)

    def order(where):
        found = _LINE.search(where)
        return (int(found.group(1)) if found else -1, where)

    return [(where, *rows[where]) for where in sorted(rows, key=order)]


def import_view(model_admin, request):
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
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, context)
    form = RefiQdaImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        programme, upload, offsets = (form.cleaned_data[name] for name in ("programme", "file", "offsets"))
        try:
            report = import_refi_qda(upload, programme, user=request.user, dry_run=True, offsets=offsets)
        except membership.ProgrammeWriteRefused as refusal:
            form.add_error("programme", refusal.message)
        else:
            context.update(report=report, rows=rows_of(report), programme=programme, offsets=offsets)
            if report.ok:
                upload.seek(0)
                context["token"] = stage(request, STAGED, upload.read(), file_name_of(upload),
                                         {"programme": programme.slug, "offsets": offsets})
    context["form"] = form
    return TemplateResponse(request, "admin/evidence/source/import_qda.html", context)


def _confirm(request, context):
    staged = unstage(request, STAGED, request.POST["token"])
    if staged is None:
        messages.error(request, "That upload is no longer waiting to be imported: upload the file again.")
        return HttpResponseRedirect(request.path)
    kept, data = staged
    programme = membership.writable_programmes(request.user).filter(slug=kept["programme"]).first()
    if programme is None:
        raise PermissionDenied
    report = import_refi_qda(ContentFile(data, name=kept["name"]), programme, user=request.user, offsets=kept["offsets"])
    if report.written:
        messages.success(request, report.summary())
        return HttpResponseRedirect(context["changelist_url"] + f"?programme__id__exact={programme.pk}")
    # The knowledge base changed since the dry run: show why nothing was written.
    context.update(report=report, rows=rows_of(report), programme=programme, offsets=kept["offsets"],
                   form=RefiQdaImportForm(user=request.user, initial={"programme": programme, "offsets": kept["offsets"]}))
    return TemplateResponse(request, "admin/evidence/source/import_qda.html", context)
