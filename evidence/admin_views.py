"""Admin pieces for evidence: the coding page and the excerpt autocomplete with a useful label.

Coding page (/admin/evidence/source/<id>/code/): the source's full text rendered so that the DOM text
equals `Source.full_text` exactly, with existing excerpts as <mark>s. static/curation/coding.js turns a
selection into character offsets (code points, as EvidenceExcerpt.clean counts them) and opens the
excerpt add form with source, start, end and text as GET parameters.
"""

from django import forms
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from .models import EvidenceExcerpt, Source

LABEL_TEXT_CHARS = 70


def excerpt_label(excerpt):
    """'SHC · Patient · “I feel more in control…”': team, speaker role and the start of the text.

    Reads excerpt.team and excerpt.speaker_role: select_related them.
    """
    team = excerpt.team.short_name if excerpt.team_id else "no team"
    role = excerpt.speaker_role.name if excerpt.speaker_role_id else excerpt.get_kind_display()
    text = " ".join(excerpt.text.split())
    if len(text) > LABEL_TEXT_CHARS:
        text = text[: LABEL_TEXT_CHARS - 1] + "…"
    return f"{team} · {role} · “{text}” [{excerpt.slug}]"


def excerpt_label_queryset():
    return EvidenceExcerpt.objects.select_related("team", "speaker_role")


class ExcerptChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return excerpt_label(obj)


class ExcerptAutocompleteSelect(AutocompleteSelect):
    """The admin's select2 autocomplete, asking our excerpt endpoint for labelled results."""

    url_name = "%s:evidence_evidenceexcerpt_autocomplete"


class ExcerptAutocompleteJsonView(AutocompleteJsonView):
    def get_queryset(self):
        return super().get_queryset().select_related("team", "speaker_role")

    def serialize_result(self, obj, to_field_name):
        return {"id": str(getattr(obj, to_field_name)), "text": excerpt_label(obj)}


class ExcerptAutocompleteMixin:
    """For admins and inlines with a foreign key to EvidenceExcerpt: labelled autocomplete."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.remote_field.model is EvidenceExcerpt:
            kwargs.setdefault("widget", ExcerptAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using")))
            kwargs.setdefault("queryset", excerpt_label_queryset())
            kwargs.setdefault("form_class", ExcerptChoiceField)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _segments(text, excerpts):
    """Split `text` at every excerpt boundary: [(start, end, [excerpt, ...])], covering all of it."""
    length = len(text)
    bounds = {0, length}
    for e in excerpts:
        bounds.add(min(max(e.start, 0), length))
        bounds.add(min(max(e.end, 0), length))
    bounds = sorted(bounds)
    segments = []
    for a, b in zip(bounds, bounds[1:]):
        if a == b:
            continue
        covering = [e for e in excerpts if e.start <= a and e.end >= b]
        segments.append((a, b, covering))
    return segments


def _escape_exact(chunk):
    # The HTML parser turns a literal CR into LF; a character reference keeps it a CR, so the DOM
    # text stays equal to the source text.
    return str(escape(chunk)).replace("\r", "&#13;")


def render_coded_text(text, excerpts):
    """HTML whose text content is exactly `text`; excerpt spans are <mark>s carrying their offsets."""
    parts = []
    first_seen = set()
    for a, b, covering in _segments(text, excerpts):
        chunk = _escape_exact(text[a:b])
        if not covering:
            parts.append(chunk)
            continue
        anchors = "".join(
            f'<a id="excerpt-{e.pk}" class="excerpt-anchor"></a>' for e in covering if e.pk not in first_seen
        )
        first_seen.update(e.pk for e in covering)
        ids = " ".join(str(e.pk) for e in covering)
        title = escape("; ".join(f"{e.slug} ({e.start}–{e.end})" for e in covering))
        cls = "excerpt overlap" if len(covering) > 1 else "excerpt"
        parts.append(
            f'{anchors}<mark class="{cls}" data-start="{a}" data-end="{b}" data-excerpts="{ids}" title="{title}">{chunk}</mark>'
        )
    return mark_safe("".join(parts))


def coding_view(model_admin, request, object_id):
    """The coding page of one source. Queries: session/user, the source (with its programme), the
    user's memberships, its excerpts (with team, role). A source of a programme the user does not
    see does not exist here; excerpts are added only by those who write in its programme."""
    from projects.membership import can_write
    from projects.programme_admin import admin_visible

    source = get_object_or_404(admin_visible(Source.objects.select_related("programme"), request.user), pk=object_id)
    if not model_admin.has_view_permission(request, source):
        raise PermissionDenied
    excerpts = list(
        EvidenceExcerpt.objects.filter(source=source)
        .select_related("team", "speaker_role")
        .order_by("start", "end")
    )
    excerpt_admin = model_admin.admin_site.get_model_admin(EvidenceExcerpt)
    can_add = excerpt_admin.has_add_permission(request) and can_write(request.user, source.programme)
    opts = Source._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Code evidence: {source.title}",
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "original": source,
        "source": source,
        "source_length": len(source.full_text),
        "coded_text": render_coded_text(source.full_text, excerpts),
        "excerpts": [(e, excerpt_label(e)) for e in excerpts],
        "can_add_excerpt": can_add,
        "add_excerpt_url": reverse("admin:evidence_evidenceexcerpt_add"),
        "change_url": reverse("admin:evidence_source_change", args=[source.pk]),
        "media": forms.Media(js=["curation/coding.js"], css={"all": ["curation/curation.css"]}),
    }
    return TemplateResponse(request, "admin/evidence/source/code.html", context)


def coding_link(source):
    return format_html('<a href="{}">Code evidence</a>', reverse("admin:evidence_source_code", args=[source.pk]))


# --- Sources from documents ------------------------------------------------------------------------
# "Upload a document" (/admin/evidence/source/upload/): choose a file and a programme, see what would
# be created (a dry run of evidence/document_import.import_document, the function the command and the
# API use), then confirm. Between the two steps the file waits outside MEDIA_ROOT
# (evidence/staged_uploads.py), so a preview never confirmed stores nothing.

STAGED = "source_uploads"  # evidence/staged_uploads.py: the session's staged documents


class DocumentUploadForm(forms.Form):
    file = forms.FileField(help_text="A .txt, .md, .docx, .odt, .pdf, .html or .rtf document.")
    programme = forms.ModelChoiceField(queryset=None, help_text="The programmes you write in.")
    kind = forms.ModelChoiceField(queryset=None, required=False, help_text="Default: evaluation report.")
    title = forms.CharField(max_length=500, required=False, help_text="Default: the first heading, else the file name.")

    def __init__(self, *args, user=None, **kwargs):
        from projects.membership import writable_programmes

        from .models import SourceKind

        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = writable_programmes(user).order_by("name")
        self.fields["kind"].queryset = SourceKind.objects.all()


def upload_view(model_admin, request):
    """The workbench's door to import_document: a dry-run preview, then a confirmation. Only for
    those who may add sources; the programmes offered are those the user writes in, and the import
    checks the write rule again as the user."""
    from django.contrib import messages
    from django.http import HttpResponseRedirect

    from projects.membership import ProgrammeWriteRefused

    from .document_import import import_document
    from .documents import DocumentRefused, max_bytes
    from .staged_uploads import stage, unstage

    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Upload a document", "subtitle": None, "opts": Source._meta, "app_label": "evidence",
        "max_bytes": max_bytes(),
    }
    if request.method == "POST" and request.POST.get("confirm"):
        staged = unstage(request, STAGED, request.POST["confirm"])
        if staged is None:
            messages.error(request, "That preview has expired or was already confirmed: upload the document again.")
            return HttpResponseRedirect(reverse("admin:evidence_source_upload"))
        entry, data = staged
        from projects.models import Programme

        from .import_runs import ImportRun
        from .import_runs_admin import run_url

        programme = Programme.objects.filter(slug=entry["programme"]).first()
        if programme is None:
            messages.error(request, f"There is no programme '{entry['programme']}' any more.")
            return HttpResponseRedirect(reverse("admin:evidence_source_upload"))
        # The real import runs in the background as an ImportRun: its page shows its progress and report,
        # and it can be undone as one step. The write rule is checked again there, as the user.
        run = ImportRun.start(user=request.user, programme=programme, file=(entry["name"], data), kind="document",
                              options={"kind": entry["kind"], "title": entry["title"]})
        if run.written:
            created = Source.history.filter(history_change_reason__startswith=run.history_prefix, history_type="+")
            source = Source.objects.filter(pk__in=created.values("id")).first()
            if source is not None:
                messages.success(request, f"Source “{source.title}” created from {entry['name']}: "
                                          f"{len(source.full_text):,} characters, {len(source.outline)} headings "
                                          f"(import #{run.pk}, which can be undone from its page).")
                return HttpResponseRedirect(reverse("admin:evidence_source_change", args=[source.pk]))
        if run.ended and not run.written:
            messages.error(request, "; ".join(f"{p['where']}: {p['reason']}" for p in run.report["errors"])
                           or "Nothing was written.")
            return HttpResponseRedirect(reverse("admin:evidence_source_upload"))
        return HttpResponseRedirect(run_url(run))

    form = DocumentUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        programme, kind, title = form.cleaned_data["programme"], form.cleaned_data["kind"], form.cleaned_data["title"]
        try:
            report = import_document(upload, programme, user=request.user, kind=kind, title=title, dry_run=True)
        except DocumentRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else "file", refused.message)
        except ProgrammeWriteRefused as refused:
            form.add_error("programme", refused.message)
        else:
            if not report.ok:
                for problem in report.errors:
                    form.add_error("file", str(problem))
            else:
                upload.seek(0)
                token = stage(request, STAGED, upload.read(), report.file_name, {
                    "programme": programme.slug, "kind": report.source.kind.slug, "title": report.source.title})
                document = report.document
                return TemplateResponse(request, "admin/evidence/source/upload_preview.html", {
                    **context, "title": "Upload a document: preview", "report": report, "source": report.source,
                    "document": document, "characters": len(document.text), "first_lines": document.first_lines(),
                    "outline": [(h, "\u2003" * (h["level"] - 1)) for h in document.outline], "token": token,
                })
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "admin/evidence/source/upload.html", {**context, "form": form}, status=status)


def source_file_view(model_admin, request, object_id):
    """The original document of a source, as a download. Only for those who write in its programme
    (its evaluators and leads, and superusers): the file may be a private programme's, and is never
    at a public MEDIA_URL. A source the user cannot see is a 404, one without a file too."""
    from django.http import FileResponse, Http404

    from projects.membership import can_write
    from projects.programme_admin import admin_visible

    source = get_object_or_404(admin_visible(Source.objects.select_related("programme").defer("full_text"),
                                             request.user), pk=object_id)
    if not model_admin.has_view_permission(request, source) or not can_write(request.user, source.programme):
        raise PermissionDenied
    if not source.file:
        raise Http404("This source has no original document (its text was pasted).")
    try:
        handle = source.file.open("rb")
    except FileNotFoundError:
        raise Http404("The original document of this source is missing from the storage.") from None
    from pathlib import PurePath

    return FileResponse(handle, as_attachment=True, filename=PurePath(source.file.name).name)
