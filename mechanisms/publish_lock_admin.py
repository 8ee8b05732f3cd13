"""The publish lock in the admin: refusals shown up front as form errors, not as a 403 page.

The model layer (mechanisms/publish_lock.py) refuses whatever gets past these checks; here the
change form, every inline, the changelist's editable rows, the delete page and bulk delete, and the
history revert ask the same rule first, so the user sees which published configurations are
concerned and keeps everything typed. CuratedAdmin (projects/admin.py) mixes this in.
"""

from django.core.exceptions import PermissionDenied, ValidationError

from . import publish_lock


class PublishLockFormMixin:
    """Checks the instance as the form would save it, with its many-to-many values."""

    publish_lock_skip_unchanged = False

    def _post_clean(self):
        super()._post_clean()
        if self._errors:
            return  # the instance is only partly built; the lock is checked once the rest is right
        if self.publish_lock_skip_unchanged and self.instance.pk is not None and not self.has_changed():
            return
        m2m = {
            f.name: self.cleaned_data[f.name]
            for f in self.instance._meta.many_to_many
            if f.name in self.cleaned_data and f.remote_field.through._meta.auto_created
        }
        try:
            publish_lock.check_save(self.instance, m2m=m2m)
        except publish_lock.PublishedKnowledgeLocked as error:
            self.add_error(None, error.message)
        except ValidationError as error:
            if hasattr(error, "error_dict") and not set(error.error_dict) <= set(self.fields):
                error = ValidationError(error.messages)
            self.add_error(None, error)


def guard_form_class(form_class, skip_unchanged=False):
    if issubclass(form_class, PublishLockFormMixin):
        return form_class
    return type(form_class.__name__, (PublishLockFormMixin, form_class), {"publish_lock_skip_unchanged": skip_unchanged})


def guard_formset_class(formset_class):
    """Inline and changelist formsets: each changed row is checked as a form; deleted rows here."""

    class PublishLockFormSet(formset_class):
        form = guard_form_class(formset_class.form, skip_unchanged=True)

        def clean(self):
            super().clean()
            refusals = []
            for form in self.forms:
                if self.can_delete and self._should_delete_form(form) and form.instance.pk is not None:
                    try:
                        publish_lock.check_delete(form.instance)
                    except publish_lock.PublishedKnowledgeLocked as error:
                        refusals.append(f"Not deleted: {error.message}")
            if refusals:
                raise ValidationError(refusals)

    PublishLockFormSet.__name__ = formset_class.__name__
    return PublishLockFormSet


class PublishLockAdminMixin:
    def get_form(self, request, obj=None, change=False, **kwargs):
        return guard_form_class(super().get_form(request, obj, change, **kwargs))

    def get_formsets_with_inlines(self, request, obj=None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            yield guard_formset_class(formset), inline

    def get_changelist_formset(self, request, **kwargs):
        return guard_formset_class(super().get_changelist_formset(request, **kwargs))

    def get_deleted_objects(self, objs, request):
        # The delete page and the bulk delete action list each refused row (and delete nothing).
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = list(protected)
        for obj in objs:
            try:
                publish_lock.check_delete(obj)
            except publish_lock.PublishedKnowledgeLocked as error:
                protected.append(error.message)
        return to_delete, model_count, perms_needed, protected

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history checks only the view permission; reverting is a change. (Whether this
        # object may change is the lock's, checked on the revert form like any other change form.)
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
