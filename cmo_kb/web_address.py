"""A web address (a source's URL): an absolute http or https URI, as RFC 3986 and the API schema's
`format: uri` have it.

Django's URLValidator is stricter than the URI syntax: it wants a top-level domain of two or more
letters and labels it knows, so `https://example.a` (a valid URI, which the schema allows and
make fuzz sent) was refused. One rule for every path instead: the model field, its admin form field
and the API's serializer field (cmo_kb/serializer_fields.py) all check with WebAddressValidator.
"""

import re
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.deconstruct import deconstructible

# White space and control characters have no place in a URI (RFC 3986 allows none of them).
_NOT_IN_A_URI = re.compile(r"[\x00-\x20\x7f]")
MESSAGE = "Enter a web address: http:// or https:// followed by a host, e.g. https://www.health.org.uk/report."


@deconstructible
class WebAddressValidator:
    message = MESSAGE
    code = "invalid"

    def __call__(self, value):
        text = str(value)
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
        except ValueError:
            raise ValidationError(self.message, code=self.code, params={"value": value}) from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or _NOT_IN_A_URI.search(text):
            raise ValidationError(self.message, code=self.code, params={"value": value})

    def __eq__(self, other):
        return isinstance(other, WebAddressValidator)


class WebAddressFormField(forms.URLField):
    default_validators = [WebAddressValidator()]


class WebAddressField(models.URLField):
    """models.URLField checked by WebAddressValidator (not Django's URLValidator), in forms too."""

    default_validators = [WebAddressValidator()]

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": WebAddressFormField, **kwargs})
