"""Validated bulk inserts: every model rule checked in Python, in bulk, then the rows and their
django-simple-history records written in batches inside one transaction.

For imports that add many new rows (the CtG loader's new rows, the imports of documents, QDA projects
and spreadsheets). Saving row by row checks the rules by the model's own save() and costs several
queries a row (about 300 rows/s); here the same rules cost a few queries a batch:

- each field's own validation (type, length, choices, validators): Model.clean_fields(), without
  the foreign keys, whose existence is checked with one query per related model and batch; the
  related rows are then attached, so the model's clean() reads them without a query;
- the model's clean() (EvidenceExcerpt's verbatim rule: text == source.full_text[start:end]);
- uniqueness: unique fields and UniqueConstraints, among the new rows and against the database
  (one query per constraint and batch);
- check constraints: by the database, inside the same transaction; when one refuses a batch, its
  rows are checked one by one to name the row.

A broken rule raises RowError naming the row (1-based, in the order given) and the field, and
nothing is written. Rows are inserted with bulk_create, so save() and pre/post_save receivers do not
run: the engine is for new rows, which the publish lock does not guard (it guards published
configurations and what they show); database triggers (search vectors) run as for any insert.
"""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
import datetime
import io
import json

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

BATCH_SIZE = 2000


class RowError(Exception):
    """A model rule broken by one row: which row (1-based), which field, what is wrong."""

    def __init__(self, model, row, field, message):
        self.model, self.row, self.field, self.message = model, row, field, message
        super().__init__(f"{model._meta.verbose_name} row {row}: {field}: {message}")


def _first_error(exc):
    """(field, message) of a ValidationError."""
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.message_dict.items()))
        return ("(row)" if field == NON_FIELD_ERRORS else field), " ".join(errors)
    return "(row)", " ".join(exc.messages)


def _unique_keys(model):
    """Field-name tuples that must be unique: unique fields (not the primary key) and unconditional
    UniqueConstraints over plain fields."""
    keys = [(f.name,) for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    keys += [tuple(f for f in fields) for fields in model._meta.unique_together]
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and constraint.condition is None \
                and not constraint.expressions:
            keys.append(tuple(constraint.fields))
    return keys


def _attnames(model, names):
    return tuple(model._meta.get_field(name).attname for name in names)


class BulkWriter:
    """bulk_write()'s steps, kept apart so a caller (a loader with its own checks) can reuse them."""

    def __init__(self, model, *, batch_size=BATCH_SIZE, change_reason=None, user=None):
        self.model = model
        self.batch_size = batch_size
        self.change_reason = change_reason
        self.user = user
        self.foreign_keys = [f for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)]
        self.unique_keys = _unique_keys(model)

    # --- checks -------------------------------------------------------------------------------

    def check(self, instances, first_row=1):
        self._attach_related(instances, first_row)
        fields = [f for f in self.model._meta.fields if f not in self.foreign_keys and not getattr(f, "generated", False)]
        for offset, instance in enumerate(instances):
            try:
                self._clean_fields(instance, fields)
                instance.clean()
            except ValidationError as exc:
                raise RowError(self.model, first_row + offset, *_first_error(exc)) from None

    _valid = None

    def _clean_fields(self, instance, fields):
        """Model.clean_fields() (each field's clean: type, length, choices, validators), remembering
        the short values already found valid: a field's checks depend on its value alone, and an
        import repeats its kinds, sections and attributions on row after row."""
        valid = self._valid = self._valid if self._valid is not None else set()
        for field in fields:
            raw = getattr(instance, field.attname)
            if field.blank and raw in field.empty_values:
                continue
            key = (field.attname, raw) if isinstance(raw, (str, int)) and len(str(raw)) <= 200 else None
            if key is not None and key in valid:
                continue
            try:
                cleaned = field.clean(raw, instance)
            except ValidationError as exc:
                raise ValidationError({field.name: exc.error_list}) from None
            setattr(instance, field.attname, cleaned)
            if key is not None and cleaned == raw:
                valid.add(key)

    def _attach_related(self, instances, first_row):
        for field in self.foreign_keys:
            wanted = {getattr(i, field.attname) for i in instances} - {None}
            found = field.related_model._base_manager.in_bulk(wanted) if wanted else {}
            for offset, instance in enumerate(instances):
                value = getattr(instance, field.attname)
                if value is None:
                    if not field.null:
                        raise RowError(self.model, first_row + offset, field.name, "This field cannot be null.")
                    continue
                if value not in found:
                    raise RowError(self.model, first_row + offset, field.name,
                                   f"No {field.related_model._meta.verbose_name} with id {value}.")
                setattr(instance, field.name, found[value])

    def check_unique(self, instances, seen, first_row):
        """Among the rows so far (`seen`: key -> row) and against the database."""
        for names in self.unique_keys:
            attnames = _attnames(self.model, names)
            keys = [tuple(getattr(i, a) for a in attnames) for i in instances]
            for offset, key in enumerate(keys):
                if None in key:  # NULLs are never equal, in SQL as here
                    continue
                row = first_row + offset
                earlier = seen.setdefault(names, {}).setdefault(key, row)
                if earlier != row:
                    raise RowError(self.model, row, ", ".join(names), f"The same as row {earlier}'s {', '.join(map(str, key))}.")
            lookup = {f"{attnames[0]}__in": {k[0] for k in keys}}
            if len(attnames) > 1:
                lookup[f"{attnames[1]}__in"] = {k[1] for k in keys}
            stored = set(self.model._base_manager.filter(**lookup).values_list(*attnames))
            for offset, key in enumerate(keys):
                if key in stored:
                    raise RowError(self.model, first_row + offset, ", ".join(names),
                                   f"A stored {self.model._meta.verbose_name} already has {', '.join(map(str, key))}.")

    # --- writing ------------------------------------------------------------------------------

    def write(self, instances):
        """Check, then insert with history; all or nothing. Returns the instances (with pks)."""
        instances = list(instances)
        seen = {}
        with transaction.atomic():
            for start in range(0, len(instances), self.batch_size):
                batch = instances[start : start + self.batch_size]
                self.check(batch, first_row=start + 1)
                self.check_unique(batch, seen, first_row=start + 1)
            for start in range(0, len(instances), self.batch_size):
                batch = instances[start : start + self.batch_size]
                try:
                    with transaction.atomic():
                        self._insert(batch)
                except IntegrityError as exc:
                    self._name_refused_row(batch, start + 1, exc)
                    raise
        return instances

    def _insert(self, batch):
        if connection.vendor == "postgresql":
            return self._copy(batch)
        if hasattr(self.model, "history"):
            bulk_create_with_history(batch, self.model, batch_size=self.batch_size, default_user=self.user,
                                     default_change_reason=self.change_reason)
        else:
            self.model._base_manager.bulk_create(batch, batch_size=self.batch_size)

    # --- PostgreSQL: COPY ----------------------------------------------------------------------
    # Django's INSERT compiler prepares every value through the field (get_db_prep_save), which is
    # most of bulk_create's time at this size; COPY takes text. The ids come from the tables'
    # sequences first (one query each), so the history rows can point at their rows.

    def _copy(self, batch):
        model = self.model
        fields = [f for f in model._meta.concrete_fields
                  if f.get_internal_type() != "SearchVectorField" and not getattr(f, "generated", False)]
        ids = self._next_ids(model, len(batch))
        rows = []
        for instance, pk in zip(batch, ids):
            instance.pk = pk
            values = [f.pre_save(instance, add=True) if not f.primary_key else pk for f in fields]
            rows.append(values)
        self._copy_rows(model, fields, rows)
        for instance in batch:
            instance._state.adding = False
            instance._state.db = connection.alias
        if hasattr(model, "history"):
            history = model.history.model
            tracked = [f for f in history._meta.concrete_fields if not f.name.startswith("history_")]
            own = {"history_id", "history_date", "history_change_reason", "history_type", "history_user"}
            extra = {f.name for f in history._meta.concrete_fields if f.name.startswith("history_")} - own
            if extra:  # a custom history field this engine does not know: let simple_history fill it
                return model.history.bulk_history_create(batch, default_user=self.user,
                                                         default_change_reason=self.change_reason)
            history_fields = tracked + [history._meta.get_field(n) for n in
                                        ("history_id", "history_date", "history_change_reason", "history_type", "history_user")]
            now = timezone.now()
            user_id = getattr(self.user, "pk", None)
            history_ids = self._next_ids(history, len(batch), column="history_id")
            self._copy_rows(history, history_fields, [
                [getattr(instance, f.attname) for f in tracked] + [hid, now, self.change_reason, "+", user_id]
                for instance, hid in zip(batch, history_ids)
            ])

    @staticmethod
    def _next_ids(model, count, column="id"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [model._meta.db_table, column, count])
            return [row[0] for row in cursor.fetchall()]

    @staticmethod
    def _copy_rows(model, fields, rows):
        buffer = io.StringIO()
        for values in rows:
            buffer.write("\t".join(_copy_text(value) for value in values))
            buffer.write("\n")
        buffer.seek(0)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN", buffer)

    def _name_refused_row(self, batch, first_row, exc):
        for offset, instance in enumerate(batch):
            for constraint in self.model._meta.constraints:
                try:
                    constraint.validate(self.model, instance)
                except ValidationError as error:
                    raise RowError(self.model, first_row + offset, *_first_error(error)) from exc


def bulk_write(model, instances, **options):
    """Check every rule of `model` on each new instance, then insert them all with their history
    rows, in one transaction; RowError (row, field) and nothing written if a rule is broken.
    Queries: per batch, one per foreign key, one per unique key, and the inserts (rows and history)."""
    return BulkWriter(model, **options).write(instances)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value):
    """A value in COPY's text format."""
    kind = type(value)
    if kind is str:
        return value.translate(_COPY_ESCAPES)
    if kind is int:
        return str(value)
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).translate(_COPY_ESCAPES)
