"""Programmes in the admin: every page shows what the user may see and writes where they may.

The rule is projects/membership.py's (a private programme and everything in it exists only for its
members; evaluators and leads write in their programmes, leads alone change a programme and its
members; superusers are leads everywhere). The model layer enforces it; here the admin asks it
first, so that a user sees only their programmes' rows, gets read-only pages for the programmes
they only read, is offered only choices of the programme they write in, and a refusal is a form
error or a message, never a 500:

- changelists, change, history and delete pages, autocompletes and list filters read only rows of
  programmes the user may see (a configuration's drafts only where they write: ``admin_visible``);
- a row is changeable and deletable only in a programme the user writes in (leads it, for a
  programme and its memberships); elsewhere its pages are read-only;
- a form's ``programme`` offers the programmes the user writes in, and its choices of a programme's
  own rows (contexts, outcomes, mechanism, theme, teams, source, excerpt...) those of the object's
  programme once known, of the programmes the user writes in otherwise; a choice of another
  programme submitted anyway is an error on its field;
- the inlines follow their parent's programme; list-editable rows, bulk deletion and history
  revert are refused for rows of programmes the user does not write in, naming them.

CuratedAdmin (projects/admin.py) mixes ProgrammeAdminMixin in; inlines of a programme's rows use
ProgrammeInlineMixin.
"""

from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.utils.http import urlencode

from cmo_kb.vocabulary import RULE, ReviewStatus, user_is_evaluator
from projects import membership
from projects.membership import ProgrammeWriteRefused, programme_of, programme_path
from projects.models import Programme, ProgrammeMembership, Role

# --- Who may do what (one query per request: the user's memberships, cached on the user) ----------


def member_roles(user):
    """{programme id: role} of the user's memberships; the cache role_in() keeps on the user, so
    asking about many rows costs one query."""
    cache = getattr(user, "_kb_roles", None)
    if cache is None:
        cache = user._kb_roles = dict(ProgrammeMembership.objects.filter(user=user).values_list("programme_id", "role"))
    return cache


def _authenticated(user):
    return user is not None and getattr(user, "is_authenticated", False)


def writes_anywhere(user):
    """Whether the user writes in some programme (superusers write everywhere)."""
    if not _authenticated(user):
        return False
    return user.is_superuser or any(role in membership.WRITING_ROLES for role in member_roles(user).values())


def leads_anywhere(user):
    if not _authenticated(user):
        return False
    return user.is_superuser or Role.LEAD in member_roles(user).values()


def evaluates(user):
    """user_is_evaluator: whoever writes in a programme, without a query; else asked once per user
    object (it costs a query)."""
    if not _authenticated(user):
        return False
    if writes_anywhere(user):
        return True
    cached = getattr(user, "_kb_evaluates", None)
    if cached is None:
        cached = user._kb_evaluates = user_is_evaluator(user)
    return cached


def is_member(user, programme):
    return membership.role_in(user, programme) is not None


def _configuration_of(obj):
    from mechanisms.models import CMOConfiguration

    if isinstance(obj, CMOConfiguration):
        return obj
    if programme_path(type(obj)) == "configuration__programme" and getattr(obj, "configuration_id", None):
        return obj.configuration
    return None


def visible(user, obj):
    """Whether the user may see the row ``obj`` in the admin (the rule admin_visible applies to
    querysets): its programme is public or theirs; a configuration that is not published, and what
    belongs to it, only where they write; a programme's memberships to its members."""
    path = programme_path(type(obj))
    if path is None:
        return True
    programme = programme_of(obj)
    if programme is None:
        return True  # not placed in a programme yet (an unsaved row)
    if isinstance(obj, ProgrammeMembership):
        return is_member(user, programme)
    if not membership.can_see(user, programme):
        return False
    configuration = _configuration_of(obj)
    if configuration is not None and configuration.status != ReviewStatus.PUBLISHED:
        return membership.can_write(user, programme)
    if path == "from_configuration__programme" and ReviewStatus.PUBLISHED != obj.from_configuration.status \
            or path == "from_configuration__programme" and ReviewStatus.PUBLISHED != obj.to_configuration.status:
        return membership.can_write(user, programme)  # a chain link with a draft at either end: its writers'
    reader_condition = getattr(type(obj), "reader_condition", None)
    if reader_condition is not None and obj.pk is not None and not membership.can_write(user, programme):
        # A row whose model says what readers see (a theory version: published ones, mechanisms/theories.py).
        return type(obj)._base_manager.filter(reader_condition(), pk=obj.pk).exists()
    return True


def admin_visible(queryset, user):
    """The rows of ``queryset`` the user may see in the admin (see visible()). Subqueries only: no
    query of its own."""
    from mechanisms.models import CMOConfiguration

    model = queryset.model
    path = programme_path(model)
    if path is None or (_authenticated(user) and user.is_superuser):
        return queryset
    if model is CMOConfiguration:
        return membership.visible_curated(queryset, user)
    if path == "configuration__programme":
        return queryset.filter(configuration__in=membership.visible_curated(CMOConfiguration.objects.all(), user))
    if path == "from_configuration__programme":  # a chain link: both its ends
        seen = membership.visible_curated(CMOConfiguration.objects.all(), user)
        return queryset.filter(from_configuration__in=seen, to_configuration__in=seen)
    reader_condition = getattr(model, "reader_condition", None)
    if reader_condition is not None:  # readers see what the model says; writers everything of theirs
        from django.db.models import Q

        return membership.scope(queryset, user).filter(
            reader_condition() | Q(**{f"{path}__in": membership.writable_programmes(user).values("pk")}))
    if model is ProgrammeMembership:
        if not _authenticated(user):
            return queryset.none()
        return queryset.filter(programme__in=ProgrammeMembership.objects.filter(user=user).values("programme_id"))
    return membership.scope(queryset, user)


def refusal(obj, programme, lead=False):
    """Why the user may not change ``obj``, naming its programme."""
    label = f"{obj._meta.verbose_name[:1].upper()}{obj._meta.verbose_name[1:]} “{obj}”"
    if lead:
        return f"{label}: only a lead evaluator of the programme '{programme.slug}' can change it."
    return f"{label} is in the programme '{programme.slug}', where you do not write."


# --- Forms: choices of the object's programme, an error for a choice of another -------------------


def _programme_id_through(obj, path):
    """The programme id of ``obj`` along ``path``, from loaded attributes (no query when the path
    is a foreign key the object holds)."""
    if obj is None:
        return None
    if path == "pk":
        return obj.pk
    *heads, last = path.split("__")
    for head in heads:
        if getattr(obj, f"{head}_id", None) is None:
            return None
        obj = getattr(obj, head)
    return getattr(obj, f"{last}_id", None)


def _submitted_programme_id(form):
    """The programme the bound form places its object in (through the field its programme path
    starts with, e.g. a configuration's programme, an excerpt's source), or None."""
    path = programme_path(form._meta.model)
    if not form.is_bound or path in (None, "pk"):
        return None
    head, _, rest = path.partition("__")
    field = form.fields.get(head)
    if field is None or getattr(field, "queryset", None) is None or field.disabled:
        return None
    raw = field.widget.value_from_datadict(form.data, form.files, form.add_prefix(head))
    try:
        value = field.to_python(raw)
    except ValidationError:
        return None
    if value is None:
        return None
    return value.pk if not rest else _programme_id_through(value, rest)


def _initial_programme_id(form):
    """The programme an unbound add form's initial data places its object in (e.g. the excerpt form
    the coding page opens with ?source=<id>), or None."""
    path = programme_path(form._meta.model)
    if form.is_bound or path in (None, "pk"):
        return None
    head, _, rest = path.partition("__")
    field, value = form.fields.get(head), form.initial.get(head)
    if field is None or getattr(field, "queryset", None) is None or value in (None, ""):
        return None
    if not rest:
        return getattr(value, "pk", value) if str(getattr(value, "pk", value)).isdigit() else None
    try:
        return field.queryset.model._base_manager.filter(pk=getattr(value, "pk", value)).values_list(rest, flat=True).first()
    except (ValueError, TypeError, ValidationError):
        return None


def _autocomplete_in(url, programme_id):
    return f"{url}?{urlencode({'programme': programme_id})}"


def narrow_choices(form, user, programme_id, owners, shared=False, owners_label="a programme you write in"):
    """Limit the form's choices of a programme's rows to ``programme_id`` (all the programmes in
    ``owners``, a queryset of programmes, when None; the programmes the user sees for a shared row's
    form); the programme choice itself to ``owners``. A refused choice's error says which rows were
    on offer."""
    for name, field in form.fields.items():
        queryset = getattr(field, "queryset", None)
        path = programme_path(getattr(queryset, "model", None))
        if path is None:
            continue
        plural = queryset.model._meta.verbose_name_plural
        if queryset.model is Programme:
            field.queryset = queryset.filter(pk__in=owners.values("pk"))
            message = f"Select a valid choice: %(value)s is not {owners_label}."
        elif shared:
            field.queryset = admin_visible(queryset, user)
            continue
        elif programme_id is not None:
            field.queryset = queryset.filter(**{path: programme_id})
            message = f"Select a valid choice: %(value)s is not one of the {plural} of its programme."
            widget = getattr(field.widget, "widget", field.widget)
            if isinstance(widget, AutocompleteMixin):
                # The autocomplete offers this programme's rows only (get_search_results below).
                widget.get_url = partial(lambda url: _autocomplete_in(url(), programme_id), widget.get_url)
        else:
            field.queryset = queryset.filter(**{f"{path}__in": owners.values("pk")})
            message = f"Select a valid choice: %(value)s is not one of the {plural} of a programme you write in."
        field.error_messages = {**field.error_messages, "invalid_choice": message}


def programme_form(base, user, owners, narrow=True, owners_label="a programme you write in"):
    """``base`` (a ModelForm class) whose choices follow the programme (narrow_choices) and whose
    choices of another programme than the object's are errors on their fields, checked against the
    object as it will be saved."""

    class ProgrammeForm(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if narrow:
                model = self._meta.model
                programme_id = _submitted_programme_id(self) or _initial_programme_id(self)
                if programme_id is None and self.instance.pk is not None:
                    programme_id = _programme_id_through(self.instance, programme_path(model) or "pk")
                narrow_choices(self, user, programme_id, owners, shared=programme_path(model) is None,
                               owners_label=owners_label)

        def _post_clean(self):
            super()._post_clean()
            check_same_programme(self)

    ProgrammeForm.__name__ = base.__name__
    return ProgrammeForm


def check_same_programme(form):
    """Add an error to each field choosing rows of another programme than the form's object."""
    path = programme_path(form._meta.model)
    if path in (None, "pk"):
        return
    programme_id = _programme_id_through(form.instance, path)
    if programme_id is None or not hasattr(form, "cleaned_data"):
        return
    for name, field in form.fields.items():
        model = getattr(getattr(field, "queryset", None), "model", None)
        target = programme_path(model)
        if target is None or model is Programme or name in form._errors or name not in form.cleaned_data:
            continue
        value = form.cleaned_data[name]
        chosen = [] if value is None else list(value) if hasattr(value, "__iter__") else [value]
        strays = [obj for obj in chosen if _programme_id_of(obj, target) != programme_id]
        if strays:
            slug = Programme.objects.filter(pk=programme_id).values_list("slug", flat=True).first()
            noun = (model._meta.verbose_name_plural if len(strays) > 1 else model._meta.verbose_name).capitalize()
            names = ", ".join(str(getattr(obj, "slug", None) or obj) for obj in strays)
            form.add_error(name, ValidationError(f"{noun} of another programme than '{slug}': {names}.", code=RULE))


def _programme_id_of(obj, path):
    found = _programme_id_through(obj, path) if path.count("__") == 0 else None
    if found is None:
        found = type(obj)._base_manager.filter(pk=obj.pk).values_list(path, flat=True).first()
    return found


# --- List filters ---------------------------------------------------------------------------------


def programme_list_filter(path):
    """A changelist filter by programme (?programme=<slug>), offering the programmes the user sees."""

    class ProgrammeListFilter(admin.SimpleListFilter):
        title = "programme"
        parameter_name = "programme"

        def lookups(self, request, model_admin):
            return list(membership.visible_programmes(request.user).order_by("name").values_list("slug", "name"))

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{f"{path}__slug": self.value()})
            return queryset

    return ProgrammeListFilter


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A filter by a programme's rows (teams, mechanisms, sources...) offering only those the user
    sees; named with their programme when they come from several (two programmes may each have a
    'Patient beliefs' mechanism)."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        queryset = admin_visible(related._default_manager.all(), request.user)
        path = programme_path(related)
        if path == "programme":
            queryset = queryset.select_related("programme")
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        rows = list(queryset)
        several = path == "programme" and len({row.programme_id for row in rows}) > 1
        return [(row.pk, f"{row} ({row.programme.slug})" if several else str(row)) for row in rows]


# --- The admin ------------------------------------------------------------------------------------


class ProgrammeAdminMixin:
    """For every ModelAdmin of curated rows; a no-op for the shared frameworks' models (no
    programme_path) except that their choices of a programme's rows are those the user sees."""

    lead_only = False  # changes need a lead of the row's programme (a programme, its memberships)

    @property
    def programme_path(self):
        return programme_path(self.model)

    def owner_programmes(self, request):
        """The programmes a new or moved row of this admin may be placed in."""
        if self.lead_only:
            return membership.publishable_programmes(request.user)
        return membership.writable_programmes(request.user)

    @property
    def owners_label(self):
        return "a programme you lead" if self.lead_only else "a programme you write in"

    def may_write(self, request, obj=None):
        """Whether the user writes rows of this admin in obj's programme (obj None: in some programme)."""
        if self.programme_path is None:
            return True
        user = request.user
        if obj is None:
            return leads_anywhere(user) if self.lead_only else writes_anywhere(user)
        programme = programme_of(obj)
        if programme is None:
            return True
        return membership.can_publish(user, programme) if self.lead_only else membership.can_write(user, programme)

    def write_refusal(self, request, obj):
        """A sentence naming obj's programme if the user may not change obj, else None."""
        if self.may_write(request, obj):
            return None
        return refusal(obj, programme_of(obj), lead=self.lead_only)

    # --- what is seen
    def get_queryset(self, request):
        return admin_visible(super().get_queryset(request), request.user)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and (obj is None or visible(request.user, obj))

    def may_add(self, request):
        return self.may_write(request)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self.may_add(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        if getattr(request, "_kb_deleting", False):
            obj = None  # collecting a deletion: its rows' programmes are checked by name (get_deleted_objects)
        return super().has_delete_permission(request, obj) and self.may_write(request, obj)

    def get_list_filter(self, request):
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str):
                related = getattr(get_fields_from_path(self.model, entry)[-1], "related_model", None)
                if related is Programme and self.programme_path not in (None, "pk"):
                    continue  # the programme filter below
                if programme_path(related) is not None:
                    entry = (entry, ScopedRelatedFieldListFilter)
            filters.append(entry)
        if self.programme_path not in (None, "pk"):
            filters.insert(0, programme_list_filter(self.programme_path))
        return filters

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        if self.programme_path is not None and match and match.url_name and match.url_name.endswith("autocomplete"):
            # Choices for a form: the rows of the programme it writes in (the widget says which,
            # narrow_choices), of the programmes the user writes in otherwise; a shared row's form
            # chooses among all the user sees.
            path = "pk" if self.model is Programme else self.programme_path
            programme = request.GET.get("programme", "")
            if programme.isdigit():
                queryset = queryset.filter(**{path: int(programme)})
            if not self._autocomplete_for_shared_row(request):
                queryset = queryset.filter(**{f"{path}__in": membership.writable_programmes(request.user).values("pk")})
        return queryset, may_have_duplicates

    def _autocomplete_for_shared_row(self, request):
        from django.apps import apps

        try:
            source = apps.get_model(request.GET.get("app_label", ""), request.GET.get("model_name", ""))
        except (LookupError, ValueError):
            return False
        return programme_path(source) is None

    # --- forms
    def get_changeform_initial_data(self, request):
        """A new row of someone who writes in one programme only is of that programme."""
        initial = super().get_changeform_initial_data(request)
        if self.programme_path == "programme" and "programme" not in initial:
            only = list(self.owner_programmes(request).values_list("pk", flat=True)[:2])
            if len(only) == 1:
                initial["programme"] = only[0]
        return initial

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return programme_form(form, request.user, self.owner_programmes(request), owners_label=self.owners_label)

    def get_changelist_form(self, request, **kwargs):
        form = programme_form(super().get_changelist_form(request, **kwargs), request.user,
                              self.owner_programmes(request), owners_label=self.owners_label)
        model_admin = self

        class ProgrammeChangelistForm(form):
            def clean(self):
                cleaned = super().clean()
                if self.instance.pk is not None and self.has_changed():
                    why = model_admin.write_refusal(request, self.instance)
                    if why:
                        raise ValidationError(f"Not saved: {why}", code="programme")
                return cleaned

        ProgrammeChangelistForm.__name__ = form.__name__
        return ProgrammeChangelistForm

    # --- bulk deletion: rows of programmes the user does not write in are listed, nothing deleted
    def get_deleted_objects(self, objs, request):
        # Django asks has_delete_permission of every row it collects and would say only "no
        # permission to delete contexts"; the rows refused for their programme are named instead.
        request._kb_deleting = True
        try:
            to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        finally:
            del request._kb_deleting
        protected = list(protected)
        for obj in objs:
            why = self.write_refusal(request, obj)
            if why:
                protected.append(why)
        return to_delete, model_count, perms_needed, protected

    # --- history: a non-member sees no version; reverting needs the right in both programmes
    def history_view(self, request, object_id, extra_context=None):
        self._version_visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        version = self._version_visible_or_404(request, object_id, version_id)
        if request.method == "POST" and version is not None:
            current = self.model._base_manager.filter(pk=version.pk).first()
            for obj in (current, version):
                why = self.write_refusal(request, obj) if obj is not None else None
                if why:
                    # As a change form posted without the right to change: 403 (the page offers no
                    # revert button to such a user, revert_disabled).
                    raise PermissionDenied(f"Not reverted: {why}")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        if obj is not None and self.programme_path is not None:
            current = self.model._base_manager.filter(pk=obj.pk).first()
            if not self.may_write(request, obj) or (current is not None and not self.may_write(request, current)):
                return True
        return super().revert_disabled(request, obj)

    def _version_visible_or_404(self, request, object_id, version_id=None):
        """The version (the latest one without version_id), after checking that the user sees it and
        the row as it is now; a 404 otherwise, as for a row that does not exist."""
        history = getattr(self.model, "history", None)
        if self.programme_path is None or history is None:
            return None
        try:
            pk = self.model._meta.pk.to_python(object_id)
        except ValidationError:
            raise Http404 from None
        records = history.filter(**{self.model._meta.pk.attname: pk})
        record = records.filter(history_id=version_id).first() if version_id is not None else records.order_by("-history_id").first()
        current = self.model._base_manager.filter(pk=pk).first()
        if record is None and current is None:
            raise Http404
        version = record.instance if record is not None else None
        if any(obj is not None and not visible(request.user, obj) for obj in (current, version)):
            raise Http404
        return version

    # --- refusals from the model layer are messages, never a 500 (and nothing is written)
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._refusals_as_messages(request, super().changeform_view, request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        return self._refusals_as_messages(request, super().changelist_view, request, extra_context)

    def _refusals_as_messages(self, request, view, *args):
        # The views run their writes in a transaction (changeform_view and the changelist's
        # list-editable save, history revert in CuratedAdmin): the exception has rolled it back.
        try:
            return view(*args)
        except ProgrammeWriteRefused as refused:
            return self._refused(request, [refused.message])
        except ValidationError as error:
            if request.method != "POST":
                raise
            return self._refused(request, error.messages)

    def _refused(self, request, reasons):
        self.message_user(request, "Nothing was saved: " + " ".join(reasons), messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())


class ProgrammeInlineMixin:
    """For inlines of a programme's rows: they are changed by those who write in the parent's
    programme (lead it, lead_only), and offer choices of that programme."""

    lead_only = False

    def may_write_in_parent(self, request, obj):
        user = request.user
        if obj is None:
            if isinstance(self.parent_model, type) and issubclass(self.parent_model, Programme):
                return evaluates(user)  # who creates a programme becomes its lead
            return leads_anywhere(user) if self.lead_only else writes_anywhere(user)
        programme = programme_of(obj)
        if programme is None:
            return True
        return membership.can_publish(user, programme) if self.lead_only else membership.can_write(user, programme)

    def get_queryset(self, request):
        return admin_visible(super().get_queryset(request), request.user)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self.may_write_in_parent(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_write_in_parent(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.may_write_in_parent(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        user = request.user
        owners = membership.writable_programmes(user)

        class ProgrammeInlineFormSet(formset):
            form = programme_form(formset.form, user, owners, narrow=False)

            def add_fields(self, form, index):
                super().add_fields(form, index)
                # The parent's programme (known once the parent's own form chose it).
                programme = programme_of(self.instance) if self.instance is not None else None
                narrow_choices(form, user, getattr(programme, "pk", None), owners)

        ProgrammeInlineFormSet.__name__ = formset.__name__
        return ProgrammeInlineFormSet
