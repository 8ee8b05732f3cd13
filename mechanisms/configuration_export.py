"""The configurations' CSV export (GET /api/configurations/export/, the compact view) on PostgreSQL
without a serializer per row: COPY writes the rows (cmo_kb/copy_csv.py), each cell as
CompactConfigurationSerializer and the CSV renderer write it. The related slugs come from one
string_agg per row and relation, in the order of the list's prefetches (each model's Meta.ordering);
the evidence count and has_evidence from the row's links.

Before this, each chunk of 2,000 ran the serializer and seven prefetches: 33x its COPY floor at 7,500
configurations, and 110 MB of RSS; at 75,189 configurations (1M excerpts) it is now 1.7x, +5 MB. tests/api/test_csv_export.py holds both paths equal to the list's
?format=csv pages, for each role, on SQLite (the serializer) and PostgreSQL (this).
"""

from django.db import connections
from django.utils import timezone

from cmo_kb import copy_csv
from evidence.models import EvidenceLink
from mechanisms.confidence import ASSESSMENT_FIELDS
from mechanisms.models import CMOConfiguration, ConfigurationPathway, WishShift

TEXT = {
    "slug": "slug", "programme": "programme__slug", "title": "title", "status": "status", "activity": "activity",
    "resource": "resource", "reasoning": "reasoning", "effect": "effect",
    "influence": "influence", "statement": "statement", "confidence": "confidence", "notes": "notes",
    "mechanism": "mechanism__slug", "theme": "theme__slug", "relationship_level": "relationship_level__slug",
    "created_by": "created_by__username", "updated_by": "updated_by__username",
    # The GRADE-CERQual assessment (mechanisms/confidence.py): text columns, "" until assessed.
    **{name: name for name in ASSESSMENT_FIELDS},
}
WHEN = {"created_at": "created_at", "updated_at": "updated_at"}
MANY = ("teams", "contexts", "outcomes", "quality_domains")  # slugs, in the related model's Meta.ordering
RELATED = {"wish_shifts", "pathways", "evidence_count", "has_evidence"}


def _table(model, connection):
    return connection.ops.quote_name(model._meta.db_table)


def _order(model, alias, connection):
    """ORDER BY of the related rows as their manager orders them (plain field names only)."""
    return ", ".join(
        f"{alias}.{connection.ops.quote_name(model._meta.get_field(name.lstrip('-')).column)}"
        f"{' DESC' if name.startswith('-') else ''}"
        for name in model._meta.ordering
    )


def _many(name, pk, connection):
    field = CMOConfiguration._meta.get_field(name)
    related = field.related_model
    through = _table(field.remote_field.through, connection)
    q = connection.ops.quote_name
    return copy_csv.text(
        f"(SELECT string_agg(r.{q('slug')}, '; ' ORDER BY {_order(related, 'r', connection)}) FROM {through} m "
        f"JOIN {_table(related, connection)} r ON r.id = m.{q(field.m2m_reverse_name())} "
        f"WHERE m.{q(field.m2m_column_name())} = {pk})"
    )


def _pathways(pk, connection):
    pathway = ConfigurationPathway._meta.get_field("pathway").related_model
    return copy_csv.text(
        f"(SELECT string_agg(p.slug, '; ' ORDER BY cp.\"order\") FROM {_table(ConfigurationPathway, connection)} cp "
        f"JOIN {_table(pathway, connection)} p ON p.id = cp.pathway_id WHERE cp.configuration_id = {pk})"
    )


def _wish_shifts(pk, connection):
    """'dimension>pole (between)', as CompactConfigurationSerializer.get_wish_shifts, by dimension order."""
    models = {name: WishShift._meta.get_field(name).related_model for name in ("dimension", "toward", "between")}
    d, t, b = (_table(models[name], connection) for name in ("dimension", "toward", "between"))
    return copy_csv.text(
        f"(SELECT string_agg(d.slug || '>' || t.slug || ' (' || b.slug || ')', '; ' ORDER BY d.\"order\") "
        f"FROM {_table(WishShift, connection)} s JOIN {d} d ON d.id = s.dimension_id JOIN {t} t ON t.id = s.toward_id "
        f"JOIN {b} b ON b.id = s.between_id WHERE s.configuration_id = {pk})"
    )


def export_csv(view, queryset, header):
    """Chunks of CSV bytes written by COPY, or None where the serializer must write them (another
    database, the full view, a search, a column this module does not know)."""
    connection = connections[queryset.db]
    zone = copy_csv.zone_name(timezone.get_current_timezone())
    known = {"id"} | set(TEXT) | set(WHEN) | set(MANY) | RELATED
    if (connection.vendor != "postgresql" or zone is None or view.get_view() != "compact" or header[0] != "id"
            or not set(header) <= known):
        return None
    ordering = view.export_ordering(queryset)
    values = [name.lstrip("-") for name in ordering]
    for column in header:
        name = TEXT.get(column) or WHEN.get(column)
        if name and name not in values:
            values.append(name)
    if "pk" not in values:
        values.append("pk")
    at = {name: f"x.c{i}" for i, name in enumerate(values)}
    pk, links = at["pk"], _table(EvidenceLink, connection)
    cells = []
    for column in header:
        if column == "id":
            cells.append(copy_csv.number(pk))
        elif column in TEXT:
            cells.append(copy_csv.text(at[TEXT[column]]))
        elif column in WHEN:
            cells.append(copy_csv.when(at[WHEN[column]]))
        elif column in MANY:
            cells.append(_many(column, pk, connection))
        elif column == "pathways":
            cells.append(_pathways(pk, connection))
        elif column == "wish_shifts":
            cells.append(_wish_shifts(pk, connection))
        elif column == "evidence_count":
            cells.append(f"(SELECT count(*) FROM {links} l WHERE l.configuration_id = {pk})::text")
        else:  # has_evidence: Python's bool as csv.writer writes it
            cells.append(f"CASE WHEN EXISTS (SELECT 1 FROM {links} l WHERE l.configuration_id = {pk}) THEN 'True' ELSE 'False' END")
    return copy_csv.copy_stream(queryset.prefetch_related(None), ordering, values, cells, {"zone": zone})
