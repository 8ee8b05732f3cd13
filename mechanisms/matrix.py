"""Cross-team matrices: how many configurations sit at each crossing of two axes.

This is the report's "mechanisms in context" view: the same mechanism in different teams' contexts,
triggered or disabled. Shared by the API (/api/matrix/) and the public /matrix/ page.

    matrix = build_matrix(CMOConfiguration.objects.visible_to(user), rows="team", cols="mechanism")
    matrix["rows"]   # [{"key": "shc", "label": "SHC", "count": 2}, ...]  every term, in vocabulary order
    matrix["cols"]   # likewise
    matrix["cells"]  # cells[i][j] for rows[i] x cols[j]:
                     # {"row": "shc", "col": "patient-beliefs", "count": 2, "triggered": 1, "disabled": 1,
                     #  "ids": [3, 7], "slugs": ["shc-control", "shc-fear"]}
    matrix["total"]  # distinct configurations counted anywhere in the matrix

A configuration with several values on an axis (a cross-team configuration, several quality domains,
Wish shifts on two dimensions) is counted once in each cell it falls in; one with no value on an axis
(no theme, say) is in no row or column of that axis. So cell counts may add up to more, or less, than
the number of configurations; row and column "count" are distinct configurations.

The caller decides visibility: pass an already filtered queryset (visible_to(user), API filters).
Cost: a constant number of queries whatever the data size, at most five: the configurations, and for
each axis (rows, then cols if different) its terms and, for many-valued axes, the links.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from mechanisms.models import (
    CMOConfiguration,
    ConfigurationPathway,
    Effect,
    EnablingMechanism,
    MechanismTheme,
    Pathway,
    WishDimension,
    WishShift,
)
from projects.models import QualityDomain, Team


@dataclass(frozen=True)
class Axis:
    """One dimension a matrix can be drawn along.

    terms() -> [(key, label)] in display order (one query, or none for choices).
    links(ids) -> [(configuration id, key)] for many-valued axes (one query); None for an axis read
    straight off the configuration row (``row_field``).
    """

    name: str
    label: str
    terms: Callable[[], list]
    row_field: str | None = None
    links: Callable[[list], list] | None = None


def _vocabulary(model, label_field="name"):
    def terms():
        return list(model.objects.order_by(*model._meta.ordering).values_list("slug", label_field))

    return terms


def _m2m_links(relation, target):
    through = relation.through

    def links(ids):
        return list(through.objects.filter(cmoconfiguration_id__in=ids).values_list("cmoconfiguration_id", f"{target}__slug"))

    return links


def _team_terms():
    return [(slug, short or name) for slug, short, name in Team.objects.order_by("order", "name").values_list("slug", "short_name", "name")]


def _mechanism_terms():
    return [
        (slug, short or name)
        for slug, short, name in EnablingMechanism.objects.order_by("order", "name").values_list("slug", "short_name", "name")
    ]


def _pathway_terms():
    return [(slug, f"{letter}: {name}") for slug, letter, name in Pathway.objects.order_by("letter").values_list("slug", "letter", "name")]


AXES = {
    "team": Axis(
        "team", "Team", _team_terms, links=_m2m_links(CMOConfiguration.teams, "team"),
    ),
    "mechanism": Axis("mechanism", "Enabling mechanism", _mechanism_terms, row_field="mechanism__slug"),
    "theme": Axis("theme", "Mechanism theme", _vocabulary(MechanismTheme), row_field="theme__slug"),
    "wish_dimension": Axis(
        "wish_dimension", "Wish dimension", _vocabulary(WishDimension),
        links=lambda ids: list(
            WishShift.objects.filter(configuration_id__in=ids).values_list("configuration_id", "dimension__slug")
        ),
    ),
    "quality_domain": Axis(
        "quality_domain", "Quality domain", _vocabulary(QualityDomain),
        links=_m2m_links(CMOConfiguration.quality_domains, "qualitydomain"),
    ),
    "pathway": Axis(
        "pathway", "RAND pathway", _pathway_terms,
        links=lambda ids: list(
            ConfigurationPathway.objects.filter(configuration_id__in=ids).values_list("configuration_id", "pathway__slug")
        ),
    ),
    "effect": Axis("effect", "Effect", lambda: list(Effect.choices), row_field="effect"),
}


def axis_choices():
    """'team, mechanism, ...' for error messages and documentation."""
    return ", ".join(AXES)


def _axis(name, param):
    try:
        return AXES[name]
    except (KeyError, TypeError):
        raise ValueError(f"{param}: unknown axis {name!r}; choose one of {axis_choices()}.") from None


def build_matrix(configurations, rows, cols):
    """Count the configurations in ``configurations`` at each crossing of axis ``rows`` and ``cols``.

    Raises ValueError naming the bad argument ("rows: unknown axis 'x'; choose one of ...").
    rows == cols is allowed (a diagonal). See the module docstring for the shape and the query cost.
    """
    row_axis = _axis(rows, "rows")
    col_axis = _axis(cols, "cols")
    axes = [row_axis] if row_axis is col_axis else [row_axis, col_axis]

    row_fields = sorted({axis.row_field for axis in axes if axis.row_field})
    configs = {}  # id -> (slug, effect)
    keys = {axis.name: defaultdict(set) for axis in axes}  # axis -> configuration id -> {key}
    # Query 1: the configurations themselves, with any single-valued axis read off the row.
    for values in configurations.order_by().values("pk", "slug", "effect", *row_fields):
        configs[values["pk"]] = (values["slug"], values["effect"])
        for axis in axes:
            if axis.row_field and values[axis.row_field] is not None:
                keys[axis.name][values["pk"]].add(values[axis.row_field])
    ids = list(configs)
    for axis in axes:
        if axis.links and ids:
            for pk, key in axis.links(ids):  # one query per many-valued axis
                keys[axis.name][pk].add(key)

    terms = {axis.name: axis.terms() for axis in axes}  # one query per vocabulary axis

    by_key = {
        axis.name: {key: {pk for pk in ids if key in keys[axis.name][pk]} for key, _ in terms[axis.name]}
        for axis in axes
    }
    cells = []
    for row_key, _ in terms[row_axis.name]:
        row_cells = []
        row_members = by_key[row_axis.name][row_key]
        for col_key, _ in terms[col_axis.name]:
            members = sorted(row_members & by_key[col_axis.name][col_key], key=lambda pk: configs[pk][0])
            effects = [configs[pk][1] for pk in members]
            row_cells.append(
                {
                    "row": row_key,
                    "col": col_key,
                    "count": len(members),
                    "triggered": effects.count(Effect.TRIGGERED),
                    "disabled": effects.count(Effect.DISABLED),
                    "ids": members,
                    "slugs": [configs[pk][0] for pk in members],
                }
            )
        cells.append(row_cells)

    def header(axis):
        return [{"key": key, "label": str(label), "count": len(by_key[axis.name][key])} for key, label in terms[axis.name]]

    counted = set().union(*by_key[row_axis.name].values()) & set().union(*by_key[col_axis.name].values()) if ids else set()
    return {
        "row_axis": {"key": row_axis.name, "label": row_axis.label},
        "col_axis": {"key": col_axis.name, "label": col_axis.label},
        "rows": header(row_axis),
        "cols": header(col_axis),
        "cells": cells,
        "total": len(counted),
    }


def matrix_cell(matrix, row_key, col_key):
    """The cell at (row_key, col_key) of a built matrix; KeyError when either key is not on the axis."""
    row_index = next((i for i, row in enumerate(matrix["rows"]) if row["key"] == row_key), None)
    col_index = next((j for j, col in enumerate(matrix["cols"]) if col["key"] == col_key), None)
    if row_index is None or col_index is None:
        raise KeyError((row_key, col_key))
    return matrix["cells"][row_index][col_index]
