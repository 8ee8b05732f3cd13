"""Admin for sources, excerpts and evidence links, including the coding page."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from mechanisms.admin import COMPACT_TEXT, ConfigurationChildAdminMixin
from mechanisms.publish_lock import check_source_text
from projects.admin import CuratedAdmin, VocabularyAdmin
from projects.programme_admin import ProgrammeInlineMixin, admin_visible

from . import workspace
from .admin_views import ExcerptAutocompleteJsonView, coding_view, excerpt_label, source_file_view, upload_view
from .workspace import workspace_link
from .models import (
    EvaluationWave,
    EvidenceExcerpt,
    EvidenceLink,
    MeasurementInstrument,
    Source,
    SourceKind,
    SpeakerRole,
)

CONTEXT_CHARS = 200


@admin.register(SourceKind)
class SourceKindAdmin(VocabularyAdmin):
    pass


@admin.register(EvaluationWave)
class EvaluationWaveAdmin(VocabularyAdmin):
    list_display = ("number", "name", "period", "slug")
    list_editable = ()
    ordering = ("number",)


@admin.register(MeasurementInstrument)
class MeasurementInstrumentAdmin(VocabularyAdmin):
    list_display = ("name", "abbreviation", "slug", "order")
    search_fields = ("name", "abbreviation", "slug", "description")


@admin.register(SpeakerRole)
class SpeakerRoleAdmin(VocabularyAdmin):
    pass


@admin.register(Source)
class SourceAdmin(CuratedAdmin):
    change_form_template = "admin/evidence/source/change_form.html"
    change_list_template = "admin/evidence/source/change_list.html"
    list_display = ("title", "kind", "date", "programme", "excerpt_count", "text_length", "code_link", "workspace_link")
    list_filter = ("kind", "programme")
    list_select_related = ("kind", "programme")
    search_fields = ("title", "slug", "authors", "publisher")
    autocomplete_fields = ("kind", "programme")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("original", "extractor", "extractor_version", "created_by", "created_at", "updated_by", "updated_at")
    # A URL typed without a scheme is taken as https (Django 6.0's default, adopted now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("title", "slug", "kind", "programme", ("authors", "publisher"), ("date", "url"))}),
        ("Full text", {"fields": ("full_text",),
                       "description": "Verbatim. Excerpts point into it by character offsets: changing text "
                                      "before an excerpt breaks it, and such a change is refused."}),
        ("Original document", {"classes": ("collapse",), "fields": ("original", ("extractor", "extractor_version"), "outline"),
                               "description": "Set by “Upload a document”: the file the text was read from and its headings."}),
        ("Blind comparison", {"fields": ("coding_blind",),
                              "description": "Two or more evaluators code this source independently: each sees only "
                                             "their own codings until a lead turns this off, then compares them under "
                                             "Codings › Inter-coder agreement."}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )

    def get_readonly_fields(self, request, obj=None):
        # Only a lead of the programme starts or ends a blind comparison (evidence/blind_coding.py
        # refuses it at save for everyone else, whatever the door).
        from projects.membership import can_publish

        fields = super().get_readonly_fields(request, obj)
        if obj is not None and not (request.user.is_superuser or can_publish(request.user, obj.programme_id)):
            fields = (*fields, "coding_blind")
        return fields

    def get_queryset(self, request):
        # The full text can be hundreds of kilobytes: lists only need its length.
        from django.db.models.functions import Length

        return (
            super().get_queryset(request)
            .annotate(excerpt_count=Count("excerpts"), text_length=Length("full_text"))
            .defer("full_text")
        )

    @admin.display(description="Excerpts", ordering="excerpt_count")
    def excerpt_count(self, obj):
        return obj.excerpt_count

    @admin.display(description="Characters", ordering="text_length")
    def text_length(self, obj):
        return obj.text_length

    @admin.display(description="Coding")
    def code_link(self, obj):
        return format_html('<a href="{}">Code evidence</a>', reverse("admin:evidence_source_code", args=[obj.pk]))

    @admin.display(description="Workspace")
    def workspace_link(self, obj):
        return workspace_link(obj)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/workspace/", self.admin_site.admin_view(self.workspace_view),
                 name="%s_%s_workspace" % info),
            path("<path:object_id>/workspace/passage/", self.admin_site.admin_view(self.workspace_passage_view),
                 name="%s_%s_workspace_passage" % info),
            path("<path:object_id>/workspace/configuration/",
                 self.admin_site.admin_view(self.workspace_configuration_view),
                 name="%s_%s_workspace_configuration" % info),
            path("upload/", self.admin_site.admin_view(self.upload_view), name="%s_%s_upload" % info),
            path("import-qda/", self.admin_site.admin_view(self.import_qda_view), name="%s_%s_import_qda" % info),
            path("<path:object_id>/code/", self.admin_site.admin_view(self.code_view), name="%s_%s_code" % info),
            path("<path:object_id>/original/", self.admin_site.admin_view(self.original_view), name="%s_%s_original" % info),
        ] + super().get_urls()

    # The coding workspace (evidence/workspace.py): the page, and its JSON actions.
    def workspace_view(self, request, object_id):
        return workspace.workspace_view(self, request, object_id)

    def workspace_passage_view(self, request, object_id):
        return workspace.passage_view(self, request, object_id)

    def workspace_configuration_view(self, request, object_id):
        return workspace.configuration_view(self, request, object_id)

    def code_view(self, request, object_id):
        return coding_view(self, request, object_id)

    def upload_view(self, request):
        return upload_view(self, request)

    def import_qda_view(self, request):
        from evidence.refi_qda_admin import import_view

        return import_view(self, request)

    def original_view(self, request, object_id):
        return source_file_view(self, request, object_id)

    @admin.display(description="Original")
    def original(self, obj):
        if obj is None or not obj.file:
            return "None: the text was pasted."
        from pathlib import PurePath

        return format_html('<a href="{}">{}</a>', reverse("admin:evidence_source_original", args=[obj.pk]),
                           PurePath(obj.file.name).name)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "full_text":
            kwargs["strip"] = False  # verbatim: excerpts count characters into it
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            form = _source_form_keeping_text(form, obj)
        return form


def _source_form_keeping_text(base, source):
    """The full text is verbatim and fixed once an excerpt points into it (mechanisms/publish_lock.py);
    a browser's CRLF line breaks for the stored LF are the same text, not a change."""

    class SourceForm(base):
        def clean_full_text(self):
            new_text = self.cleaned_data["full_text"]
            stored = Source.objects.filter(pk=source.pk).values_list("full_text", flat=True).first()
            if stored is not None and new_text != stored and new_text.replace("\r\n", "\n") == stored.replace("\r\n", "\n"):
                new_text = stored
            try:
                check_source_text(source, new_text)
            except ValidationError as error:
                raise ValidationError(error.messages) from error
            return new_text

    return SourceForm


class SourceListFilter(admin.SimpleListFilter):
    """Filter by source without loading every source's full text (the default filter loads whole
    rows), offering the sources of the programmes the user sees."""

    title = "source"
    parameter_name = "source__id__exact"

    def lookups(self, request, model_admin):
        sources = admin_visible(Source.objects.all(), request.user)
        return [(str(pk), title) for pk, title in sources.order_by("title").values_list("pk", "title")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(source_id=self.value())
        return queryset


class EvidenceLinkFromExcerptInline(ProgrammeInlineMixin, admin.TabularInline):
    model = EvidenceLink
    extra = 1
    fields = ("configuration", "part", "stance", "note")
    autocomplete_fields = ("configuration",)
    verbose_name = "link to a configuration"
    verbose_name_plural = "Links to configurations"
    formfield_overrides = COMPACT_TEXT

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("configuration")


class EvidenceExcerptForm(forms.ModelForm):
    # Not stripped: an excerpt may begin or end with white space, and must match verbatim.
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 90}), strip=False,
        help_text="Exactly the source's text between the offsets (filled in by the coding page).",
    )

    class Meta:
        model = EvidenceExcerpt
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        text, source = cleaned.get("text"), cleaned.get("source")
        start, end = cleaned.get("start"), cleaned.get("end")
        if text and source is not None and start is not None and end is not None:
            actual = source.full_text[start:end]
            # Browsers submit a textarea's line breaks as CRLF; that is the only difference forgiven.
            if text != actual and text.replace("\r\n", "\n") == actual.replace("\r\n", "\n"):
                cleaned["text"] = actual
        return cleaned


@admin.register(EvidenceExcerpt)
class EvidenceExcerptAdmin(CuratedAdmin):
    form = EvidenceExcerptForm
    list_display = ("slug", "short_text", "team", "speaker_role", "kind", "source", "start", "end", "link_count")
    list_filter = ("kind", "team", "speaker_role", "wave", SourceListFilter)
    list_select_related = ("source", "team", "speaker_role")
    search_fields = ("slug", "text", "attribution", "section")
    autocomplete_fields = ("source", "team", "speaker_role", "wave")
    readonly_fields = ("in_context", "created_by", "created_at", "updated_by", "updated_at")
    fieldsets = (
        (None, {"fields": ("slug", "kind", "source", ("start", "end"), "text", "in_context")}),
        ("Attribution", {"fields": ("team", "speaker_role", "attribution", "section", "wave", "note")}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )
    inlines = (EvidenceLinkFromExcerptInline,)

    class Media:
        css = {"all": ("curation/curation.css",)}

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(link_count=Count("links"))
            .defer("source__full_text")
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        autocomplete = ExcerptAutocompleteJsonView.as_view(admin_site=self.admin_site)
        return [
            path("autocomplete/", self.admin_site.admin_view(autocomplete), name="%s_%s_autocomplete" % info),
        ] + super().get_urls()

    @admin.display(description="Text")
    def short_text(self, obj):
        return str(obj)

    @admin.display(description="Links", ordering="link_count")
    def link_count(self, obj):
        return obj.link_count

    @admin.display(description="In context")
    def in_context(self, obj):
        if obj is None or obj.pk is None:
            return "Shown once saved."
        full = obj.source.full_text
        return format_html(
            '<div class="excerpt-context">…{}<mark>{}</mark>{}… <a href="{}#excerpt-{}">open in the coding page</a></div>',
            full[max(0, obj.start - CONTEXT_CHARS) : obj.start], full[obj.start : obj.end],
            full[obj.end : obj.end + CONTEXT_CHARS],
            reverse("admin:evidence_source_code", args=[obj.source_id]), obj.pk,
        )

    def get_changeform_initial_data(self, request):
        """Prefill from the coding page: ?source=<id>&start=&end=&text= (text derived when absent)."""
        initial = super().get_changeform_initial_data(request)
        source_id = initial.get("source")
        try:
            start, end = int(initial.get("start", "")), int(initial.get("end", ""))
        except ValueError:
            return initial
        source = Source.objects.filter(pk=source_id).only("slug", "full_text").first() if source_id else None
        if source is None:
            return initial
        if "text" not in initial:
            initial["text"] = source.full_text[start:end]
        initial.setdefault("slug", f"{source.slug}-{start}-{end}"[:120])
        return initial

    def response_add(self, request, obj, post_url_continue=None):
        # Coming from the coding page, "Save" goes back to it, at the new excerpt.
        if request.GET.get("_coding") and "_continue" not in request.POST and "_addanother" not in request.POST:
            self.message_user(request, f"Excerpt “{obj.slug}” created ({obj.start}–{obj.end}).")
            return HttpResponseRedirect(
                reverse("admin:evidence_source_code", args=[obj.source_id]) + f"#excerpt-{obj.pk}"
            )
        return super().response_add(request, obj, post_url_continue)


@admin.register(EvidenceLink)
class EvidenceLinkAdmin(ConfigurationChildAdminMixin, CuratedAdmin):
    list_display = ("excerpt_label", "configuration", "part", "stance", "updated_by")
    list_filter = ("part", "stance", "relevance", "rigour", "configuration__status", "excerpt__team")
    list_select_related = ("excerpt__team", "excerpt__speaker_role", "configuration", "updated_by")
    search_fields = ("excerpt__text", "excerpt__slug", "configuration__title", "configuration__slug", "note")
    autocomplete_fields = ("excerpt", "configuration")

    @admin.display(description="Excerpt", ordering="excerpt__start")
    def excerpt_label(self, obj):
        return excerpt_label(obj.excerpt)


# Codes, codings, memos and relations (issue 12): their own module, registered with the rest.
from . import codes_admin  # noqa: E402,F401

# Imports in the background, their progress, report and undo: evidence/import_runs_admin.py.
from .import_runs import ImportRun  # noqa: E402
from .import_runs_admin import ImportRunAdmin  # noqa: E402

admin.site.register(ImportRun, ImportRunAdmin)

# django-tasks-db registers its queue table in the admin; the import runs' own pages say all a user needs
# (status, progress, report), and the queue's rows hold task arguments only: kept out of the workbench.
try:
    from django_tasks_db.models import DBTaskResult  # noqa: E402

    admin.site.unregister(DBTaskResult)
except (ImportError, admin.exceptions.NotRegistered):  # the app not installed, or loaded after this one
    pass
