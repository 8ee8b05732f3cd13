"""The excerpts' CSV export (GET /api/excerpts/export/) without a serializer per row.

At a million excerpts, ExcerptSerializer costs about a millisecond a row, far more than reading the
rows; so here each row is read as a tuple (values_list on the list's own filtered, ordered queryset)
and written as the serializer and the CSV renderer would have written it. tests/api/test_csv_export.py
holds the two equal: every column, every row, for each role, against the list's ?format=csv pages.
"""

import json

from django.utils import timezone

from cmo_kb.permissions import visible_configurations
from evidence.models import EvidenceLink

# CSV column (as ExcerptSerializer + the renderer name it) -> the value behind it.
COLUMNS = {
    "id": "pk", "slug": "slug", "source": "source__slug", "text": "text", "start": "start", "end": "end",
    "section": "section", "team": "team__slug", "speaker_role": "speaker_role__slug", "attribution": "attribution",
    "kind": "kind", "wave": "wave__slug", "note": "note", "created_by": "created_by__username",
    "updated_by": "updated_by__username", "created_at": "created_at", "updated_at": "updated_at",
}
LINK_FIELDS = ("id", "configuration__slug", "configuration__title", "stance", "part", "note")
LINK_KEYS = ("id", "configuration", "configuration_title", "stance", "part", "note")  # ExcerptLinkSerializer's


def _datetime(value, zone):
    # DRF's DateTimeField: the current time zone, ISO 8601, "Z" for UTC.
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def export_rows(view, queryset, header, chunk_size):
    """Chunks of rows (lists of cells in `header` order), or None where the serializer must do it
    (a search: rank and snippet; a column this module does not know)."""
    if "rank" in header or not set(header) <= set(COLUMNS) | {"links"}:
        return None
    fields = [COLUMNS[column] for column in header if column != "links"]
    zone = timezone.get_current_timezone()
    dates = {i for i, name in enumerate(fields) if name in ("created_at", "updated_at")}
    links_at = header.index("links") if "links" in header else None
    visible = visible_configurations(view.request)

    def links_of(ids):
        # The list's prefetch: links to configurations this client may see, by configuration slug, part.
        grouped = {}
        rows = (
            EvidenceLink.objects.filter(configuration__in=visible, excerpt_id__in=ids)
            .order_by("configuration__slug", "part")
            .values_list("excerpt_id", *LINK_FIELDS)
        )
        for excerpt_id, *values in rows:
            grouped.setdefault(excerpt_id, []).append(json.dumps(dict(zip(LINK_KEYS, values)), ensure_ascii=False))
        return grouped

    def chunks():
        rows = queryset.prefetch_related(None).values_list("pk", *fields).iterator(chunk_size=chunk_size)
        chunk = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == chunk_size:
                yield render(chunk)
                chunk = []
        if chunk:
            yield render(chunk)

    def render(chunk):
        links = links_of([row[0] for row in chunk]) if links_at is not None else {}
        out = []
        for pk, *values in chunk:
            cells = ["" if value is None else (_datetime(value, zone) if i in dates else value)
                     for i, value in enumerate(values)]
            if links_at is not None:
                cells.insert(links_at, "; ".join(links.get(pk, ())))
            out.append(cells)
        return out

    return chunks()
