"""Cross-team matrices: how many configurations sit at each crossing of two axes.

This is the report's "mechanisms in context" view: the same mechanism in different teams' contexts,
triggered or disabled. Shared by the API (/api/matrix/) and the public /matrix/ page.

    matrix = build_matrix(CMOConfiguration.objects.visible_to(user), rows="team", cols="mechanism")
    matrix["rows"]   # [{"key": "shc", "label": "SHC", "count": 2}, ...]  every term, in vocabulary order
    matrix["cols"]   # likewise
    matrix["cells"]  # cells[i][j] for rows[i] x cols[j]:
                     # {"row": "shc", "col": "patient-beliefs", "count": 2, "triggered": 1, "disabled": 1}
    matrix["total"]  # distinct configurations counted anywhere in the matrix

    build_matrix(..., ids_limit=100)  # each cell also has "ids" and "slugs" (its first 100 by slug)
                                      # and "ids_complete" (False when the cell holds more)

A configuration with several values on an axis (a cross-team configuration, several quality domains,
Wish shifts on two dimensions) is counted once in each cell it falls in; one with no value on an axis
(no theme, say) is in no row or column of that axis. So cell counts may add up to more, or less, than
the number of configurations; row and column "count" are distinct configurations with that term.

Programmes: teams, mechanisms and themes are a programme's own terms, listed for the programmes
passed (``programmes=``, the ones the reader may see and chose; None lists every programme's); terms
of two programmes that share a slug share a row, as a filter by the slug matches both. The
``concept`` axis is the crosswalk's (mechanisms.models.ConceptMapping): a configuration is in the
column of each shared framework concept that its mechanism, theme, a context or an outcome is mapped
to, whatever its programme, so programmes with different vocabularies compare there.

The caller decides visibility: pass an already filtered queryset (visible_to(user), API filters). It
enters the SQL as a subquery, never as a list of ids (at 100k configurations an IN list of ids cost
more than the counting).

Cost, whatever the data size: one aggregate query (the cells, the row and column counts and the
total, from one join of the configurations with the two axes' link tables), one query per vocabulary
axis for its terms, and with ids_limit one more for the ids behind the cells.
"""

from dataclasses import dataclass
from typing import Callable

from django.core.exceptions import EmptyResultSet
from django.db import connection

from mechanisms.models import (
    CMOConfiguration,
    ConceptMapping,
    ConfigurationPathway,
    Effect,
    EnablingMechanism,
    FrameworkConcept,
    MechanismTheme,
    Pathway,
    WishDimension,
    WishShift,
)
from projects.models import QualityDomain, Team

# The most ids a cell may list (?ids=true on the API); a cell with more says so (ids_complete).
IDS_LIMIT = 100


@dataclass(frozen=True)
class Axis:
    """One dimension a matrix can be drawn along.

    terms(programmes=None) -> [(key, slug, label)] in display order, key being what the SQL yields for
    the term (its primary key, or the choice value); one query, or none for choices. A programme's own
    terms (teams, mechanisms, themes) are those of ``programmes`` (a queryset; None: every programme).
    A single-valued axis is a ``column`` of the configuration row (mechanism_id). A many-valued axis
    lives in a link table ``link`` (model) whose ``link_configuration`` and ``link_key`` columns pair a
    configuration with a key; ``repeats`` when one configuration can pair with one key twice (a Wish
    shift per relationship pair), so the links are made distinct before counting.
    """

    name: str
    label: str
    terms: Callable[..., list]
    column: str | None = None
    link: type | None = None
    link_configuration: str = ""
    link_key: str = ""
    repeats: bool = False
    # A link "table" given as SQL (qn -> SELECT configuration_id, <link_key>), for a derived axis.
    link_sql: Callable[[Callable], str] | None = None


def _slug_terms(model, label=lambda term: term.name):
    owned = getattr(model, "programme_path", None) == "programme"

    def terms(programmes=None):
        queryset = model.objects.order_by(*model._meta.ordering)
        if owned and programmes is not None:
            queryset = queryset.filter(programme__in=programmes)
        return [(term.pk, term.slug, label(term)) for term in queryset]

    return terms


def _concept_links(qn):
    """(configuration_id, concept_id) of every configuration the crosswalk maps to a concept: its
    mechanism, theme, a context or an outcome is mapped to it (UNION: each pair once)."""
    mapping, config = qn(ConceptMapping._meta.db_table), qn(CMOConfiguration._meta.db_table)
    selects = [
        f"SELECT c.id AS configuration_id, m.concept_id AS concept_id FROM {config} c "
        f"JOIN {mapping} m ON m.mechanism_id = c.mechanism_id",
        f"SELECT c.id, m.concept_id FROM {config} c JOIN {mapping} m ON m.theme_id = c.theme_id",
    ]
    for name in ("contexts", "outcomes"):
        field = CMOConfiguration._meta.get_field(name)
        through = qn(field.remote_field.through._meta.db_table)
        selects.append(
            f"SELECT l.{qn(field.m2m_column_name())}, m.concept_id FROM {through} l "
            f"JOIN {mapping} m ON m.{qn(name[:-1] + '_id')} = l.{qn(field.m2m_reverse_name())}"
        )
    return " UNION ".join(selects)


def _short(term):
    return term.short_name or term.name


_Teams = CMOConfiguration.teams.through
_QualityDomains = CMOConfiguration.quality_domains.through

AXES = {
    "team": Axis(
        "team", "Team", _slug_terms(Team, _short),
        link=_Teams, link_configuration="cmoconfiguration_id", link_key="team_id",
    ),
    "mechanism": Axis("mechanism", "Enabling mechanism", _slug_terms(EnablingMechanism, _short),
                      column="mechanism_id"),
    "theme": Axis("theme", "Mechanism theme", _slug_terms(MechanismTheme), column="theme_id"),
    "wish_dimension": Axis(
        "wish_dimension", "Wish dimension", _slug_terms(WishDimension),
        link=WishShift, link_configuration="configuration_id", link_key="dimension_id", repeats=True,
    ),
    "quality_domain": Axis(
        "quality_domain", "Quality domain", _slug_terms(QualityDomain),
        link=_QualityDomains, link_configuration="cmoconfiguration_id", link_key="qualitydomain_id",
    ),
    "pathway": Axis(
        "pathway", "RAND pathway", _slug_terms(Pathway, lambda p: f"{p.letter}: {p.name}"),
        link=ConfigurationPathway, link_configuration="configuration_id", link_key="pathway_id",
    ),
    "effect": Axis(
        "effect", "Effect", lambda programmes=None: [(value, value, label) for value, label in Effect.choices],
        column="effect",
    ),
    # The crosswalk's shared axis: configurations of every programme in play, counted per framework
    # concept their terms are mapped to (mechanisms.models.ConceptMapping).
    "concept": Axis(
        "concept", "Framework concept", _slug_terms(FrameworkConcept),
        link_sql=_concept_links, link_configuration="configuration_id", link_key="concept_id",
    ),
}


def axis_choices():
    """'team, mechanism, ...' for error messages and documentation."""
    return ", ".join(AXES)


def _axis(name, param):
    try:
        return AXES[name]
    except (KeyError, TypeError):
        raise ValueError(f"{param}: unknown axis {name!r}; choose one of {axis_choices()}.") from None


def _visible_sql(configurations, with_slug=False):
    """The visible configurations as SQL (id, effect and the single-valued axes' columns).

    A queryset that joins (a filter through a many-to-many) may repeat a configuration, so it is
    reduced to a subquery of ids; a plain one (status = published) is used as it is, which the
    planner folds into the join."""
    columns = ["id", "effect", "mechanism_id", "theme_id"] + (["slug"] if with_slug else [])
    if len(configurations.query.alias_map) > 1 or configurations.query.distinct:
        configurations = CMOConfiguration.objects.filter(pk__in=configurations.order_by().values("pk"))
    return configurations.order_by().values(*columns).query.sql_with_params()


def _key(axis, alias, qn, weighted=False):
    """(SQL for the axis key in the joined row, SQL for how many keys the configuration has on the
    axis (at least 1), JOIN clauses)."""
    if axis.column:
        return f"v.{qn(axis.column)}", "1", ""
    config, key = qn(axis.link_configuration), qn(axis.link_key)
    if axis.link_sql is not None:
        source = f"({axis.link_sql(qn)})"
    else:
        table = qn(axis.link._meta.db_table)
        source = f"(SELECT DISTINCT {config}, {key} FROM {table})" if axis.repeats else table
    joins = f" LEFT JOIN {source} {alias} ON {alias}.{config} = v.id"
    if not weighted:
        return f"{alias}.{key}", "1", joins
    joins += (f" LEFT JOIN (SELECT {config}, COUNT(*) AS n FROM {source} {alias}_l GROUP BY {config}) {alias}_n"
              f" ON {alias}_n.{config} = v.id")
    return f"{alias}.{key}", f"COALESCE({alias}_n.n, 1)", joins


def _joined(configurations, row_axis, col_axis, with_slug=False, weighted=False):
    """(SQL of the CTEs v (visible configurations) and j (one row per configuration, row key and
    column key; NULL keys for a configuration with no term on an axis), params).

    ``weighted`` adds nr and nc, how many row keys and column keys the configuration has (at least
    1): it has nc rows of j in each of its rows and nr in each of its columns."""
    qn = connection.ops.quote_name
    visible, params = _visible_sql(configurations, with_slug)
    row_key, row_n, row_join = _key(row_axis, "r", qn, weighted)
    col_key, col_n, col_join = _key(col_axis, "c", qn, weighted)
    slug = ", v.slug AS slug" if with_slug else ""
    weights = f", {row_n} AS nr, {col_n} AS nc" if weighted else ""
    sql = f"""WITH v AS ({visible}),
        j AS (SELECT v.id AS id, v.effect AS effect{slug}{weights}, {row_key} AS rk, {col_key} AS ck
                FROM v{row_join}{col_join})"""
    return sql, list(params)


def _counts(configurations, row_axis, col_axis):
    """The one aggregate query: [(kind, row key, col key, count, triggered, disabled)].

    kind is "cell", "row", "col" or "total". Rows, columns and the total count distinct
    configurations (a configuration on two columns is one in its row); in a cell every link is one
    row per (configuration, key), so its count is the same distinct count.

    PostgreSQL computes the four in one pass with GROUPING SETS, hashed. COUNT(DISTINCT) would make
    it sort every group (2x the cells' GROUP BY alone at 20k configurations), so distinct
    configurations are counted by weight instead: a configuration with 3 teams has 3 rows in a
    mechanism's column, each weighing 1/3. Single-valued axes weigh 1 and need no join. SQLite has
    no GROUPING SETS, so there the same join is aggregated four times in a UNION ALL (one
    statement still)."""
    effects = [Effect.TRIGGERED, Effect.DISABLED]
    sums = "SUM(CASE WHEN effect = %s THEN 1 ELSE 0 END), SUM(CASE WHEN effect = %s THEN 1 ELSE 0 END)"
    if connection.vendor == "postgresql":
        ctes, params = _joined(configurations, row_axis, col_axis, weighted=True)
        # GROUPING(rk, ck): 0 for a (row, col) group, 1 for a row's, 2 for a column's, 3 for the total.
        sql = f"""{ctes}
            SELECT CASE GROUPING(rk, ck) WHEN 0 THEN 'cell' WHEN 1 THEN 'row' WHEN 2 THEN 'col' ELSE 'total' END,
                   rk, ck,
                   CASE GROUPING(rk, ck) WHEN 0 THEN COUNT(*)
                        WHEN 1 THEN ROUND(SUM(1.0::float8 / nc))
                        WHEN 2 THEN ROUND(SUM(1.0::float8 / nr))
                        ELSE ROUND(SUM(1.0::float8 / (nr * nc)) FILTER (WHERE rk IS NOT NULL AND ck IS NOT NULL)) END,
                   {sums}
              FROM j WHERE rk IS NOT NULL OR ck IS NOT NULL
             GROUP BY GROUPING SETS ((rk, ck), (rk), (ck), ())"""
        rows = [(kind, rk, ck, int(n or 0), t, d) for kind, rk, ck, n, t, d in _fetch(sql, [*params, *effects])]
        # Groups with a NULL key are configurations without a term on that axis: in no row or column.
        return [row for row in rows if (row[1] is not None or row[0] in ("col", "total"))
                and (row[2] is not None or row[0] in ("row", "total"))]
    ctes, params = _joined(configurations, row_axis, col_axis)
    sql = f"""{ctes}
        SELECT 'cell', rk, ck, COUNT(*), {sums} FROM j WHERE rk IS NOT NULL AND ck IS NOT NULL GROUP BY rk, ck
        UNION ALL SELECT 'row', rk, NULL, COUNT(DISTINCT id), 0, 0 FROM j WHERE rk IS NOT NULL GROUP BY rk
        UNION ALL SELECT 'col', NULL, ck, COUNT(DISTINCT id), 0, 0 FROM j WHERE ck IS NOT NULL GROUP BY ck
        UNION ALL SELECT 'total', NULL, NULL, COUNT(DISTINCT id), 0, 0 FROM j WHERE rk IS NOT NULL AND ck IS NOT NULL"""
    return _fetch(sql, [*params, *effects])


def _fetch(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _cell_ids(configurations, row_axis, col_axis, limit):
    """{(row key, col key): [(id, slug)]}, the first ``limit`` of each cell by slug: one query."""
    ctes, params = _joined(configurations, row_axis, col_axis, with_slug=True)
    sql = f"""{ctes}
        SELECT rk, ck, id, slug FROM (
            SELECT rk, ck, id, slug, ROW_NUMBER() OVER (PARTITION BY rk, ck ORDER BY slug, id) AS n
              FROM j WHERE rk IS NOT NULL AND ck IS NOT NULL) numbered
         WHERE n <= %s ORDER BY rk, ck, n"""
    members = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        for row_key, col_key, pk, slug in cursor.fetchall():
            members.setdefault((row_key, col_key), []).append((pk, slug))
    return members


def _by_slug(terms):
    """[(slug, label, [keys])] of an axis's terms, in order: terms of several programmes that share a
    slug (each programme's own `leadership` mechanism) share a row, as a filter by that slug matches
    them all; their labels are joined when they differ."""
    grouped = {}
    for key, slug, label in terms:
        entry = grouped.setdefault(slug, (slug, [], []))
        entry[2].append(key)
        if str(label) not in entry[1]:
            entry[1].append(str(label))
    return [(slug, " / ".join(labels), keys) for slug, labels, keys in grouped.values()]


def build_matrix(configurations, rows, cols, ids_limit=0, programmes=None):
    """Count the configurations in ``configurations`` at each crossing of axis ``rows`` and ``cols``.

    With ``ids_limit`` each cell also lists the ids and slugs of its first ``ids_limit``
    configurations (by slug) and says whether that is all of them (``ids_complete``).
    ``programmes`` (a Programme queryset, or None for all) decides which programmes' own terms a
    programme-owned axis (team, mechanism, theme) lists: pass the programmes the reader may see (and
    chose). Terms of several programmes sharing a slug share a row (their configurations are
    disjoint: a configuration and its terms belong to one programme, so the counts add up).
    Raises ValueError naming the bad argument ("rows: unknown axis 'x'; choose one of ...").
    rows == cols is allowed (a diagonal). See the module docstring for the shape and the query cost.
    """
    row_axis = _axis(rows, "rows")
    col_axis = _axis(cols, "cols")
    cells, row_counts, col_counts, total = {}, {}, {}, 0
    try:
        counted = _counts(configurations, row_axis, col_axis)
    except EmptyResultSet:  # a filter that matches nothing by construction (queryset.none())
        counted = []
    for kind, row_key, col_key, count, triggered, disabled in counted:
        if kind == "cell":
            cells[(row_key, col_key)] = (count, int(triggered), int(disabled))
        elif kind == "row":
            row_counts[row_key] = count
        elif kind == "col":
            col_counts[col_key] = count
        else:
            total = count
    members = _cell_ids(configurations, row_axis, col_axis, ids_limit) if ids_limit and cells else {}

    row_terms = _by_slug(row_axis.terms(programmes))  # one query per vocabulary axis
    col_terms = row_terms if col_axis is row_axis else _by_slug(col_axis.terms(programmes))
    grid = []
    for row_slug, _, row_keys in row_terms:
        line = []
        for col_slug, _, col_keys in col_terms:
            count = triggered = disabled = 0
            listed = []
            for row_key in row_keys:
                for col_key in col_keys:
                    n, t, d = cells.get((row_key, col_key), (0, 0, 0))
                    count, triggered, disabled = count + n, triggered + t, disabled + d
                    listed += members.get((row_key, col_key), [])
            cell = {"row": row_slug, "col": col_slug, "count": count, "triggered": triggered, "disabled": disabled}
            if ids_limit:
                if len(row_keys) > 1 or len(col_keys) > 1:
                    listed = sorted(listed, key=lambda item: (item[1], item[0]))[:ids_limit]
                cell["ids"] = [pk for pk, _ in listed]
                cell["slugs"] = [slug for _, slug in listed]
                cell["ids_complete"] = len(listed) == count
            line.append(cell)
        grid.append(line)

    def header(terms, counts):
        return [{"key": slug, "label": label, "count": sum(counts.get(key, 0) for key in keys)}
                for slug, label, keys in terms]

    return {
        "row_axis": {"key": row_axis.name, "label": row_axis.label},
        "col_axis": {"key": col_axis.name, "label": col_axis.label},
        "rows": header(row_terms, row_counts),
        "cols": header(col_terms, col_counts),
        "cells": grid,
        "total": total,
    }


def matrix_cell(matrix, row_key, col_key):
    """The cell at (row_key, col_key) of a built matrix; KeyError when either key is not on the axis."""
    row_index = next((i for i, row in enumerate(matrix["rows"]) if row["key"] == row_key), None)
    col_index = next((j for j, col in enumerate(matrix["cols"]) if col["key"] == col_key), None)
    if row_index is None or col_index is None:
        raise KeyError((row_key, col_key))
    return matrix["cells"][row_index][col_index]
