"""Admin for the programme and its teams, and the base classes every curated admin shares."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from rest_framework.authtoken.admin import TokenAdmin as DRFTokenAdmin
from rest_framework.authtoken.models import TokenProxy
from simple_history.admin import SimpleHistoryAdmin
from simple_history.utils import get_m2m_reverse_field_name

from cmo_kb import concurrency
from cmo_kb.tokens import token_grantable_users
from evidence.admin_views import ExcerptAutocompleteMixin
from mechanisms.publish_lock_admin import PublishLockAdminMixin

from .models import (
    KeyFigure,
    Programme,
    ProgrammeMembership,
    QualityDomain,
    RelationshipLevel,
    Team,
    TeamQualityDomain,
    TeamRelationshipLevel,
)
from .programme_admin import ProgrammeAdminMixin, ProgrammeInlineMixin, evaluates, is_member


def _has_field(model, name):
    return any(f.name == name for f in model._meta.get_fields())


def stamp_user(obj, user, adding):
    """created_by on creation, updated_by always, and the user of the history record."""
    if adding and _has_field(type(obj), "created_by") and not obj.created_by_id:
        obj.created_by = user
    if _has_field(type(obj), "updated_by"):
        obj.updated_by = user
    obj._history_user = user


class CuratedAdmin(ProgrammeAdminMixin, PublishLockAdminMixin, ExcerptAutocompleteMixin, SimpleHistoryAdmin):
    """History with field diffs and revert (django-simple-history), who made and changed what,
    deletion refused while other rows depend on the object, the publish lock's refusals shown
    as form errors (mechanisms/publish_lock_admin.py), and each row seen and written only by the
    members of its programme who may (projects/programme_admin.py).

    Rows that others use through a many-to-many relation (mechanisms/dependents.py) are treated like
    PROTECT foreign keys: the delete page lists what uses them and refuses.
    """

    list_per_page = 50
    save_on_top = True

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not queryset.ordered:
            # Counting annotations drop Meta.ordering; the autocomplete pages through this queryset,
            # so give it a stable order (the changelist replaces it with its own).
            queryset = queryset.order_by(*(self.get_ordering(request) or self.model._meta.ordering), "pk")
        return queryset, may_have_duplicates

    def save_model(self, request, obj, form, change):
        stamp_user(obj, request.user, adding=not change)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj._history_user = request.user
            obj.delete()
        for obj in instances:
            stamp_user(obj, request.user, adding=obj.pk is None)
            obj.save()
        formset.save_m2m()

    def get_deleted_objects(self, objs, request):
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = list(protected)
        from mechanisms.dependents import dependent_managers

        for obj in objs:
            for name, manager in dependent_managers(obj):
                for dependent in manager.all():
                    protected.append(_describe(dependent, name, obj))
        return to_delete, model_count, perms_needed, protected

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # Reverting saves the form; do it all or nothing like every other admin write (a refusal
        # from the model layer rolls it back and is shown as a message).
        request._history_version_id = version_id

        def revert():
            with transaction.atomic():
                return super(CuratedAdmin, self).history_form_view(request, object_id, version_id, extra_context)

        return self._refusals_as_messages(request, revert)

    # --- No edit is lost (cmo_kb/concurrency.py): a hidden version on every change form; a save
    # from an older version is refused with what changed, under a lock on the row.
    def get_object(self, request, object_id, from_field=None):
        field = self.model._meta.pk if from_field is None else self.model._meta.get_field(from_field)
        try:
            key = field.to_python(object_id)
        except (ValidationError, ValueError):
            return super().get_object(request, object_id, from_field)
        rows = self.model._base_manager.filter(**{field.name: key})
        token = None
        if request.method == "POST" and transaction.get_connection().in_atomic_block:
            list(rows.select_for_update().values_list("pk", flat=True))  # then read what others committed
        elif request.method == "GET":
            # Taken before the read: the form's version is never newer than what it shows.
            pk = rows.values_list("pk", flat=True).first()
            token = concurrency.version_token(self.model, pk, concurrency.admin_children(self)) if pk is not None else None
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and token:
            obj._kb_version = token
        return obj

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or concurrency.VERSION_FIELD in flatten_fieldsets(fieldsets):
            return fieldsets
        (name, options), *rest = fieldsets
        hidden = (concurrency.VERSION_FIELD, concurrency.SEEN_FIELD)
        return [(name, {**options, "fields": (*options["fields"], hidden)}), *rest]

    def get_changelist_form(self, request, **kwargs):
        return concurrency.versioned_changelist_form(super().get_changelist_form(request, **kwargs))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and "form" not in kwargs:
            # What ModelAdmin.get_form does with self.form (declared read-only fields dropped), versioned.
            readonly = self.get_readonly_fields(request, obj)
            base = type(self.form.__name__, (self.form,), dict.fromkeys(f for f in readonly if f in self.form.declared_fields))
            kwargs["form"] = concurrency.versioned_form(base, concurrency.admin_children(self))
        form = super().get_form(request, obj, change, **kwargs)
        version_id = getattr(request, "_history_version_id", None)
        history_model = getattr(getattr(self.model, "history", None), "model", None)
        tracked = getattr(history_model, "_history_m2m_fields", None) if version_id else None
        if not tracked:
            return form
        # simple-history's revert form shows an old version's own fields but today's many-to-many
        # relations; show (and so restore) the relations as they were in that version too.
        record = self.model.history.get(history_id=version_id)
        initial = {
            field.name: list(getattr(record, field.name).values_list(get_m2m_reverse_field_name(field), flat=True))
            for field in tracked
            if field.name in form.base_fields
        }

        class RevertForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if not self.is_bound:
                    self.initial.update(initial)

        return RevertForm


def _describe(dependent, relation, obj):
    opts = dependent._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[dependent.pk])
    except Exception:  # pragma: no cover - unregistered model
        url = None
    label = capfirst(opts.verbose_name)
    if url:
        return format_html('{}: <a href="{}">{}</a> (uses {})', label, url, dependent, obj)
    return format_html("{}: {} (uses {})", label, dependent, obj)


class VocabularyAdmin(CuratedAdmin):
    """A controlled-vocabulary row: name, slug, order, description."""

    list_display = ("name", "slug", "order")
    list_editable = ("order",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("order", "name")


class MemberChoicesMixin:
    """A membership's user is chosen from the active accounts, as a plain list: the user admin's
    autocomplete is for superusers only."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ProgrammeMembershipInline(MemberChoicesMixin, ProgrammeInlineMixin, admin.TabularInline):
    """Who is a member of the programme, in which role: changed by its lead evaluators only (and
    shown to its members only)."""

    model = ProgrammeMembership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    lead_only = True


    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        creator = request.user

        class MembershipFormSet(formset):
            def clean(self):
                super().clean()
                if self.instance.pk is not None or creator.is_superuser:
                    return
                for form in self.forms:
                    if form.cleaned_data.get("user") == creator and not form.cleaned_data.get("DELETE"):
                        form.add_error("user", "You become the lead evaluator of a programme you create: "
                                               "leave yourself out of its members here.")

        return MembershipFormSet


@admin.register(Programme)
class ProgrammeAdmin(CuratedAdmin):
    """A programme: only its lead evaluators change it and its members; whoever creates one becomes
    its lead (projects/membership.py). A private programme is seen by its members only."""

    list_display = ("name", "slug", "is_public", "funder", "evaluator", "start_year", "end_year", "team_count")
    list_filter = ("is_public", "frameworks")
    search_fields = ("name", "short_name", "slug", "funder", "evaluator")
    readonly_fields = ("created_by", "updated_by", "created_at", "updated_at")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("frameworks",)
    fieldsets = (
        (None, {"fields": (("name", "short_name"), "slug", "is_public", "frameworks")}),
        ("The evaluation", {"fields": ("funder", "evaluator", ("start_year", "end_year"), "summary",
                                       "headline_messages")}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )
    inlines = (ProgrammeMembershipInline,)
    lead_only = True

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(team_count=Count("teams"))

    def may_add(self, request):
        return evaluates(request.user)  # anyone who evaluates may start a programme, and leads it

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is not None and not is_member(request.user, obj):
            inlines = [i for i in inlines if not isinstance(i, ProgrammeMembershipInline)]
        return inlines

    @admin.display(description="Teams", ordering="team_count")
    def team_count(self, obj):
        return obj.team_count


@admin.register(ProgrammeMembership)
class ProgrammeMembershipAdmin(MemberChoicesMixin, CuratedAdmin):
    list_display = ("user", "programme", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("user", "programme")
    search_fields = ("user__username", "user__first_name", "user__last_name", "programme__name", "programme__slug")
    fields = ("programme", "user", "role", "created_at")
    readonly_fields = ("created_at",)
    lead_only = True



@admin.register(QualityDomain)
class QualityDomainAdmin(VocabularyAdmin):
    pass


@admin.register(RelationshipLevel)
class RelationshipLevelAdmin(VocabularyAdmin):
    pass


class TeamQualityDomainInline(ProgrammeInlineMixin, ExcerptAutocompleteMixin, admin.TabularInline):
    model = TeamQualityDomain
    extra = 0
    autocomplete_fields = ("quality_domain", "evidence")


class TeamRelationshipLevelInline(ProgrammeInlineMixin, ExcerptAutocompleteMixin, admin.TabularInline):
    model = TeamRelationshipLevel
    extra = 0
    autocomplete_fields = ("relationship_level", "evidence")


class KeyFigureInline(ProgrammeInlineMixin, ExcerptAutocompleteMixin, admin.StackedInline):
    model = KeyFigure
    extra = 0
    autocomplete_fields = ("evidence",)
    fields = (("slug", "order"), "label", ("value", "value_max", "unit", "display"), "evidence")


@admin.register(Team)
class TeamAdmin(CuratedAdmin):
    list_display = ("short_name", "name", "slug", "programme", "organisation", "configuration_count", "order")
    list_display_links = ("short_name", "name")
    list_filter = ("programme", "quality_domains", "relationship_levels")
    list_select_related = ("programme",)
    search_fields = ("name", "short_name", "slug", "organisation")
    autocomplete_fields = ("programme",)
    prepopulated_fields = {"slug": ("short_name",)}
    readonly_fields = ("created_by", "updated_by", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("programme", ("name", "short_name"), "slug", "aliases", "organisation", "order")}),
        ("Figure 4 summary", {"fields": ("objective", "target", "scope", "delivery")}),
        ("Improvement story (Appendix 3)", {"fields": ("background", "aims", "achievements")}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )
    inlines = (TeamQualityDomainInline, TeamRelationshipLevelInline, KeyFigureInline)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(configuration_count=Count("configurations", distinct=True))

    @admin.display(description="Configurations", ordering="configuration_count")
    def configuration_count(self, obj):
        return obj.configuration_count


@admin.register(KeyFigure)
class KeyFigureAdmin(CuratedAdmin):
    list_display = ("display", "label", "team", "value", "value_max", "unit", "order")
    list_filter = ("team", "unit")
    list_select_related = ("team",)
    search_fields = ("slug", "label", "display", "team__short_name", "team__name")
    autocomplete_fields = ("team", "evidence")


@admin.register(TeamQualityDomain)
class TeamQualityDomainAdmin(CuratedAdmin):
    list_display = ("team", "quality_domain", "basis")
    list_filter = ("basis", "quality_domain", "team")
    list_select_related = ("team", "quality_domain")
    search_fields = ("team__short_name", "quality_domain__name", "note")
    autocomplete_fields = ("team", "quality_domain", "evidence")


@admin.register(TeamRelationshipLevel)
class TeamRelationshipLevelAdmin(CuratedAdmin):
    list_display = ("team", "relationship_level", "basis")
    list_filter = ("basis", "relationship_level", "team")
    list_select_related = ("team", "relationship_level")
    search_fields = ("team__short_name", "relationship_level__name", "note")
    autocomplete_fields = ("team", "relationship_level", "evidence")


# --- API tokens --------------------------------------------------------------------------------
# DRF's TokenAdmin lists every key. A token acts with its account's rights, so evaluators see and
# issue tokens only for themselves and for read-only accounts (cmo_kb/tokens.py).

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class RestrictedTokenAdmin(DRFTokenAdmin):
    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__in=token_grantable_users(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = token_grantable_users(request.user).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
