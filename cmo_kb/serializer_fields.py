"""Serializer fields that take JSON as the schema types it: a text field takes a JSON string only.

DRF's CharField (and SlugRelatedField, which looks a slug up with whatever it is given) also takes a
JSON number and turns it into text: `{"description": 0}` was stored as "0" and `{"mechanism": 0}`
found the mechanism whose slug is "0", while the schema says "string" (make fuzz: schema-violating
requests accepted). Here a number, a boolean, a list or an object where text belongs is a 400 naming
the field. Form bodies are unaffected: every form value is already text.

KBModelSerializer is ModelSerializer with these fields for the models' text columns; the project's
serializers derive from it and declare StrictCharField / StrictSlugRelatedField.
"""

from django.core.validators import URLValidator
from django.db import models
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.relations import MANY_RELATION_KWARGS
from rest_framework.utils import html
from rest_framework.validators import UniqueTogetherValidator

from cmo_kb.vocabulary import RULE
from cmo_kb.web_address import WebAddressValidator

NOT_TEXT = "Not a valid string: send text (a JSON string), not a {kind}."
NUL_IN_TEXT = "Contains a NUL character (\\u0000), which is not allowed."


def _kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "list" if isinstance(value, (list, tuple)) else "object" if isinstance(value, dict) else type(value).__name__


def from_a_form(field):
    """Whether the body being read is a form (every value text; no null, number or empty list)."""
    return html.is_html_input(getattr(field.root, "initial_data", None))


class StrictTextMixin:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(NOT_TEXT.format(kind=_kind(data)), code="invalid")
        if "\x00" in data:
            # PostgreSQL stores no NUL in text (a lookup with one is a database error, not a miss).
            raise serializers.ValidationError(NUL_IN_TEXT, code="null_characters_not_allowed")
        # The schema's maxLength is of the text as sent: DRF checks it after trimming white space.
        max_length = getattr(self, "max_length", None)
        if max_length is not None and len(data) > max_length:
            self.fail("max_length", max_length=max_length)
        return super().to_internal_value(data)


class StrictCharField(StrictTextMixin, serializers.CharField):
    pass


class StrictSlugField(StrictTextMixin, serializers.SlugField):
    pass


class StrictURLField(StrictTextMixin, serializers.URLField):
    """Checked as a web address (cmo_kb/web_address.py), not by Django's stricter URLValidator."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, URLValidator)]
        if not any(isinstance(v, WebAddressValidator) for v in self.validators):
            self.validators.append(WebAddressValidator())


class StrictEmailField(StrictTextMixin, serializers.EmailField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF also took 0, 1, "yes", "on"...: values the schema's boolean
    refuses); a form's text is read as DRF reads it (a checkbox sends "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool) and not from_a_form(self):
            kind = "text" if isinstance(data, str) else _kind(data)
            raise serializers.ValidationError(f"Must be true or false (a JSON boolean), not {kind}.", code="invalid")
        return super().to_internal_value(data)


class StrictManyRelatedField(serializers.ManyRelatedField):
    """A JSON list only: DRF took any iterable (an object's keys, a string's letters were refused)."""

    def to_internal_value(self, data):
        if not isinstance(data, list) and not from_a_form(self):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


def _request_user(field):
    request = field.context.get("request") if hasattr(field, "context") else None
    return getattr(request, "user", None)


def programme_scoped(queryset, field):
    """``queryset`` narrowed to what the requesting user may see and, for a programme's own rows,
    to the programme the serializer is writing in."""
    from projects.membership import programme_path, scope

    path = programme_path(queryset.model)
    if path is None:
        return queryset
    queryset = scope(queryset, _request_user(field))
    programme = getattr(field.root, "_target_programme", None)
    if programme is not None and path == "programme":
        queryset = queryset.filter(programme=programme)
    return queryset


class ProgrammeSlugMixin:
    def get_queryset(self):
        queryset = super().get_queryset()
        return programme_scoped(queryset, self) if queryset is not None else queryset

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            programme = getattr(self.root, "_target_programme", None)
            model = self.get_queryset().model
            if programme is not None and getattr(model, "programme_path", None) == "programme" and any(
                getattr(detail, "code", None) == "does_not_exist" for detail in error.detail
            ):
                raise serializers.ValidationError(
                    f"The programme '{programme.slug}' has no {model._meta.verbose_name} '{data}'.",
                    code="does_not_exist",
                ) from None
            raise


class StrictSlugRelatedField(ProgrammeSlugMixin, StrictTextMixin, serializers.SlugRelatedField):
    """A slug as a JSON string; none is JSON null. DRF reads "" as null, which the schema (a slug of
    at least one character, or null) does not say; a form still sends "" for none."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update((key, kwargs[key]) for key in kwargs if key in MANY_RELATION_KWARGS)
        return StrictManyRelatedField(**list_kwargs)

    def run_validation(self, data=empty):
        if data == "" and not from_a_form(self):
            self.fail("blank")
        return super().run_validation(data)

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "blank": "This field may not be blank: send a slug, or null for none.",
    }


class KBModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.SlugField: StrictSlugField,
        models.URLField: StrictURLField,
        models.EmailField: StrictEmailField,
        models.BooleanField: StrictBooleanField,
    }

    def get_fields(self):
        """Every row a programme owns says its programme (`programme`, a slug). Rows owned through
        another row (an excerpt through its source) declare theirs: programme_field(source=...)."""
        fields = super().get_fields()
        model = self.Meta.model
        path = getattr(model, "programme_path", None)
        if path == "programme" and "programme" not in fields:
            fields["programme"] = programme_field(required=False)
        return fields

    def to_internal_value(self, data):
        self._target_programme = resolve_programme(self, data)
        value = super().to_internal_value(data)
        # A new row goes to the programme resolved; a stored one stays where it is unless the body
        # moves it (so a PATCH of the status alone writes nothing else: no save besides the step).
        if (self._target_programme is not None and self.instance is None and "programme" in self.fields
                and not self.fields["programme"].read_only):
            value["programme"] = self._target_programme
        return value

    def get_validators(self):
        """A duplicate in a unique set (a slug within a programme, a term mapped to a concept twice)
        is the error of the field that clashes, not a non-field error."""
        return [
            NamedUniqueTogetherValidator.of(validator) if type(validator) is UniqueTogetherValidator else validator
            for validator in super().get_validators()
        ]


class NamedUniqueTogetherValidator(UniqueTogetherValidator):
    """UniqueTogetherValidator whose error is on its first field other than `programme` (code
    unique: a 409): {"slug": ["This programme already has a context with this slug."]}."""

    @classmethod
    def of(cls, validator):
        named = cls.__new__(cls)
        named.__dict__.update(validator.__dict__)
        return named

    def __call__(self, attrs, serializer):
        try:
            super().__call__(attrs, serializer)
        except serializers.ValidationError as error:
            if isinstance(error.detail, dict):  # a field of the set missing: already named
                raise
            others = [name for name in self.fields if name != "programme"]
            name = others[0] if others else self.fields[0]
            noun = self.queryset.model._meta.verbose_name
            if "programme" in self.fields:
                message = f"This programme already has a {noun} with this {name.replace('_', ' ')}."
            else:
                rest = ", ".join(others[1:])
                message = f"A {noun} with this {name.replace('_', ' ')}{' and ' + rest if rest else ''} already exists."
            raise serializers.ValidationError({name: [message]}, code=self.code) from None


# --- Programmes: every row says its programme; slugs are looked up within it ----------------------
# A programme's own terms (projects/membership.py, cmo_kb/vocabulary.py ProgrammeTerm) have slugs
# unique within the programme only. A serializer of a programme's row resolves the programme first
# (the body's `programme`, the row's own, or the one programme the writer writes in; for a row owned
# through another, an excerpt through its source, that row's), and every slug in the body is then
# looked up within it. What the user may not see is never found.


def programme_field(**kwargs):
    from projects.models import Programme

    kwargs.setdefault("help_text", "The programme this row belongs to (see /api/programmes/).")
    if not kwargs.get("read_only"):
        kwargs["queryset"] = Programme.objects.all()
    return StrictSlugRelatedField(slug_field="slug", **kwargs)


def resolve_programme(serializer, data):
    """The programme a write goes to (see above), or None when it cannot be told; raises a 400 on
    `programme` when it must be named."""
    from projects.membership import programme_of, programme_path, writable_programmes

    model = serializer.Meta.model
    path = programme_path(model)
    if path is None or path == "pk":
        return None
    instance = getattr(serializer, "instance", None)
    if path == "programme":
        if isinstance(data, dict) and data.get("programme") not in (None, ""):
            field = serializer.fields.get("programme")
            if field is None or field.read_only:
                return programme_of(instance) if instance is not None else None
            serializer._target_programme = None
            try:
                return field.run_validation(data["programme"])
            except serializers.ValidationError as error:
                raise serializers.ValidationError({"programme": error.detail}) from None
        if instance is not None:
            return instance.programme
        user = _request_user(serializer)
        mine = list(writable_programmes(user)[:2]) if user is not None else []
        if len(mine) == 1:
            return mine[0]
        if mine:
            # Well formed (the schema makes `programme` optional): what is stored, the several
            # programmes the user writes in, makes it ambiguous, so a 422 (cmo_kb/errors.py).
            raise serializers.ValidationError({"programme": [
                "Say which programme this row belongs to: you write in several."]}, code=RULE)
        raise serializers.ValidationError({"programme": [
            "This field is required: the slug of a programme you write in (see /api/programmes/)."
        ]}, code="required")
    owner = path.split("__")[0]
    field = serializer.fields.get(owner)
    if isinstance(data, dict) and data.get(owner) not in (None, "") and field is not None and not field.read_only:
        try:
            return programme_of(field.run_validation(data[owner]))
        except serializers.ValidationError:
            return None  # the owner field reports it
    return programme_of(instance) if instance is not None else None
