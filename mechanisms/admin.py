"""Admin for the CMO vocabulary and the configurations, with the review workflow."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Prefetch
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from cmo_kb.vocabulary import ReviewStatus
from evidence.admin_views import ExcerptAutocompleteMixin
from evidence.models import EvidenceLink
from projects import membership
from projects.admin import CuratedAdmin, VocabularyAdmin, stamp_user
from projects.models import Team
from projects.programme_admin import ProgrammeInlineMixin, leads_anywhere, writes_anywhere

from . import import_admin, publish_lock, review, workflow
from .models import (
    ConfigurationChain,
    CMOConfiguration,
    ConceptMapping,
    ConfigurationPathway,
    Context,
    EnablingMechanism,
    EssentialBuildingBlock,
    Framework,
    FrameworkConcept,
    MechanismTheme,
    Outcome,
    OutcomeKind,
    Pathway,
    RelationshipPair,
    WishDimension,
    WishPole,
    WishShift,
)


class MechanismThemeInlineForm(forms.ModelForm):
    """A theme is of its mechanism's programme (MechanismTheme.save), and its slug unique there: the
    inline has no programme field, so the database constraint is asked here, as a slug error."""

    class Meta:
        model = MechanismTheme
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        mechanism, slug = cleaned.get("mechanism"), cleaned.get("slug")
        programme_id = getattr(mechanism, "programme_id", None)
        if slug and programme_id and (
            MechanismTheme.objects.filter(programme_id=programme_id, slug=slug).exclude(pk=self.instance.pk).exists()
        ):
            self.add_error("slug", "Mechanism theme with this slug already exists in this programme.")
        return cleaned


class MechanismThemeFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        seen = set()
        for form in self.forms:
            slug = form.cleaned_data.get("slug") if form.cleaned_data and not form.cleaned_data.get("DELETE") else None
            if slug in seen:
                form.add_error("slug", "Two themes here have this slug: a slug is unique in the programme.")
            seen.add(slug)


class MechanismThemeInline(ProgrammeInlineMixin, admin.TabularInline):
    model = MechanismTheme
    form = MechanismThemeInlineForm
    formset = MechanismThemeFormSet
    extra = 0
    fields = ("name", "slug", "order", "description")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(EnablingMechanism)
class EnablingMechanismAdmin(VocabularyAdmin):
    list_display = ("name", "short_name", "slug", "order", "configuration_count")
    inlines = (MechanismThemeInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(configuration_count=Count("configurations"))

    @admin.display(description="Configurations", ordering="configuration_count")
    def configuration_count(self, obj):
        return obj.configuration_count


@admin.register(MechanismTheme)
class MechanismThemeAdmin(VocabularyAdmin):
    list_display = ("name", "mechanism", "slug", "order")
    list_filter = ("mechanism",)
    list_select_related = ("mechanism",)
    autocomplete_fields = ("mechanism",)
    search_fields = ("name", "slug", "description", "mechanism__name")
    ordering = ("mechanism__order", "order", "name")


class WishPoleInline(admin.TabularInline):
    model = WishPole
    extra = 0
    max_num = 2
    fields = ("position", "name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(WishDimension)
class WishDimensionAdmin(VocabularyAdmin):
    inlines = (WishPoleInline,)


@admin.register(WishPole)
class WishPoleAdmin(VocabularyAdmin):
    list_display = ("name", "dimension", "position", "slug")
    list_editable = ()
    list_filter = ("dimension",)
    list_select_related = ("dimension",)
    autocomplete_fields = ("dimension",)
    search_fields = ("name", "slug", "dimension__name")
    ordering = ("dimension__order", "position")


@admin.register(RelationshipPair)
class RelationshipPairAdmin(VocabularyAdmin):
    pass


@admin.register(Context)
class ContextAdmin(VocabularyAdmin):
    list_display = ("name", "category", "slug", "order")
    list_filter = ("category",)
    search_fields = ("name", "slug", "description", "category")


@admin.register(OutcomeKind)
class OutcomeKindAdmin(VocabularyAdmin):
    pass


@admin.register(Outcome)
class OutcomeAdmin(VocabularyAdmin):
    list_display = ("name", "kind", "slug", "order")
    list_filter = ("kind", "quality_domains")
    list_select_related = ("kind",)
    autocomplete_fields = ("kind", "quality_domains")


@admin.register(Pathway)
class PathwayAdmin(VocabularyAdmin):
    list_display = ("letter", "name", "example_team", "slug")
    list_editable = ()
    list_select_related = ("example_team",)
    search_fields = ("letter", "name", "slug", "description")
    autocomplete_fields = ("example_team",)
    ordering = ("letter",)


@admin.register(EssentialBuildingBlock)
class EssentialBuildingBlockAdmin(VocabularyAdmin):
    pass


class FrameworkConceptInline(admin.TabularInline):
    model = FrameworkConcept
    extra = 0
    fields = ("name", "slug", "order", "description", "note")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Framework)
class FrameworkAdmin(VocabularyAdmin):
    inlines = (FrameworkConceptInline,)


@admin.register(FrameworkConcept)
class FrameworkConceptAdmin(VocabularyAdmin):
    list_display = ("name", "framework", "slug", "order")
    list_filter = ("framework",)
    list_select_related = ("framework",)
    autocomplete_fields = ("framework",)
    ordering = ("framework__order", "order", "name")


# --- Configurations -----------------------------------------------------------------------------


def _locked_for(request, obj):
    """The publish lock (mechanisms/publish_lock.py) as the admin shows it on a configuration's own
    page: a published one is read-only, with its inlines, for those who may not change it."""
    return (obj is not None and obj.status == ReviewStatus.PUBLISHED
            and not publish_lock.may_change_published(request.user, obj.programme_id))


COMPACT_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}


class LockedWhenPublishedInlineMixin:
    formfield_overrides = COMPACT_TEXT

    def has_add_permission(self, request, obj=None):
        return not _locked_for(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _locked_for(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _locked_for(request, obj) and super().has_delete_permission(request, obj)


class ConfigurationChildAdminMixin:
    """For rows that belong to a configuration (evidence links, Wish shifts, pathways) edited on their
    own pages: read-only while their configuration is locked. (Moving one to a published
    configuration, or deleting one, is refused by the publish lock naming the configuration, like
    every other change: the delete page and the bulk delete list each refused row.)"""

    def has_change_permission(self, request, obj=None):
        return not (obj is not None and _locked_for(request, obj.configuration)) and super().has_change_permission(
            request, obj
        )


class EvidenceLinkFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if self.instance.pk and self.instance.status == ReviewStatus.PUBLISHED:
            kept = [
                f for f in self.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("excerpt")
            ]
            if not kept:
                raise ValidationError(
                    "A published configuration needs at least one evidence link. Return it to draft first "
                    "to remove its last link."
                )


class EvidenceLinkInline(LockedWhenPublishedInlineMixin, ProgrammeInlineMixin, ExcerptAutocompleteMixin, admin.TabularInline):
    model = EvidenceLink
    formset = EvidenceLinkFormSet
    extra = 1
    fields = ("excerpt", "part", "stance", "note", "relevance", "rigour")
    autocomplete_fields = ("excerpt",)
    verbose_name = "evidence link"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("excerpt__team", "excerpt__speaker_role")


class WishShiftInline(LockedWhenPublishedInlineMixin, ProgrammeInlineMixin, admin.TabularInline):
    model = WishShift
    extra = 0
    fields = ("dimension", "toward", "between", "note")
    autocomplete_fields = ("dimension", "toward", "between")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("dimension", "toward__dimension", "between")


class ConfigurationPathwayInline(LockedWhenPublishedInlineMixin, ProgrammeInlineMixin, admin.TabularInline):
    model = ConfigurationPathway
    extra = 0
    fields = ("order", "pathway")
    autocomplete_fields = ("pathway",)
    verbose_name = "RAND pathway"
    verbose_name_plural = "RAND pathways (in order, e.g. A then D)"


class CMOConfigurationForm(forms.ModelForm):
    class Meta:
        model = CMOConfiguration
        fields = "__all__"

    # Where a configuration named without its programme belongs, as the model has it: the programme
    # of its mechanism, theme, teams, contexts or outcomes.
    PROGRAMME_FROM = ("mechanism", "theme", "teams", "contexts", "outcomes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "programme" in self.fields:
            self.fields["programme"].required = False
            self.fields["programme"].help_text = (
                "Left empty, the programme of the mechanism (or theme, teams, contexts, outcomes) chosen."
            )

    def _post_clean(self):
        super()._post_clean()
        if self.instance.pk is not None:
            # Status moves only through the workflow (save_model keeps the stored one, even on a
            # history revert): the publish lock checks the configuration with the status it will keep.
            stored = CMOConfiguration.objects.filter(pk=self.instance.pk).values_list("status", flat=True).first()
            self.instance.status = stored or self.instance.status

    def clean(self):
        cleaned = super().clean()
        if "programme" in self.fields and not cleaned.get("programme") and "programme" not in self._errors:
            cleaned["programme"] = self._programme_from_choices(cleaned)
            if cleaned["programme"] is None:
                self.add_error("programme", "Choose the programme the configuration belongs to.")
        if self.instance.pk and self.instance.status == ReviewStatus.PUBLISHED:
            # A published configuration keeps what publishing required; to take it apart, unpublish first.
            for name, label in (("mechanism", "a mechanism"), ("contexts", "at least one context"),
                                ("outcomes", "at least one outcome")):
                if name in cleaned and not cleaned[name]:
                    self.add_error(name, f"A published configuration needs {label}. Return it to draft first.")
        return cleaned

    def _programme_from_choices(self, cleaned):
        for name in self.PROGRAMME_FROM:
            value = cleaned.get(name)
            chosen = list(value) if hasattr(value, "__iter__") else [value] if value else []
            if chosen:
                return chosen[0].programme
        return None


class StatusFilter(admin.SimpleListFilter):
    title = "review status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ReviewStatus.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


@admin.register(CMOConfiguration)
class CMOConfigurationAdmin(CuratedAdmin):
    form = CMOConfigurationForm
    change_form_template = "admin/mechanisms/cmoconfiguration/change_form.html"
    change_list_template = "admin/mechanisms/cmoconfiguration/change_list.html"
    list_display = (
        "title", "team_list", "mechanism_short", "effect", "influence", "status_badge", "evidence_count",
        "updated_by", "updated_at",
    )
    list_filter = (StatusFilter, "effect", "influence", "mechanism", "teams", "confidence", "relationship_level",
                   "quality_domains")
    list_select_related = ("mechanism", "updated_by")
    search_fields = ("title", "slug", "statement", "activity", "resource", "reasoning", "notes")
    autocomplete_fields = ("programme", "teams", "contexts", "mechanism", "theme", "outcomes", "relationship_level",
                           "quality_domains")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("status", "publication_check", "created_by", "created_at", "updated_by", "updated_at")
    fieldsets = (
        (None, {"fields": ("programme", "title", "slug", "teams", "statement")}),
        ("Context", {"classes": ("cmo-part", "cmo-context"), "fields": ("contexts",)}),
        ("Mechanism", {"classes": ("cmo-part", "cmo-mechanism"),
                       "fields": ("activity", "resource", "reasoning", ("mechanism", "theme"), "effect")}),
        ("Outcome", {"classes": ("cmo-part", "cmo-outcome"), "fields": ("outcomes", "quality_domains")}),
        ("Classification", {"fields": (("influence", "confidence"), "relationship_level")}),
        ("Confidence, assessed (GRADE-CERQual)", {"classes": ("collapse",), "fields": (
            ("methodological_limitations", "methodological_limitations_explanation"),
            ("coherence", "coherence_explanation"), ("adequacy", "adequacy_explanation"),
            ("relevance", "relevance_explanation"), ("assessed_confidence", "assessed_confidence_reason"))}),
        ("Review", {"fields": ("status", "publication_check", "notes",
                               ("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )
    inlines = (WishShiftInline, EvidenceLinkInline, ConfigurationPathwayInline)
    actions = ("submit_for_review_action", "publish_action", "return_to_draft_action")
    history_list_display = ("status",)

    class Media:
        css = {"all": ("curation/curation.css",)}

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(evidence_count=Count("evidence_links", distinct=True))
            .prefetch_related(Prefetch("teams", queryset=Team.objects.only("id", "short_name", "name", "order")))
        )

    # --- list columns
    @admin.display(description="Teams")
    def team_list(self, obj):
        return ", ".join(t.short_name or t.name for t in obj.teams.all())

    @admin.display(description="Mechanism", ordering="mechanism__order")
    def mechanism_short(self, obj):
        return (obj.mechanism.short_name or obj.mechanism.name) if obj.mechanism_id else "—"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="review-status review-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Evidence", ordering="evidence_count")
    def evidence_count(self, obj):
        return obj.evidence_count

    @admin.display(description="Ready to publish?")
    def publication_check(self, obj):
        if obj is None or obj.pk is None:
            return "Save first."
        problems = obj.publication_problems()
        if not problems:
            return "Yes: it has a mechanism, contexts, outcomes and evidence."
        return format_html("No: {}.", "; ".join(problems))

    # --- permissions: published rows are locked for evaluators
    def has_change_permission(self, request, obj=None):
        return not _locked_for(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _locked_for(request, obj) and super().has_delete_permission(request, obj)

    def has_publish_permission(self, request):
        # Whether the publish action is offered: the user leads some programme; the configurations
        # acted on are checked against their own programmes (_bulk).
        return leads_anywhere(request.user)

    def save_model(self, request, obj, form, change):
        # Status only moves through the workflow (buttons and actions), never through the form or a
        # history revert: a new configuration is a draft; a changed one keeps its stored status.
        if change:
            obj.status = CMOConfiguration.objects.filter(pk=obj.pk).values_list("status", flat=True).get()
        else:
            obj.status = ReviewStatus.DRAFT
        super().save_model(request, obj, form, change)

    # --- workflow
    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            # Before the object URLs, which would take "import" for an object id.
            path("import/", self.admin_site.admin_view(self.import_view), name="%s_%s_import" % info),
            path("import/template.<str:extension>", self.admin_site.admin_view(self.import_template_view),
                 name="%s_%s_import_template" % info),
            path("review/", self.admin_site.admin_view(self.review_queue_view), name="%s_%s_review" % info),
            path("<path:object_id>/workflow/<str:action>/", self.admin_site.admin_view(self.workflow_view),
                 name="%s_%s_workflow" % info),
            path("<path:object_id>/comments/", self.admin_site.admin_view(self.comment_view),
                 name="%s_%s_comment" % info),
        ] + super().get_urls()

    # --- CMO spreadsheets (mechanisms/import_admin.py)
    def import_view(self, request):
        return import_admin.import_view(self, request)

    def import_template_view(self, request, extension):
        return import_admin.template_view(self, request, extension)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         # (the memberships are read once a request and kept: no query of its own)
                         "can_import": self.has_add_permission(request) and writes_anywhere(request.user),
                         "review_queue_url": review.queue_url() if writes_anywhere(request.user) else None}
        return super().changelist_view(request, extra_context)

    # --- review (mechanisms/review.py)
    def review_queue_view(self, request):
        return review.queue_view(self, request)

    def comment_view(self, request, object_id):
        return review.comment_view(self, request, object_id)

    def response_change(self, request, obj):
        # A workflow button of the change form ("_workflow") saves the form first, then moves the
        # configuration: what was typed is never lost to a transition (issue 13).
        action = request.POST.get("_workflow")
        if action is None:
            return super().response_change(request, obj)
        if action not in workflow.ACTIONS:
            self.message_user(request, f"Your changes were saved, but there is no step '{action}'.", messages.ERROR)
        else:
            try:
                workflow.ACTIONS[action](obj, request.user)
            except workflow.WorkflowError as error:
                self.message_user(request, "Your changes were saved. " + _refusal(obj, error), messages.ERROR)
            else:
                self.message_user(request, f"Your changes were saved, and “{obj}” is now "
                                  f"{obj.get_status_display().lower()}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:mechanisms_cmoconfiguration_change", args=[obj.pk]))

    def workflow_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in workflow.ACTIONS:
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        try:
            workflow.ACTIONS[action](obj, request.user)
        except workflow.WorkflowError as error:
            self.message_user(request, _refusal(obj, error), messages.ERROR)
        else:
            self.message_user(request, f"“{obj}” is now {obj.get_status_display().lower()}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:mechanisms_cmoconfiguration_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["workflow_actions"] = [
                (reverse("admin:mechanisms_cmoconfiguration_workflow", args=[obj.pk, action]),
                 action, workflow.ACTION_LABELS[action])
                for action in workflow.allowed_actions(obj, request.user)
            ]
            context["review_status"] = obj.get_status_display()
            context["locked"] = _locked_for(request, obj)
            # Buttons of the change form itself (they save, then move) where the user may change it;
            # on a read-only page there is nothing to lose, and they post to the workflow URL.
            context["workflow_saves_form"] = self.has_change_permission(request, obj)
            context["comments"] = review.comments_for(obj, request.user)
            context["comment_url"] = reverse("admin:mechanisms_cmoconfiguration_comment", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _bulk(self, request, queryset, action):
        past = workflow.ACTION_PAST[action]
        configurations = list(queryset.select_related("programme"))
        refused = _refused_by_programme(request.user, configurations, action)
        if refused:
            # Per programme, all or nothing: none moves if some are in programmes where the user may
            # not make this step.
            self.message_user(
                request,
                format_html(
                    "No configuration was {}: you may not do it in {}:<ul>{}</ul>", past,
                    "the programme" if len(refused) == 1 else "these programmes",
                    format_html_join("", "<li>{} ({}): {}.</li>", (
                        (programme.slug, why, ", ".join(str(c) for c in rows)) for programme, why, rows in refused
                    )),
                ),
                messages.ERROR,
            )
            return
        result = workflow.apply_to_many(action, configurations, request.user)
        if result.done:
            self.message_user(request, f"{len(result.done)} configuration(s) {past}: "
                              + ", ".join(str(c) for c in result.done) + ".", messages.SUCCESS)
        if result.failed:
            self.message_user(
                request,
                format_html(
                    "{} configuration(s) not {}:<ul>{}</ul>", len(result.failed), past,
                    format_html_join("", "<li>{}: {}.</li>", ((c, "; ".join(p)) for c, p in result.failed)),
                ),
                messages.ERROR,
            )

    @admin.action(description="Submit selected configurations for review", permissions=["change"])
    def submit_for_review_action(self, request, queryset):
        self._bulk(request, queryset, "submit_for_review")

    @admin.action(description="Publish selected configurations", permissions=["publish"])
    def publish_action(self, request, queryset):
        self._bulk(request, queryset, "publish")

    @admin.action(description="Return selected configurations to draft", permissions=["change"])
    def return_to_draft_action(self, request, queryset):
        self._bulk(request, queryset, "return_to_draft")


def _refused_by_programme(user, configurations, action):
    """[(programme, why, [configuration, ...])] of the programmes where the user may not make this
    step: write there (submit, return to draft), lead there (publish, unpublish)."""
    refused = {}
    for configuration in configurations:
        programme = configuration.programme
        lead = action == "publish" or (action == "return_to_draft" and configuration.status == ReviewStatus.PUBLISHED)
        if lead and not membership.can_publish(user, programme):
            why = "only its lead evaluators publish and unpublish"
        elif not membership.can_write(user, programme):
            why = "you do not write in it"
        else:
            continue
        refused.setdefault((programme.pk, why), (programme, why, []))[2].append(configuration)
    return sorted(refused.values(), key=lambda entry: (entry[0].slug, entry[1]))


def _refusal(obj, error):
    return f"“{obj}” was not {workflow.ACTION_PAST[error.action]}: {'; '.join(error.problems)}."


@admin.register(ConceptMapping)
class ConceptMappingAdmin(CuratedAdmin):
    """The crosswalk: which of a programme's own terms is a case of which shared framework concept."""

    list_display = ("term_label", "concept", "programme")
    list_filter = ("concept__framework", "concept")
    list_select_related = ("programme", "concept", "mechanism", "theme__mechanism", "context", "outcome")
    search_fields = ("concept__name", "mechanism__name", "theme__name", "context__name", "outcome__name", "note")
    autocomplete_fields = ("programme", "concept", "mechanism", "theme", "context", "outcome")
    fields = ("programme", "concept", "mechanism", "theme", "context", "outcome", "note")

    @admin.display(description="Term")
    def term_label(self, obj):
        return obj.term


@admin.register(ConfigurationPathway)
class ConfigurationPathwayAdmin(ConfigurationChildAdminMixin, CuratedAdmin):
    list_display = ("configuration", "pathway", "order")
    list_filter = ("pathway",)
    list_select_related = ("configuration", "pathway")
    search_fields = ("configuration__title", "configuration__slug", "pathway__letter")
    autocomplete_fields = ("configuration", "pathway")


@admin.register(WishShift)
class WishShiftAdmin(ConfigurationChildAdminMixin, CuratedAdmin):
    list_display = ("configuration", "dimension", "toward", "between")
    list_filter = ("dimension", "toward", "between")
    list_select_related = ("configuration", "dimension", "toward__dimension", "between")
    search_fields = ("configuration__title", "configuration__slug", "note")
    autocomplete_fields = ("configuration", "dimension", "toward", "between")


__all__ = ["stamp_user"]


@admin.register(ConfigurationChain)
class ConfigurationChainAdmin(CuratedAdmin):
    """A chain link: read-only while either of its configurations is locked (published, and the user
    is not its lead); the model refuses cycles and links across programmes (mechanisms/chains.py)."""

    list_display = ("from_configuration", "to_configuration", "updated_by")
    list_select_related = ("from_configuration", "to_configuration", "updated_by")
    search_fields = ("from_configuration__title", "from_configuration__slug", "to_configuration__title",
                     "to_configuration__slug", "note")
    autocomplete_fields = ("from_configuration", "to_configuration", "evidence")

    def has_change_permission(self, request, obj=None):
        locked = obj is not None and (_locked_for(request, obj.from_configuration) or _locked_for(request, obj.to_configuration))
        return not locked and super().has_change_permission(request, obj)


from . import theory_admin  # noqa: E402,F401  (programme theories: mechanisms/theory_admin.py)
