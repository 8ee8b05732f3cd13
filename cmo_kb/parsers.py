"""The API's JSON parser: a body DRF's own JSONParser would turn into a 500 is a 400 naming the problem.

- nesting deeper than MAX_JSON_DEPTH (Python's json module raises RecursionError at about 1,000);
- a NUL in a PUT or PATCH form body (FormParser, MultiPartParser): PostgreSQL refuses NUL in text.

A NUL character (``\\u0000``) in JSON is the fields' to refuse, each naming itself
(cmo_kb/serializer_fields.py): a key or a value that names no field is ignored, as DRF ignores
every key that names no field (a key with a NUL is dropped here, so nothing reads it).

Kept free of rest_framework.views imports: DRF loads DEFAULT_PARSER_CLASSES while that module loads.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64


def _check(value, path, depth):
    if depth > MAX_JSON_DEPTH:
        raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep (at {path or 'the top'}).")
    if isinstance(value, dict):
        for key in [key for key in value if "\x00" in key]:
            # No field is named with a NUL, and keys that name no field are ignored, so is this one
            # (the schema cannot forbid characters in a key: OpenAPI 3.0 has no propertyNames).
            del value[key]
        for key, item in value.items():
            _check(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.") from None
        _check(data, "", 0)
        return data


def _check_form(data):
    for name, values in data.lists():
        if "\x00" in name or any(isinstance(v, str) and "\x00" in v for v in values):
            shown = name.replace("\x00", "\\x00")
            raise ParseError(f"Form parse error - {shown} contains a NUL byte, which is not allowed.")


class FormParser(parsers.FormParser):
    """PUT and PATCH form bodies, which Django does not parse (cmo_kb/middleware.py checks POSTs)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _check_form(result.data)
        return result
