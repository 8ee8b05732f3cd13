"""/api/matrix/: counts checked against the kb fixture by hand (see test_matrix.py for the tally)."""

import csv
import io

import pytest


def grid(body):
    return [[cell["count"] for cell in row] for row in body["cells"]]


def test_team_by_mechanism_for_anonymous(kb, anon_client):
    body = anon_client.get("/api/matrix/?rows=team&cols=mechanism&ids=true").json()
    assert body["row_axis"] == {"key": "team", "label": "Team"}
    assert body["rows"] == [{"key": "shc", "label": "SHC", "count": 2}, {"key": "pathway", "label": "Pathway", "count": 0}]
    assert [c["key"] for c in body["cols"]] == ["patient-beliefs", "professional-beliefs"]
    assert grid(body) == [[2, 0], [0, 0]]
    cell = body["cells"][0][0]
    assert (cell["triggered"], cell["disabled"]) == (1, 1)
    assert cell["slugs"] == ["shc-control", "shc-fear"]
    assert cell["ids"] == [kb.shc_control.pk, kb.shc_fear.pk]
    assert cell["ids_complete"] is True
    assert cell["configurations_url"] == "/api/configurations/?team=shc&mechanism=patient-beliefs"
    assert body["total"] == 2


def test_ids_are_opt_in(kb, anon_client):
    body = anon_client.get("/api/matrix/?rows=team&cols=mechanism").json()
    assert body["cells"][0][0] == {
        "row": "shc", "col": "patient-beliefs", "count": 2, "triggered": 1, "disabled": 1,
        "configurations_url": "/api/configurations/?team=shc&mechanism=patient-beliefs",
    }
    assert "ids" not in anon_client.get("/api/matrix/?rows=team&cols=mechanism&ids=false").json()["cells"][0][0]


def test_anonymous_ids_never_name_a_draft(kb, anon_client):
    body = anon_client.get("/api/matrix/?rows=team&cols=mechanism&ids=true").json()
    assert body["cells"][1][1] == {
        "row": "pathway", "col": "professional-beliefs", "count": 0, "triggered": 0, "disabled": 0,
        "ids": [], "slugs": [], "ids_complete": True,
        "configurations_url": "/api/configurations/?team=pathway&mechanism=professional-beliefs",
    }
    assert kb.pathway_targets.pk not in [pk for row in body["cells"] for cell in row for pk in cell["ids"]]


def test_matrix_query_count_does_not_grow(kb, anon_client, django_assert_num_queries):
    from mechanisms.models import CMOConfiguration

    # the counts; team terms; mechanism terms
    with django_assert_num_queries(3):
        assert anon_client.get("/api/matrix/?rows=team&cols=mechanism").status_code == 200
    for i in range(20):
        c = CMOConfiguration.objects.create(slug=f"more-{i}", title="x", statement="s", status="published",
                                            mechanism=kb.professional_beliefs, effect="triggered")
        c.teams.set([kb.shc, kb.pathway_team])
    with django_assert_num_queries(3):
        body = anon_client.get("/api/matrix/?rows=team&cols=mechanism").json()
    assert body["cells"][1][1]["count"] == 20 and body["total"] == 22
    # and with the ids, one query more
    with django_assert_num_queries(4):
        assert len(anon_client.get("/api/matrix/?rows=team&cols=mechanism&ids=true").json()["cells"][1][1]["ids"]) == 20


def test_evaluators_see_the_draft_in_the_matrix(kb, evaluator_client):
    body = evaluator_client.get("/api/matrix/?rows=team&cols=mechanism&ids=true").json()
    assert grid(body) == [[2, 0], [0, 1]]
    assert body["cells"][1][1]["slugs"] == ["pathway-targets"]


@pytest.mark.parametrize("query,expected", [
    # safety: shc-fear (disabled); person-centredness: shc-control (triggered), shc-fear (disabled)
    ("rows=quality_domain&cols=effect", [[0, 1], [1, 1]]),
    ("rows=wish_dimension&cols=effect", [[1, 1], [0, 0]]),
    ("rows=theme&cols=team", [[1, 0]]),
    ("rows=effect&cols=effect", [[1, 0], [0, 1]]),
    ("rows=pathway&cols=team", [[0, 0]]),
    # filters narrow what is counted
    ("rows=team&cols=effect&influence=barrier", [[0, 1], [0, 0]]),
    ("rows=team&cols=effect&quality_domain=safety", [[0, 1], [0, 0]]),
    ("rows=team&cols=effect&wish_direction=agency", [[1, 0], [0, 0]]),
    ("rows=team&cols=effect&search=refuse", [[0, 1], [0, 0]]),
    ("rows=team&cols=effect&team=pathway", [[0, 0], [0, 0]]),
])
def test_matrix_numbers(kb, anon_client, query, expected):
    response = anon_client.get(f"/api/matrix/?{query}")
    assert response.status_code == 200, response.content
    assert grid(response.json()) == expected


def test_cell_url_keeps_the_filters_and_drills_down(kb, anon_client):
    body = anon_client.get("/api/matrix/?rows=quality_domain&cols=effect&team=shc&ids=true").json()
    cell = body["cells"][1][1]  # person-centredness x disabled
    assert cell["configurations_url"] == "/api/configurations/?team=shc&quality_domain=person-centredness&effect=disabled"
    listed = anon_client.get(cell["configurations_url"]).json()["results"]
    assert [c["slug"] for c in listed] == cell["slugs"] == ["shc-fear"]


def test_matrix_csv_is_the_grid_of_counts(kb, anon_client):
    response = anon_client.get("/api/matrix/?rows=team&cols=effect&format=csv")
    assert response.status_code == 200
    assert list(csv.reader(io.StringIO(response.content.decode()))) == [
        ["Team", "Triggered", "Disabled"], ["SHC", "1", "1"], ["Pathway", "0", "0"],
    ]


@pytest.mark.parametrize("query,errors", [
    ("", {"rows": ["rows is required. Accepted: team, mechanism, theme, wish_dimension, quality_domain, pathway, effect, concept."],
          "cols": ["cols is required. Accepted: team, mechanism, theme, wish_dimension, quality_domain, pathway, effect, concept."]}),
    ("rows=colour&cols=team",
     {"rows": ["rows 'colour' is not an axis. Accepted: team, mechanism, theme, wish_dimension, quality_domain, pathway, effect, concept."]}),
    ("rows=team&cols=mechanism&team=x", {"team": ["Unknown team 'x'. Accepted: pathway, shc."]}),
    ("rows=team&cols=mechanism&effect=maybe", {"effect": ["'maybe' is not a valid choice. Accepted: triggered, disabled."]}),
    ("rows=team&cols=mechanism&id=z", {"id": ["'z' is not a whole number. Accepted: whole numbers such as 1 or 1,2,3."]}),
    ("rows=team&cols=mechanism&ids=maybe", {"ids": ["'maybe' is not a boolean. Accepted: true or false (also 1/0, yes/no)."]}),
])
def test_matrix_bad_input(kb, anon_client, query, errors):
    response = anon_client.get(f"/api/matrix/?{query}")
    assert response.status_code == 400
    assert response.json() == errors


def test_matrix_unknown_parameter(kb, anon_client):
    response = anon_client.get("/api/matrix/?rows=team&cols=mechanism&colour=red")
    assert response.status_code == 400 and list(response.json()) == ["colour"]
