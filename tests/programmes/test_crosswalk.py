"""The crosswalk: /api/concept-mappings/ maps a programme's own terms onto shared framework concepts;
?concept= on configurations and the matrix's concept axis compare programmes on them."""

import pytest

from tests.programmes.conftest import ROLES, SEES_OTHER, WRITES_CTG, results, slugs

MAPPINGS = "/api/concept-mappings/"


@pytest.fixture
def concepts(kb, other):
    from mechanisms.models import ConceptMapping, Framework, FrameworkConcept

    npt = Framework.objects.create(slug="npt", name="Normalisation Process Theory", order=1)
    ns = type("Concepts", (), {})()
    ns.buy_in = FrameworkConcept.objects.create(framework=npt, slug="buy-in", name="Professional buy-in", order=1)
    ns.coherence = FrameworkConcept.objects.create(framework=npt, slug="coherence", name="Coherence", order=2)
    ns.unused = FrameworkConcept.objects.create(framework=npt, slug="unused", name="Unused", order=3)
    # ctg: its patient-beliefs mechanism is buy-in; other: its resigned-dependence context is buy-in,
    # its only-other context is coherence.
    ns.ctg_mapping = ConceptMapping.objects.create(programme=kb.programme, concept=ns.buy_in, mechanism=kb.patient_beliefs)
    ConceptMapping.objects.create(programme=other.programme, concept=ns.buy_in, context=other.context)
    ConceptMapping.objects.create(programme=other.programme, concept=ns.coherence, context=other.only_context)
    return ns


def test_frameworks_list_their_concepts(clients, concepts):
    assert results(clients["anonymous"].get("/api/frameworks/")) == [{
        "slug": "npt", "name": "Normalisation Process Theory", "description": "", "order": 1,
        "concepts": [
            {"slug": "buy-in", "name": "Professional buy-in", "description": "", "order": 1},
            {"slug": "coherence", "name": "Coherence", "description": "", "order": 2},
            {"slug": "unused", "name": "Unused", "description": "", "order": 3},
        ],
    }]


@pytest.mark.parametrize("role", ROLES)
def test_mappings_are_read_with_their_programme(clients, concepts, role):
    rows = results(clients[role].get(MAPPINGS))
    expected = [("ctg", "buy-in", "patient-beliefs", None)]
    if role in SEES_OTHER:
        expected = [*expected, ("other", "buy-in", None, "resigned-dependence"), ("other", "coherence", None, "only-other")]
    assert [(r["programme"], r["concept"], r["mechanism"], r["context"]) for r in rows] == expected
    assert rows[0] == {"id": concepts.ctg_mapping.pk, "programme": "ctg", "concept": "buy-in", "framework": "npt",
                       "mechanism": "patient-beliefs", "theme": None, "context": None, "outcome": None, "note": ""}


@pytest.mark.parametrize("role", ROLES)
def test_mappings_are_written_by_the_programmes_evaluators(clients, concepts, role):
    from mechanisms.models import ConceptMapping

    body = {"programme": "ctg", "concept": "coherence", "context": "four-hour-target", "note": "why"}
    response = clients[role].post(MAPPINGS, body, format="json")
    if role == "anonymous":
        assert response.status_code == 401
    elif role in ("ana", "oana"):
        assert response.status_code == 403
    elif role in WRITES_CTG:
        assert response.status_code == 201, response.content
        assert response.json()["context"] == "four-hour-target" and response.json()["programme"] == "ctg"
    else:
        assert response.status_code == 403 and response.json()["programme"] == "ctg"
    assert ConceptMapping.objects.filter(context__slug="four-hour-target").exists() is (response.status_code == 201)


def test_a_mappings_term_is_looked_up_within_its_programme(clients, kb, other, concepts):
    from mechanisms.models import ConceptMapping

    # resigned-dependence is in both programmes: mapped within the one named.
    response = clients["mixed"].post(MAPPINGS, {"programme": "ctg", "concept": "coherence", "context": "resigned-dependence"},
                                     format="json")
    assert response.status_code == 201, response.content
    assert ConceptMapping.objects.get(pk=response.json()["id"]).context == kb.resigned
    # only-other is other's only: a 422 naming the field.
    response = clients["mixed"].post(MAPPINGS, {"programme": "ctg", "concept": "coherence", "context": "only-other"},
                                     format="json")
    assert response.status_code == 422
    assert response.json() == {"context": ["The programme 'ctg' has no context 'only-other'."]}
    # Concepts are global.
    response = clients["oeva"].post(MAPPINGS, {"concept": "unused", "mechanism": "patient-beliefs"}, format="json")
    assert response.status_code == 201 and response.json()["programme"] == "other"
    assert ConceptMapping.objects.get(pk=response.json()["id"]).mechanism == other.mechanism


@pytest.mark.parametrize("body,status,errors", [
    ({"concept": "coherence"}, 400, {name: [
        "Give exactly one of mechanism, theme, context or outcome: the programme's term that is a case of the concept."]
        for name in ("mechanism", "theme", "context", "outcome")}),
    ({"concept": "coherence", "mechanism": "professional-beliefs", "outcome": "self-care"}, 400, {name: [
        "Give exactly one of mechanism, theme, context or outcome: the programme's term that is a case of the concept. "
        "Got mechanism, outcome."] for name in ("mechanism", "outcome")}),
    ({"concept": "buy-in", "mechanism": "patient-beliefs"}, 409, {"mechanism": [
        "'patient-beliefs' is already mapped to the concept 'buy-in'."]}),
    ({"concept": "nope", "mechanism": "patient-beliefs"}, 422, {"concept": ["Object with slug=nope does not exist."]}),
    ({"concept": "coherence", "theme": 3}, 400, {"theme": ["Not a valid string: send text (a JSON string), not a number."]}),
])
def test_mapping_errors_name_the_field(clients, concepts, body, status, errors):
    response = clients["eva"].post(MAPPINGS, {"programme": "ctg", **body}, format="json")
    assert response.status_code == status, response.content
    assert response.json() == errors


def test_a_mappings_term_is_replaced_by_the_one_sent(clients, concepts):
    url = f"{MAPPINGS}{concepts.ctg_mapping.pk}/"
    response = clients["eva"].patch(url, {"context": "four-hour-target"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["mechanism"], response.json()["context"]) == (None, "four-hour-target")
    response = clients["eva"].patch(url, {"context": None}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"mechanism", "theme", "context", "outcome"}
    assert clients["eva"].patch(url, {"note": "Only the note."}, format="json").status_code == 200
    assert clients["oeva"].delete(url).status_code == 403
    assert clients["eva"].delete(url).status_code == 204


def test_the_concept_filter_compares_programmes(clients, concepts):
    root = clients["root"]
    # ctg's two patient-beliefs configurations (the mechanism), other's published one (its context).
    assert slugs(root.get("/api/configurations/", {"concept": "buy-in"})) == ["other-published", "shc-control", "shc-fear"]
    assert slugs(root.get("/api/configurations/", {"concept": "coherence"})) == ["other-draft"]
    assert slugs(root.get("/api/configurations/", {"concept": "buy-in", "programme": "ctg"})) == ["shc-control", "shc-fear"]
    assert slugs(root.get("/api/configurations/", {"concept": "unused"})) == []
    # For someone who does not see other: ctg's only.
    assert slugs(clients["anonymous"].get("/api/configurations/", {"concept": "buy-in,coherence"})) == ["shc-control", "shc-fear"]
    response = root.get("/api/configurations/", {"concept": "nope"})
    assert response.status_code == 400 and response.json()["concept"][0].startswith("Unknown framework concept 'nope'.")


def test_the_matrix_concept_axis(clients, concepts):
    matrix = clients["root"].get("/api/matrix/", {"rows": "concept", "cols": "effect", "ids": "true"}).json()
    assert [(row["key"], row["label"], row["count"]) for row in matrix["rows"]] == [
        ("buy-in", "Professional buy-in", 3), ("coherence", "Coherence", 1), ("unused", "Unused", 0)]
    triggered = {row["key"]: cell for row, cells in zip(matrix["rows"], matrix["cells"]) for cell in cells
                 if cell["col"] == "triggered"}
    disabled = {row["key"]: cell for row, cells in zip(matrix["rows"], matrix["cells"]) for cell in cells
                if cell["col"] == "disabled"}
    assert triggered["buy-in"]["slugs"] == ["other-published", "shc-control"]
    assert disabled["buy-in"]["slugs"] == ["shc-fear"]
    assert triggered["coherence"]["slugs"] == ["other-draft"]
    assert matrix["total"] == 4
    # The cell drills down to the same configurations.
    assert slugs(clients["root"].get(triggered["buy-in"]["configurations_url"])) == ["other-published", "shc-control"]
    # Programmes by concept: rows are concepts, across programmes; a filter narrows.
    narrowed = clients["root"].get("/api/matrix/", {"rows": "concept", "cols": "mechanism", "programme": "other"}).json()
    assert [row["count"] for row in narrowed["rows"]] == [1, 1, 0]
    # Anonymous: ctg's alone.
    anonymous = clients["anonymous"].get("/api/matrix/", {"rows": "concept", "cols": "team"}).json()
    assert [row["count"] for row in anonymous["rows"]] == [2, 0, 0]
