"""mechanisms/matrix.py: numbers worked out by hand on the `kb` fixture (tests/conftest.py).

Visible to everyone: shc-control (shc, patient-beliefs, theme targeting, triggered, Wish power,
quality person-centredness) and shc-fear (shc, patient-beliefs, no theme, disabled, Wish power,
quality safety + person-centredness). Evaluators also see the draft pathway-targets (pathway,
professional-beliefs, triggered, no Wish shift, no quality domain).
"""

import pytest

from mechanisms.matrix import AXES, build_matrix, matrix_cell
from mechanisms.models import CMOConfiguration


def published():
    return CMOConfiguration.objects.published()


def test_team_by_mechanism_published(kb):
    m = build_matrix(published(), "team", "mechanism", ids_limit=10)
    assert [r["key"] for r in m["rows"]] == ["shc", "pathway"]
    assert [r["label"] for r in m["rows"]] == ["SHC", "Pathway"]
    assert [c["key"] for c in m["cols"]] == ["patient-beliefs", "professional-beliefs"]
    assert m["cells"][0][0] == {
        "row": "shc", "col": "patient-beliefs", "count": 2, "triggered": 1, "disabled": 1,
        "ids": sorted([kb.shc_control.pk, kb.shc_fear.pk], key=lambda pk: {kb.shc_control.pk: "shc-control", kb.shc_fear.pk: "shc-fear"}[pk]),
        "slugs": ["shc-control", "shc-fear"], "ids_complete": True,
    }
    assert [[c["count"] for c in row] for row in m["cells"]] == [[2, 0], [0, 0]]
    assert [r["count"] for r in m["rows"]] == [2, 0]
    assert m["total"] == 2


def test_draft_counted_for_whoever_may_see_it(kb):
    m = build_matrix(CMOConfiguration.objects.all(), "team", "mechanism", ids_limit=10)
    assert [[c["count"] for c in row] for row in m["cells"]] == [[2, 0], [0, 1]]
    assert matrix_cell(m, "pathway", "professional-beliefs")["slugs"] == ["pathway-targets"]
    assert m["total"] == 3


def test_quality_domain_by_effect_counts_each_domain(kb):
    m = build_matrix(published(), "quality_domain", "effect", ids_limit=10)
    assert [r["key"] for r in m["rows"]] == ["safety", "person-centredness"]
    assert [c["key"] for c in m["cols"]] == ["triggered", "disabled"]
    # safety: shc-fear (disabled); person-centredness: shc-control (triggered) and shc-fear (disabled)
    assert [[c["count"] for c in row] for row in m["cells"]] == [[0, 1], [1, 1]]
    assert matrix_cell(m, "person-centredness", "disabled")["slugs"] == ["shc-fear"]


def test_wish_dimension_and_theme(kb):
    m = build_matrix(published(), "wish_dimension", "theme")
    assert [r["key"] for r in m["rows"]] == ["power", "valence"]
    assert [c["key"] for c in m["cols"]] == ["targeting"]
    # shc-fear has no theme, so only shc-control is on the theme axis.
    assert [[c["count"] for c in row] for row in m["cells"]] == [[1], [0]]
    assert m["cells"][0][0]["triggered"] == 1 and m["cells"][0][0]["disabled"] == 0
    assert m["total"] == 1


def test_pathway_axis_and_diagonal(kb):
    from mechanisms.models import ConfigurationPathway

    ConfigurationPathway.objects.create(configuration=kb.shc_control, pathway=kb.pathway_a)
    m = build_matrix(published(), "pathway", "pathway", ids_limit=10)
    assert m["rows"] == [{"key": "a", "label": "A: Intervention to quality", "count": 1}]
    assert m["cells"][0][0]["slugs"] == ["shc-control"]


def test_bad_axis_names_the_argument(kb):
    with pytest.raises(ValueError, match=r"rows: unknown axis 'colour'; choose one of team, mechanism"):
        build_matrix(published(), "colour", "team")
    with pytest.raises(ValueError, match=r"cols: unknown axis"):
        build_matrix(published(), "team", None)


def test_axes_all_build(kb):
    for rows in AXES:
        for cols in AXES:
            m = build_matrix(published(), rows, cols)
            assert len(m["cells"]) == len(m["rows"])


def test_cells_list_no_ids_unless_asked(kb):
    cell = build_matrix(published(), "team", "mechanism")["cells"][0][0]
    assert cell == {"row": "shc", "col": "patient-beliefs", "count": 2, "triggered": 1, "disabled": 1}


def test_ids_are_bounded_and_say_so(kb):
    cell = build_matrix(published(), "team", "mechanism", ids_limit=1)["cells"][0][0]
    assert (cell["count"], cell["slugs"], cell["ids"], cell["ids_complete"]) == (2, ["shc-control"], [kb.shc_control.pk], False)


def test_team_diagonal_counts_configurations_shared_by_two_teams(kb):
    kb.shc_fear.teams.add(kb.pathway_team)
    m = build_matrix(published(), "team", "team", ids_limit=10)
    # shc-fear is in both teams: once on the diagonal of each and once in each off-diagonal cell.
    assert [[c["count"] for c in row] for row in m["cells"]] == [[2, 1], [1, 1]]
    assert m["cells"][0][1]["slugs"] == ["shc-fear"]
    assert [r["count"] for r in m["rows"]] == [2, 1] and m["total"] == 2


def test_two_shifts_on_one_dimension_count_once(kb):
    from mechanisms.models import WishShift

    shift = kb.shc_fear.wish_shifts.get()
    other_pair = type(shift.between).objects.exclude(pk=shift.between_id).first() or type(shift.between).objects.create(
        slug="clinician-clinician", name="Clinician–clinician")
    WishShift.objects.create(configuration=kb.shc_fear, dimension=shift.dimension, toward=shift.toward, between=other_pair)
    m = build_matrix(published(), "wish_dimension", "effect")
    assert [[c["count"] for c in row] for row in m["cells"]] == [[1, 1], [0, 0]]
    assert m["rows"][0]["count"] == 2 and m["total"] == 2


@pytest.mark.parametrize("rows,cols,ids,queries", [
    # the counts (one aggregate); team terms; mechanism terms
    ("team", "mechanism", 0, 3),
    # the same and the ids behind the cells
    ("team", "mechanism", 10, 4),
    # the counts; wish terms; quality terms
    ("wish_dimension", "quality_domain", 0, 3),
    # the counts; effect needs no query for its terms
    ("effect", "effect", 0, 1),
])
def test_query_count_is_constant(kb, django_assert_num_queries, rows, cols, ids, queries):
    with django_assert_num_queries(queries):
        build_matrix(published(), rows, cols, ids_limit=ids)
    # Ten more configurations across both teams, every one with a Wish shift and quality domains.
    from mechanisms.models import WishShift

    for i in range(10):
        c = CMOConfiguration.objects.create(slug=f"extra-{i}", title="x", statement="s", status="published",
                                            mechanism=kb.professional_beliefs, effect="disabled")
        c.teams.set([kb.shc, kb.pathway_team])
        c.quality_domains.set([kb.safety])
        WishShift.objects.create(configuration=c, dimension=kb.valence, toward=kb.friendly, between=kb.clinician_patient)
    with django_assert_num_queries(queries):
        m = build_matrix(published(), rows, cols, ids_limit=ids)
    assert m["total"] == 12


def test_cross_team_configuration_is_one_in_its_column_and_the_total(kb):
    kb.shc_fear.teams.add(kb.pathway_team)
    m = build_matrix(published(), "team", "mechanism")
    assert [[c["count"] for c in row] for row in m["cells"]] == [[2, 0], [1, 0]]
    assert [r["count"] for r in m["rows"]] == [2, 1]
    assert [c["count"] for c in m["cols"]] == [2, 0]
    assert m["total"] == 2
    m = build_matrix(published(), "mechanism", "team")
    assert [r["count"] for r in m["rows"]] == [2, 0] and [c["count"] for c in m["cols"]] == [2, 1]


def test_a_filter_that_matches_nothing_gives_an_empty_matrix(kb, django_assert_num_queries):
    # queryset.none() cannot be compiled to SQL: no counting query at all, only the terms.
    with django_assert_num_queries(2):
        m = build_matrix(published().none(), "team", "mechanism", ids_limit=10)
    assert m["total"] == 0 and [[c["count"] for c in row] for row in m["cells"]] == [[0, 0], [0, 0]]
    assert m["cells"][0][0]["ids"] == [] and m["cells"][0][0]["ids_complete"] is True
