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


class StrictManyRelatedField(serializers.ManyRelatedField):
    """A JSON list only: DRF took any iterable (an object's keys, a string's letters were refused)."""

    def to_internal_value(self, data):
        if not isinstance(data, list) and not from_a_form(self):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictSlugRelatedField(StrictTextMixin, serializers.SlugRelatedField):
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
    }
