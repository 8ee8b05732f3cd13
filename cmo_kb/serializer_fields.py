"""Serializer fields that take JSON as the schema types it: a text field takes a JSON string only.

DRF's CharField (and SlugRelatedField, which looks a slug up with whatever it is given) also takes a
JSON number and turns it into text: `{"description": 0}` was stored as "0" and `{"mechanism": 0}`
found the mechanism whose slug is "0", while the schema says "string" (make fuzz: schema-violating
requests accepted). Here a number, a boolean, a list or an object where text belongs is a 400 naming
the field. Form bodies are unaffected: every form value is already text.

KBModelSerializer is ModelSerializer with these fields for the models' text columns; the project's
serializers derive from it and declare StrictCharField / StrictSlugRelatedField.
"""

from django.db import models
from rest_framework import serializers

NOT_TEXT = "Not a valid string: send text (a JSON string), not a {kind}."


def _kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "list" if isinstance(value, (list, tuple)) else "object" if isinstance(value, dict) else type(value).__name__


class StrictTextMixin:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(NOT_TEXT.format(kind=_kind(data)), code="invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictTextMixin, serializers.CharField):
    pass


class StrictSlugField(StrictTextMixin, serializers.SlugField):
    pass


class StrictURLField(StrictTextMixin, serializers.URLField):
    pass


class StrictEmailField(StrictTextMixin, serializers.EmailField):
    pass


class StrictSlugRelatedField(StrictTextMixin, serializers.SlugRelatedField):
    pass


class KBModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.SlugField: StrictSlugField,
        models.URLField: StrictURLField,
        models.EmailField: StrictEmailField,
    }
