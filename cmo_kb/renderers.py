"""Formats of the REST API: JSON, the browsable API and ``?format=csv`` on every list; an unknown
``?format=`` is a 400 naming the formats on offer."""

import csv
import io
import json

from rest_framework import (
    exceptions,
    renderers,
)
from rest_framework.negotiation import DefaultContentNegotiation

# --- CSV ----------------------------------------------------------------------------------------


def _flatten(value, prefix, row):
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else key, row)
    elif isinstance(value, (list, tuple)):
        parts = []
        for item in value:
            if isinstance(item, dict):
                parts.append(str(item.get("slug") or item.get("key") or item.get("excerpt") or json.dumps(item, ensure_ascii=False)))
            else:
                parts.append("" if item is None else str(item))
        row[prefix] = "; ".join(parts)
    else:
        row[prefix] = "" if value is None else value


def flatten_row(item):
    """One result as a CSV row: {column: cell} (the export streams rows through this too)."""
    row = {}
    _flatten(item, "", row)
    return row


# A spreadsheet runs a cell that begins with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text_cell(value):
    """An error cell echoes the request (an unknown parameter's name): a leading apostrophe keeps a
    crafted link's "=HYPERLINK(...)" text in a spreadsheet. Data cells are not changed: evaluators
    write them, and excerpt text must stay verbatim for the scripts that read it."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CSVRenderer(renderers.BaseRenderer):
    """``?format=csv`` on every list: one row per result, nested objects as dotted columns
    (``mechanism.slug``), lists joined with "; " (objects by their slug). Paginated like JSON: the
    next page's URL is in the Link header."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        elif isinstance(data, dict) and "csv_rows" in data:
            data = data["csv_rows"]
        elif isinstance(data, dict):
            # an error body or a single object: one row per field
            if all(isinstance(v, list) for v in data.values()) and data:
                data = [{"parameter": _as_text_cell(k), "error": _as_text_cell(" ".join(map(str, v)))}
                        for k, v in data.items()]
            else:
                data = [data]
        rows, header = [], []
        for item in data:
            row = flatten_row(item)
            for key in row:
                if key not in header:
                    header.append(key)
            rows.append(row)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode(self.charset)


class FormatNegotiation(DefaultContentNegotiation):
    """?format=xml is a 400 naming the formats on offer (DRF's own answer is a bare 404)."""

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            raise exceptions.ValidationError(
                {"format": [f"{format!r} is not a format. Accepted: {', '.join(r.format for r in renderers)}."]}
            )
        return matching


API_RENDERERS = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]
