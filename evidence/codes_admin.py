"""The workbench for a programme's thematic coding (evidence/codes.py): codes as a tree, codings,
memos and relations. CuratedAdmin (projects/admin.py) gives them what every programme's rows have:
rows of the programmes the user sees, writes where they write, choices of the row's programme,
history with the user, versions. The forms run the models' clean(), so the admin obeys the rules
the API does (a code under itself or under another programme's code, a coding of a group code or of
another programme's excerpt). Imported by evidence/admin.py.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.html import format_html

from cmo_kb.vocabulary import RULE
from projects.admin import CuratedAdmin
from projects.membership import visible_programmes

from .admin_views import excerpt_label
from .codes import Code, Coding, Memo, Relation
from .codes_api import group_code_refusal

PATH_SEPARATOR = " › "


class CodeTreeChangeList(ChangeList):
    """The page's codes with their paths from the top of their tree (Beliefs › Control › Fear): one
    more query, the names and parents of the codes of the page's programmes, whatever the depth."""

    def get_results(self, request):
        super().get_results(request)
        programmes = {code.programme_id for code in self.result_list}
        tree = {pk: (parent, name) for pk, parent, name in
                Code.objects.filter(programme__in=programmes).values_list("pk", "parent_id", "name")}
        for code in self.result_list:
            code.kb_path = code_path(code.pk, tree)


def code_path(pk, tree):
    """The names from the top of ``tree`` ({pk: (parent pk, name)}) down to ``pk``."""
    names, seen = [], set()
    while pk is not None and pk in tree and pk not in seen:
        seen.add(pk)
        parent, name = tree[pk]
        names.append(name)
        pk = parent
    return PATH_SEPARATOR.join(reversed(names))


class CodeForm(forms.ModelForm):
    class Meta:
        model = Code
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.instance.codable and cleaned.get("codable") is False:
            refusal = group_code_refusal(self.instance)
            if refusal:
                self.add_error("codable", ValidationError(refusal, code=RULE))
        return cleaned


@admin.register(Code)
class CodeAdmin(CuratedAdmin):
    form = CodeForm
    list_display = ("path", "swatch", "codable", "coding_count", "order", "programme")
    list_filter = ("programme", "codable")
    list_select_related = ("programme",)
    search_fields = ("name", "description", "guid")
    autocomplete_fields = ("programme", "parent")
    readonly_fields = ("coding_count", "created_by", "created_at", "updated_by", "updated_at")
    ordering = ("programme", "order", "id")
    fieldsets = (
        (None, {"fields": ("programme", "parent", "name", "description", ("colour", "codable", "order"))}),
        ("REFI-QDA", {"classes": ("collapse",), "fields": ("guid",),
                      "description": "Codes are matched by GUID on import and export, never by name."}),
        ("Record", {"classes": ("collapse",), "fields": ("coding_count", ("created_by", "created_at"),
                                                         ("updated_by", "updated_at"))}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(coding_count=Count("codings"))

    def get_changelist(self, request, **kwargs):
        return CodeTreeChangeList

    @admin.display(description="Code", ordering="name")
    def path(self, obj):
        return getattr(obj, "kb_path", None) or obj.name

    @admin.display(description="Colour")
    def swatch(self, obj):
        if not obj.colour:
            return "–"
        return format_html('<span style="display:inline-block;width:1em;height:1em;background:{};'
                           'border:1px solid #999;vertical-align:middle"></span> {}', obj.colour, obj.colour)

    @admin.display(description="Codings", ordering="coding_count")
    def coding_count(self, obj):
        return getattr(obj, "coding_count", None) if obj is not None and obj.pk else 0


class CoderListFilter(admin.SimpleListFilter):
    """By coder, offering the coders of the codings the user may see (not every account)."""

    title = "coder"
    parameter_name = "coder"

    def lookups(self, request, model_admin):
        coders = get_user_model()._default_manager.filter(
            pk__in=Coding.objects.filter(code__programme__in=visible_programmes(request.user).values("pk"))
            .values("coder_id")).order_by("username")
        return [(str(pk), username) for pk, username in coders.values_list("pk", "username")]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(coder_id=value) if value and value.isdigit() else queryset


@admin.register(Coding)
class CodingAdmin(CuratedAdmin):
    list_display = ("code", "excerpt_text", "coder", "created", "programme")
    list_filter = (CoderListFilter, "code")
    list_select_related = ("code__programme", "coder", "excerpt__team", "excerpt__speaker_role")
    search_fields = ("code__name", "excerpt__slug", "excerpt__text", "coder__username", "guid")
    autocomplete_fields = ("code", "excerpt")
    readonly_fields = ("created_by", "created_at", "updated_by", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "excerpt", ("coder", "created"))}),
        ("REFI-QDA", {"classes": ("collapse",), "fields": ("guid",)}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )

    def get_queryset(self, request):
        from .blind_coding import visible_codings

        return visible_codings(super().get_queryset(request), request.user)

    def get_urls(self):
        from django.urls import path

        from .agreement_admin import agreement_view

        def agreement(request):
            if not self.has_view_permission(request):
                from django.core.exceptions import PermissionDenied

                raise PermissionDenied
            return agreement_view(self, request)

        return [path("agreement/", self.admin_site.admin_view(agreement), name="evidence_coding_agreement")] \
            + super().get_urls()

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("coder", request.user.pk)  # who codes it, unless an import said otherwise
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "coder":
            kwargs["queryset"] = get_user_model()._default_manager.filter(is_active=True).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Excerpt", ordering="excerpt__start")
    def excerpt_text(self, obj):
        return excerpt_label(obj.excerpt)

    @admin.display(description="Programme", ordering="code__programme__slug")
    def programme(self, obj):
        return obj.code.programme


@admin.register(Memo)
class MemoAdmin(CuratedAdmin):
    list_display = ("__str__", "programme", "updated_by", "updated_at")
    list_filter = ("programme",)
    list_select_related = ("programme", "updated_by")
    search_fields = ("name", "text", "guid")
    autocomplete_fields = ("programme", "codes", "excerpts", "sources")
    readonly_fields = ("created_by", "created_at", "updated_by", "updated_at")
    fieldsets = (
        (None, {"fields": ("programme", "name", "text")}),
        ("About", {"fields": ("codes", "excerpts", "sources")}),
        ("REFI-QDA", {"classes": ("collapse",), "fields": ("guid",)}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )


@admin.register(Relation)
class RelationAdmin(CuratedAdmin):
    list_display = ("__str__", "origin", "direction", "target", "programme")
    list_filter = ("programme", "direction")
    list_select_related = ("programme", "origin_code", "target_code", "origin_excerpt__team", "origin_excerpt__speaker_role",
                           "target_excerpt__team", "target_excerpt__speaker_role")
    search_fields = ("name", "guid", "origin_code__name", "target_code__name")
    autocomplete_fields = ("programme", "origin_code", "origin_excerpt", "target_code", "target_excerpt")
    readonly_fields = ("created_by", "created_at", "updated_by", "updated_at")
    fieldsets = (
        (None, {"fields": ("programme", "name", ("direction", "colour"))}),
        ("From", {"fields": (("origin_code", "origin_excerpt"),), "description": "A code or an excerpt."}),
        ("To", {"fields": (("target_code", "target_excerpt"),), "description": "A code or an excerpt."}),
        ("REFI-QDA", {"classes": ("collapse",), "fields": ("guid",)}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )

    @admin.display(description="From")
    def origin(self, obj):
        return obj.origin_code or (excerpt_label(obj.origin_excerpt) if obj.origin_excerpt_id else "–")

    @admin.display(description="To")
    def target(self, obj):
        return obj.target_code or (excerpt_label(obj.target_excerpt) if obj.target_excerpt_id else "–")
