"""The API's JSON parser: a body DRF's own JSONParser would turn into a 500 is a 400 naming the problem.

- nesting deeper than MAX_JSON_DEPTH (Python's json module raises RecursionError at about 1,000);
- a NUL character (``\\u0000``) in any string or key: PostgreSQL refuses NUL in text.

Kept free of rest_framework.views imports: DRF loads DEFAULT_PARSER_CLASSES while that module loads.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64


def _check(value, path, depth):
    if depth > MAX_JSON_DEPTH:
        raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep (at {path or 'the top'}).")
    if isinstance(value, str):
        if "\x00" in value:
            raise ParseError(f"JSON parse error - {path or 'the body'} contains a NUL character (\\u0000), which is not allowed.")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if "\x00" in key:
                shown = where.replace("\x00", "\\u0000")
                raise ParseError(f"JSON parse error - the key {shown!r} contains a NUL character (\\u0000).")
            _check(item, where, depth + 1)
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


PARSER_CLASSES = [JSONParser, parsers.FormParser, parsers.MultiPartParser]
