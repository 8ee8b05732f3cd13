"""The excerpts' CSV export (GET /api/excerpts/export/) without a serializer per row.

At a million excerpts, ExcerptSerializer costs about a millisecond a row, far more than reading the
rows. On PostgreSQL, ``export_csv`` has COPY write the rows (cmo_kb/copy_csv.py: the cells
formatted in SQL, the visible links as one string_agg per row); elsewhere ``export_rows`` reads each
row as a tuple (values_list on the list's own filtered, ordered queryset) and writes it as the
serializer and the CSV renderer would have, with the links from a second cursor in the same order.
tests/api/test_csv_export.py holds both equal to the list's ?format=csv pages: every column, every
row, for each role, on SQLite and on PostgreSQL.
"""

import json

from django.db import connections
from django.utils import timezone

from cmo_kb import copy_csv
from cmo_kb.permissions import visible_configurations
from evidence.models import EvidenceLink
from mechanisms.models import CMOConfiguration

# CSV column (as ExcerptSerializer + the renderer name it) -> the value behind it.
COLUMNS = {
    "id": "pk", "slug": "slug", "source": "source__slug", "programme": "source__programme__slug", "text": "text", "start": "start", "end": "end",
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


TEXT_COLUMNS = {"slug", "source", "programme", "text", "section", "team", "speaker_role", "attribution", "kind", "wave", "note",
                "created_by", "updated_by"}
ORDERING = ("source_id", "start", "pk")  # ExcerptViewSet.cursor_ordering


def _links_cell(view, connection, pk):
    """SQL of the links cell of the row ``x``: ExcerptLinkSerializer's JSON of each link to a
    configuration this client may see, by configuration slug and part, joined with "; " (as the
    renderer joins them). Per row, an index scan of its links; the visible configurations' query
    without its ordering, so that PostgreSQL checks each link's configuration by its primary key."""
    link, configuration = (connection.ops.quote_name(m._meta.db_table) for m in (EvidenceLink, CMOConfiguration))
    visible = visible_configurations(view.request)
    condition = ""
    if visible.query.where:  # not everything: only these configurations' links
        sql, params = visible.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            condition = " AND l.configuration_id IN (" + cursor.mogrify(sql, params).decode().replace("%", "%%") + ")"
    js = copy_csv.json_string
    item = (
        """'{"id": ' || l.id || ', "configuration": ' || """ + js("c.slug")
        + """ || ', "configuration_title": ' || """ + js("c.title")
        + """ || ', "stance": ' || """ + js("l.stance")
        + """ || ', "part": ' || """ + js("l.part")
        + """ || ', "note": ' || """ + js("l.note") + " || '}'"
    )
    return (
        f"(SELECT string_agg({item}, '; ' ORDER BY c.slug, l.part) FROM {link} l JOIN {configuration} c "
        f"ON c.id = l.configuration_id WHERE l.excerpt_id = x.{pk}{condition})"
    )


def export_csv(view, queryset, header):
    """Chunks of CSV bytes written by PostgreSQL's COPY, or None where this cannot be (another
    database, a search, a time zone without an IANA name, a column this module does not know)."""
    connection = connections[queryset.db]
    zone = copy_csv.zone_name(timezone.get_current_timezone())
    if (connection.vendor != "postgresql" or zone is None or "rank" in header or header[0] != "id"
            or not set(header) <= set(COLUMNS) | {"links"}):
        return None
    values = list(ORDERING)
    for column in header:
        if column != "links" and COLUMNS[column] not in values:
            values.append(COLUMNS[column])
    at = {name: f"x.c{values.index(name)}" for name in values}
    cells = []
    for column in header:
        if column == "links":
            cells.append(_links_cell(view, connection, f"c{values.index('pk')}"))
        elif column in ("created_at", "updated_at"):
            cells.append(copy_csv.when(at[COLUMNS[column]]))
        elif column in TEXT_COLUMNS:
            cells.append(copy_csv.text(at[COLUMNS[column]]))
        else:
            cells.append(copy_csv.number(at[COLUMNS[column]]))
    return copy_csv.copy_stream(queryset.prefetch_related(None), ORDERING, values, cells, {"zone": zone})


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
    # The list's prefetch (links to configurations this client may see, by configuration slug and
    # part) as one more cursor, in the excerpts' own order, merged with them: two queries in all,
    # whatever the size (a links query per chunk costs 0.6 s at a million excerpts).
    links = (
        EvidenceLink.objects.filter(configuration__in=visible, excerpt__in=queryset.values("pk"))
        .order_by("excerpt__source_id", "excerpt__start", "excerpt_id", "configuration__slug", "part")
        .values_list("excerpt__source_id", "excerpt__start", "excerpt_id", *LINK_FIELDS)
    )

    def chunks():
        rows = queryset.prefetch_related(None).values_list("source_id", "start", "pk", *fields).iterator(chunk_size=chunk_size)
        pending = iter(links.iterator(chunk_size=chunk_size)) if links_at is not None else iter(())
        link = next(pending, None)
        chunk = []
        for source_id, start, pk, *values in rows:
            position = (source_id, start, pk)
            mine = []
            while link is not None and tuple(link[:3]) <= position:
                if tuple(link[:3]) == position:
                    mine.append(json.dumps(dict(zip(LINK_KEYS, link[3:])), ensure_ascii=False))
                link = next(pending, None)
            cells = ["" if value is None else (_datetime(value, zone) if i in dates else value)
                     for i, value in enumerate(values)]
            if links_at is not None:
                cells.insert(links_at, "; ".join(mine))
            chunk.append(cells)
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    return chunks()
