"""No edit is lost: versions of stored objects, the check that a write starts from the current one,
and what changed since an older one. Shared by the API (ETag / If-Match / 412, cmo_kb/api.py) and
the admin (a hidden version field on every curated change form, projects/admin.py).

A version token is ``<history ids>-<digest>``, e.g. ``"52.7.0.31-9f2c…"``:
- the history ids are the latest django-simple-history record of the object, then of each kind of
  row it owns, so an old token says which version its holder saw, and the history records after it
  say who changed what, and when;
- the digest is a hash of the row's stored fields (all concrete fields but the derived search
  columns) and of the latest history ids of its *owned rows* (reverse foreign keys with
  on_delete=CASCADE, e.g. a configuration's Wish shifts, pathways and evidence links; the admin adds
  its inlines' rows). It catches changes that leave no history record (a queryset ``update()``, a
  source's full text, which history does not keep) and changes of owned rows.
Computing a token costs one query.

Writers serialise on the row: ``lock()`` takes a ``SELECT … FOR UPDATE`` on PostgreSQL inside the
caller's transaction (SQLite has no row locks: settings open its transactions with BEGIN IMMEDIATE,
which takes the database's write lock), then the caller re-reads the row and checks the token.
``save_changed_fields()`` makes the next ``save()`` write only the fields that changed.
"""

import hashlib

from django.db import models, transaction
from django.db.models import OuterRef, Subquery
from django.utils.encoding import force_str
from rest_framework import status
from rest_framework.response import Response

# Derived columns (kept by triggers and signals): never part of a version.
DERIVED_FIELDS = {"search_vector", "search_text"}


class StaleVersion(Exception):
    """A write started from an older version than the stored one."""

    def __init__(self, instance, sent, current, changes):
        self.instance = instance
        self.sent = sent
        self.current = current
        self.changes = changes
        super().__init__(f"{instance!r} changed since version {sent}")

    @property
    def changed_fields(self):
        return sorted({name for change in self.changes for name in (change["fields"] or {})}
                      | {change["relation"] for change in self.changes if change.get("relation")})


# --- Versions -----------------------------------------------------------------------------------


def history_model(model):
    manager = getattr(model, "history", None)
    return getattr(manager, "model", None)


def owned_relations(model):
    """(child model, foreign key attname) of rows that belong to `model`'s rows and have history."""
    owned = []
    for relation in model._meta.related_objects:
        if relation.one_to_many and relation.on_delete is models.CASCADE and history_model(relation.related_model):
            owned.append((relation.related_model, relation.field.attname))
    return owned


def _state_fields(model):
    return [f.attname for f in model._meta.concrete_fields if f.name not in DERIVED_FIELDS]


def _versions(model, children):
    versions = {}
    own_history = history_model(model)
    if own_history is not None:
        versions[SELF_VERSION] = Subquery(
            own_history.objects.filter(**{model._meta.pk.attname: OuterRef("pk")}).order_by("-history_id").values("history_id")[:1]
        )
    for index, (child, fk_attname) in enumerate(children):
        versions[f"_kb_v_{index}"] = Subquery(
            history_model(child).objects.filter(**{fk_attname: OuterRef("pk")}).order_by("-history_id").values("history_id")[:1]
        )
    return versions


SELF_VERSION = "_kb_v_self"


def _token(row, versions):
    digest = hashlib.sha256(repr(tuple(row)).encode("utf-8")).hexdigest()[:16]
    history_ids = [str(value or 0) for value in row[len(row) - len(versions):]]
    return f"{'.'.join(history_ids) or '0'}-{digest}"


def with_versions(queryset, children=None):
    """`queryset` with what token_from_row() needs annotated, so a read and its version come from the
    same statement (no extra query)."""
    model = queryset.model
    children = owned_relations(model) if children is None else children
    return queryset.annotate(**_versions(model, children))


def token_from_row(instance, children=None):
    """The token of an instance read through with_versions() (deferred fields cost a query)."""
    model = type(instance)
    children = owned_relations(model) if children is None else children
    versions = _versions(model, children)
    row = [_stored_value(getattr(instance, name)) for name in _state_fields(model)] + [getattr(instance, name) for name in versions]
    return _token(row, versions)


def _stored_value(value):
    """A field's value as values_list() reads it: a FileField's is its name, not a FieldFile (a
    source's original document, evidence/models.py)."""
    from django.db.models.fields.files import FieldFile

    return (value.name or "") if isinstance(value, FieldFile) else value


def version_token(model, pk, children=None):
    """The stored version of row `pk` of `model` (see the module docstring). One query; None if the
    row does not exist. `children` defaults to owned_relations(model)."""
    children = owned_relations(model) if children is None else children
    versions = _versions(model, children)
    row = model._base_manager.filter(pk=pk).annotate(**versions).values_list(*_state_fields(model), *versions).first()
    return None if row is None else _token(row, versions)


def token_of(instance, children=None):
    return version_token(type(instance), instance.pk, children)


def etag(token):
    return f'"{token}"'


def history_ids_of(token):
    """The history ids a token was taken at (the object's, then each owned relation's), or None for
    something that is not a token."""
    head = str(token or "").strip().strip('"').split("-", 1)[0].split(".")
    return [int(part) for part in head] if all(part.isdigit() for part in head) else None


def history_id_of(token):
    ids = history_ids_of(token)
    return ids[0] if ids else None


def lock(instance):
    """Lock `instance`'s row until the end of the current transaction (PostgreSQL; on SQLite the
    transaction already holds the write lock). Re-read the row after this: what others committed
    while we waited is what the write must start from."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("concurrency.lock() needs a transaction (wrap the write in transaction.atomic()).")
    list(type(instance)._base_manager.select_for_update().filter(pk=instance.pk).values_list("pk", flat=True))


# --- Saving only what changed -------------------------------------------------------------------


def _loaded_values(instance):
    return {f.attname: instance.__dict__[f.attname] for f in instance._meta.concrete_fields if f.attname in instance.__dict__}


def save_changed_fields(instance):
    """Make `instance.save()` (called without update_fields) write only the concrete fields that
    differ from their values now, plus auto_now ones: a writer never rewrites a column it did not
    change with the value it happened to read. Call it on a freshly read (and locked) instance."""
    loaded = _loaded_values(instance)
    model_save = instance.save

    def save(*args, **kwargs):
        if kwargs.get("update_fields") is None and not kwargs.get("force_insert") and not instance._state.adding:
            current = _loaded_values(instance)
            changed = [
                f.name for f in instance._meta.concrete_fields
                if not f.primary_key and (f.attname in current) and (f.attname not in loaded or current[f.attname] != loaded[f.attname])
            ]
            automatic = [f.name for f in instance._meta.concrete_fields if getattr(f, "auto_now", False)]
            kwargs["update_fields"] = list(dict.fromkeys(changed + automatic))
        model_save(*args, **kwargs)
        loaded.update(_loaded_values(instance))

    instance.save = save
    return instance


# --- What changed -------------------------------------------------------------------------------


def _shown(value, limit=300):
    """A JSON-friendly, readable value for a change report."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, list):
        return [_shown(item, limit) for item in value]
    text = force_str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _m2m_targets(model, name, rows):
    from simple_history.utils import get_m2m_reverse_field_name

    target = get_m2m_reverse_field_name(model._meta.get_field(name))
    return [row.get(target) for row in rows]


def _entry(record, fields, what, relation=None):
    user = record.history_user
    return {
        "at": record.history_date.isoformat(),
        "by": user.get_username() if user is not None else None,
        "what": what,
        "relation": relation,
        "action": {"+": "added", "~": "changed", "-": "deleted"}.get(record.history_type, record.history_type),
        "fields": fields,
    }


def _field_changes(model, record, previous):
    if previous is None:
        return None
    delta = record.diff_against(previous, foreign_keys_are_objs=True)
    tracked_m2m = {f.name for f in getattr(record, "_history_m2m_fields", [])}
    fields = {}
    for change in delta.changes:
        new = _m2m_targets(model, change.field, change.new) if change.field in tracked_m2m else change.new
        fields[change.field] = _shown(new)
    return fields


def changes_since(instance, token, children=None, limit=20):
    """What happened to `instance` (and its owned rows) after the version `token` was taken: a list of
    {at, by, what, relation, action, fields: {name: new value}} oldest first (fields is None when the
    old version is unknown). At most `limit` entries of the object itself."""
    model = type(instance)
    children = owned_relations(model) if children is None else children
    own_history = history_model(model)
    if own_history is None:
        return []
    since = history_id_of(token)
    records = own_history.objects.filter(**{model._meta.pk.attname: instance.pk}).select_related("history_user")
    base = records.filter(history_id=since).first() if since is not None else None
    changes = []
    if base is not None:
        later = list(records.filter(history_id__gt=base.history_id).order_by("history_id")[:limit])
        previous = base
    else:
        later = list(records.order_by("-history_id")[:1])
        previous = None
    label = f"{model._meta.verbose_name} “{instance}”"
    for record in later:
        changes.append(_entry(record, _field_changes(model, record, previous), label))
        previous = record
    sent_ids = history_ids_of(token) or []
    for index, (child, fk_attname) in enumerate(children):
        child_records = history_model(child).objects.filter(**{fk_attname: instance.pk}).select_related("history_user")
        if base is not None and len(sent_ids) == len(children) + 1:
            child_records = child_records.filter(history_id__gt=sent_ids[index + 1])
        else:
            child_records = child_records.none()
        for record in child_records.order_by("history_id")[:limit]:
            previous_child = record.prev_record if record.history_type != "+" else None
            fields = _field_changes(child, record, previous_child) if previous_child is not None else {}
            changes.append(
                _entry(record, fields, f"{child._meta.verbose_name} “{record.instance}”", relation=child._meta.verbose_name_plural)
            )
    if base is not None and not changes:
        # Same history, different stored state: a change that left no history record.
        changes.append({"at": None, "by": None, "what": label, "relation": None, "action": "changed",
                        "fields": None})
    changes.sort(key=lambda change: change["at"] or "")
    return changes


def describe(changes, limit=8):
    """Sentences for people: "eva changed notes to “…” and title to “…” (2026-12-01 10:03)."."""
    from django.utils.dateparse import parse_datetime
    from django.utils.formats import date_format
    from django.utils.timezone import localtime

    lines = []
    for change in changes[-limit:]:
        who = change["by"] or "someone"
        when = ""
        if change["at"]:
            when = f" ({date_format(localtime(parse_datetime(change['at'])), 'DATETIME_FORMAT')})"
        fields = change["fields"]
        if fields:
            what = "; ".join(f"{name} to “{_one_line(value)}”" for name, value in fields.items())
            lines.append(f"{who} {change['action']} {change['what']}: {what}{when}.")
        else:
            lines.append(f"{who} {change['action']} {change['what']}{when}.")
    if len(changes) > limit:
        lines.insert(0, f"({len(changes) - limit} earlier changes not shown.)")
    return lines


def _one_line(value):
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= 120 else text[:119] + "…"


# --- The API: ETag, If-Match, If-None-Match -----------------------------------------------------


def _entity_tags(header):
    """'*', or the list of entity tags in an If-Match / If-None-Match header."""
    header = (header or "").strip()
    if header == "*":
        return "*"
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _strong_match(tags, token):
    # If-Match compares strongly: a weak tag (W/"…") never matches.
    return any(not tag.startswith("W/") and tag.strip('"') == token for tag in tags)


def _weak_match(tags, token):
    return tags == "*" or any(tag.removeprefix("W/").strip('"') == token for tag in tags)


class VersionedWritesMixin:
    """For DRF model viewsets (KBModelViewSet): no write is lost.

    - A detail GET answers an ``ETag`` (the stored version, read in the same query as the row);
      ``If-None-Match`` with it gives a 304 without a body.
    - PUT, PATCH and DELETE run in one transaction that locks the row, re-reads it (so a write starts
      from what others committed, never from a stale copy) and saves only the fields it changes.
      With ``If-Match`` naming another version they get a 412 whose body says what changed since,
      and write nothing. Without If-Match, or with ``If-Match: *``, they proceed.
    - Every successful write answers the new ``ETag``.
    """

    def filter_queryset(self, queryset):
        # (not get_queryset: the resources override that one)
        queryset = super().filter_queryset(queryset)
        if getattr(self, "action", None) == "retrieve":
            queryset = with_versions(queryset)
        return queryset

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        token = token_from_row(instance)
        tags = _entity_tags(request.headers.get("If-None-Match"))
        if tags and _weak_match(tags, token):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(token)})
        return Response(self.get_serializer(instance).data, headers={"ETag": etag(token)})

    def create(self, request, *args, **kwargs):
        with transaction.atomic():
            response = super().create(request, *args, **kwargs)
            if getattr(self, "_kb_written", None) is not None:
                response["ETag"] = etag(token_of(self._kb_written))
        return response

    def perform_create(self, serializer):
        super().perform_create(serializer)
        self._kb_written = serializer.instance

    def get_object_for_write(self):
        """The object, locked and freshly read, after checking If-Match (raises StaleVersion)."""
        instance = self.get_object()
        lock(instance)
        instance = self.get_object()
        tags = _entity_tags(self.request.headers.get("If-Match"))
        if tags and tags != "*":
            current = token_of(instance)
            if not _strong_match(tags, current):
                sent = tags[0].removeprefix("W/").strip('"')
                raise StaleVersion(instance, sent, current, changes_since(instance, sent))
        return instance

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        try:
            with transaction.atomic():
                instance = save_changed_fields(self.get_object_for_write())
                serializer = self.get_serializer(instance, data=request.data, partial=partial)
                serializer.is_valid(raise_exception=True)
                self.perform_update(serializer)
                if getattr(instance, "_prefetched_objects_cache", None):
                    instance._prefetched_objects_cache = {}
                data = serializer.data
                token = token_of(serializer.instance)
        except StaleVersion as stale:
            return self.precondition_failed(stale)
        return Response(data, headers={"ETag": etag(token)})

    def destroy(self, request, *args, **kwargs):
        try:
            with transaction.atomic():
                self.perform_destroy(self.get_object_for_write())
        except StaleVersion as stale:
            return self.precondition_failed(stale)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def precondition_failed(self, stale):
        instance = stale.instance
        label = f"{instance._meta.verbose_name} “{instance}”"
        return Response(
            {
                "detail": (
                    f"Precondition failed: the {label} changed since the version you sent (If-Match "
                    f"{etag(stale.sent)}); nothing was written. GET it again, reapply your change, and send "
                    "its new ETag in If-Match."
                ),
                "your_etag": etag(stale.sent),
                "current_etag": etag(stale.current),
                "changed_fields": stale.changed_fields,
                "changes": stale.changes,
            },
            status=status.HTTP_412_PRECONDITION_FAILED,
        )


# --- The admin: a version on every change form -------------------------------------------------

VERSION_FIELD = "kb_version"
SEEN_FIELD = "kb_seen"


def admin_children(model_admin):
    """Owned rows plus the rows the admin's change form edits inline (those with history). From the
    inline classes, not the instances, so the set does not depend on who looks."""
    from django.forms.models import _get_foreign_key

    children = owned_relations(model_admin.model)
    for inline in model_admin.inlines:
        if history_model(inline.model) is None:
            continue
        fk = _get_foreign_key(model_admin.model, inline.model, fk_name=inline.fk_name)
        if (inline.model, fk.attname) not in children:
            children.append((inline.model, fk.attname))
    return children


def versioned_form(base, children):
    """`base` (a ModelForm class) with the version the user opened the form at, so a save that
    would undo someone else's change is refused with what they changed (see clean()).

    Two hidden fields: kb_version, the version the form was opened at, and kb_seen, the latest
    version whose changes the user has been shown. A conflict error moves kb_seen to the current
    version, so saving again is a deliberate, informed overwrite; even then only the fields the
    user changed since kb_version are written, so the other's changes to the fields they left
    alone survive.
    """
    from django import forms

    class VersionedForm(base):
        kb_version = forms.CharField(widget=forms.HiddenInput, required=False)
        kb_seen = forms.CharField(widget=forms.HiddenInput, required=False)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.instance.pk is not None and not self.is_bound:
                token = getattr(self.instance, "_kb_version", None) or version_token(type(self.instance), self.instance.pk, children)
                self.initial[VERSION_FIELD] = self.initial[SEEN_FIELD] = token

        def clean(self):
            cleaned = super().clean()
            base_token = cleaned.get(VERSION_FIELD)
            if self.instance.pk is None or not base_token:
                # A form posted without a version (an add form, or a script): saved as before.
                return cleaned
            seen = cleaned.get(SEEN_FIELD) or base_token
            if transaction.get_connection().in_atomic_block:
                lock(self.instance)
            current = version_token(type(self.instance), self.instance.pk, children)
            if seen != current:
                self._refuse(seen, current)
            elif base_token != current:
                for name in self._untouched_since(base_token):
                    cleaned.pop(name, None)
            return cleaned

        def _refuse(self, seen, current):
            from django.core.exceptions import ValidationError
            from django.utils.html import format_html, format_html_join

            changes = changes_since(self.instance, seen, children)
            data = self.data.copy()
            data[self.add_prefix(SEEN_FIELD)] = current
            self.data = data
            raise ValidationError(
                format_html(
                    "Someone else saved this {} after you opened it, so nothing was saved: <ul>{}</ul>"
                    "Everything you typed is kept below. Save again to write it over their version "
                    "(fields you did not change keep their new values), or reload the page to start "
                    "from the current version.",
                    self.instance._meta.verbose_name,
                    format_html_join("", "<li>{}</li>", ((line,) for line in describe(changes))),
                ),
                code="stale_version",
            )

        def _untouched_since(self, token):
            """Form fields whose submitted value is what they were at version `token`."""
            from django.core.exceptions import FieldDoesNotExist
            from simple_history.utils import get_m2m_reverse_field_name

            model = type(self.instance)
            record = model.history.filter(**{model._meta.pk.attname: self.instance.pk}, history_id=history_id_of(token)).first()
            if record is None:
                return []
            tracked_m2m = {f.name for f in getattr(record, "_history_m2m_fields", [])}
            untouched = []
            for name, field in self.fields.items():
                if name in (VERSION_FIELD, SEEN_FIELD) or name not in self.cleaned_data:
                    continue
                try:
                    model_field = model._meta.get_field(name)
                except FieldDoesNotExist:
                    continue
                if model_field.many_to_many:
                    if name not in tracked_m2m:
                        continue
                    then = list(getattr(record, name).values_list(get_m2m_reverse_field_name(model_field), flat=True))
                elif model_field.attname in record.__dict__:
                    then = getattr(record, model_field.attname)
                else:
                    continue  # not kept in history (a source's full text)
                if not field.has_changed(then, self[name].data):
                    untouched.append(name)
            return untouched

    VersionedForm.__name__ = base.__name__
    return VersionedForm


def versioned_changelist_form(base):
    """`base` (the changelist's row form) remembering what each editable cell showed, so a bulk edit
    on the list never undoes someone else's change made after the list was opened.

    Each editable field renders a hidden copy of the value it showed (show_hidden_initial), so
    has_changed() compares what the user submitted with what they saw, not with the row as it is now
    (the list is read again on save): a row the user did not touch is not written, whatever happened
    to it since. A row the user did change whose stored value changed since the list was shown is
    refused with who changed what and when; the page keeps what they typed."""

    class VersionedChangelistForm(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name, field in self.fields.items():
                # A post without the hidden copies (not from the list page) is compared as before.
                if name != self._meta.model._meta.pk.name and (not self.is_bound or self.add_initial_prefix(name) in self.data):
                    field.show_hidden_initial = True

        def clean(self):
            cleaned = super().clean()
            if self.instance.pk is None or not self.has_changed():
                return cleaned
            stale = []
            for name in self.changed_data:
                field = self.fields[name]
                if not field.show_hidden_initial:
                    continue
                seen = field.to_python(field.hidden_widget().value_from_datadict(self.data, self.files, self.add_initial_prefix(name)))
                stored = self.initial.get(name)
                if field.has_changed(seen, stored):
                    stale.append((name, seen, stored))
            if stale:
                self._refuse(stale)
            return cleaned

        def _refuse(self, stale):
            from django.core.exceptions import ValidationError

            model = type(self.instance)
            latest = model.history.filter(**{model._meta.pk.attname: self.instance.pk}).order_by("-history_id").first()
            who = ""
            if latest is not None:
                user = latest.history_user
                who = f" by {user.get_username() if user else 'the server'} at {latest.history_date:%Y-%m-%d %H:%M}"
            changes = "; ".join(f"{self.fields[n].label or n}: {_shown(seen)} → {_shown(stored)}" for n, seen, stored in stale)
            raise ValidationError(
                f"{force_str(self.instance)} was changed{who} after you opened this list ({changes}), so this row "
                "was not saved. Reload the list to edit the current values.",
                code="stale_version",
            )

    VersionedChangelistForm.__name__ = base.__name__
    return VersionedChangelistForm
