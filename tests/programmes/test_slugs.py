"""A programme's own terms have slugs unique within the programme: a write looks each slug up within
the programme it writes in, a filter within ?programme= (or in every visible programme without
it), a detail asks which programme when two visible ones share the slug. Shared frameworks stay
global."""

import pytest

from tests.programmes.conftest import results, slugs

NEW = {
    "slug": "other-new", "title": "New in other", "statement": "In C, M leads to O.", "programme": "other",
    "mechanism": "patient-beliefs", "theme": "targeting", "contexts": ["resigned-dependence"], "outcomes": ["self-care"],
    "teams": ["oth-team"], "quality_domains": ["safety"], "pathways": ["a"],
    "wish_shifts": [{"dimension": "power", "toward": "agency", "between": "clinician-patient"}],
}


def test_a_write_links_the_terms_of_its_own_programme(clients, kb, other):
    from mechanisms.models import CMOConfiguration

    response = clients["oeva"].post("/api/configurations/", NEW, format="json")
    assert response.status_code == 201, response.content
    stored = CMOConfiguration.objects.get(slug="other-new")
    assert stored.programme == other.programme
    assert stored.mechanism == other.mechanism and stored.theme == other.theme
    assert list(stored.contexts.all()) == [other.context] and list(stored.outcomes.all()) == [other.outcome]
    assert response.json()["contexts"] == [{"slug": "resigned-dependence", "name": "Other: resigned wards", "category": ""}]
    # mixed writes in both programmes: the same slugs link ctg's terms when it names ctg.
    response = clients["mixed"].post("/api/configurations/", {**NEW, "slug": "ctg-new", "programme": "ctg", "teams": ["shc"]},
                                     format="json")
    assert response.status_code == 201, response.content
    stored = CMOConfiguration.objects.get(slug="ctg-new")
    assert stored.mechanism == kb.patient_beliefs and list(stored.contexts.all()) == [kb.resigned]


@pytest.mark.parametrize("field,value", [
    ("contexts", ["four-hour-target"]), ("outcomes", ["self-care-refused"]), ("mechanism", "professional-beliefs"),
    ("teams", ["shc"]),
])
def test_a_slug_of_another_programme_is_a_422_naming_the_field(clients, field, value):
    from mechanisms.models import CMOConfiguration

    response = clients["mixed"].post("/api/configurations/", {**NEW, field: value}, format="json")
    assert response.status_code == 422, response.content
    assert list(response.json()) == [field]
    noun = {"contexts": "context", "outcomes": "outcome", "mechanism": "enabling mechanism", "teams": "team"}[field]
    slug = value[0] if isinstance(value, list) else value
    assert response.json()[field] == [f"The programme 'other' has no {noun} '{slug}'."]
    assert not CMOConfiguration.objects.filter(slug="other-new").exists()


def test_a_slug_in_the_same_programme_twice_is_a_409_on_the_slug(clients):
    response = clients["oeva"].post("/api/contexts/", {"programme": "other", "slug": "only-other", "name": "Again"},
                                    format="json")
    assert response.status_code == 409
    assert response.json() == {"slug": ["This programme already has a context with this slug."]}
    # ... while ctg's slug in other is fine, and other's in ctg.
    response = clients["oeva"].post("/api/contexts/", {"programme": "other", "slug": "four-hour-target", "name": "Other"},
                                    format="json")
    assert response.status_code == 201


def test_filters_look_a_slug_up_within_the_programme_given(clients):
    root = clients["root"]
    assert slugs(root.get("/api/configurations/", {"context": "resigned-dependence", "programme": "other"})) == [
        "other-published"]
    assert slugs(root.get("/api/configurations/", {"context": "resigned-dependence", "programme": "ctg"})) == [
        "shc-control", "shc-fear"]
    # Without ?programme= a slug two visible programmes share matches both programmes' terms.
    assert slugs(root.get("/api/configurations/", {"context": "resigned-dependence"})) == [
        "other-published", "shc-control", "shc-fear"]
    # A slug the programme given does not have: a 400 listing that programme's.
    response = root.get("/api/configurations/", {"context": "four-hour-target", "programme": "other"})
    assert response.status_code == 400
    assert response.json() == {"context": [
        "Unknown context 'four-hour-target' in the programme other. Accepted: only-other, resigned-dependence."]}
    # Several programmes: any of theirs.
    assert slugs(root.get("/api/configurations/", {"context": "four-hour-target,only-other", "programme": "ctg,other"})) == [
        "other-draft", "pathway-targets"]
    # Other lists take it too.
    assert slugs(root.get("/api/excerpts/", {"mechanism": "patient-beliefs", "programme": "other"})) == ["o-quote", "o-finding"]
    assert slugs(clients["oana"].get("/api/excerpts/", {"mechanism": "patient-beliefs", "programme": "other"})) == ["o-quote"]
    assert slugs(root.get("/api/excerpts/", {"speaker_role": "patient", "programme": "other"})) == ["o-quote"]
    assert slugs(root.get("/api/excerpts/", {"speaker_role": "patient"})) == ["q-control", "o-quote"]
    assert slugs(root.get("/api/excerpts/", {"wave": "1"})) == ["o-quote"]
    assert slugs(root.get("/api/themes/", {"mechanism": "patient-beliefs", "programme": "ctg"})) == ["targeting"]
    assert sorted(r["programme"] for r in results(root.get("/api/themes/", {"mechanism": "patient-beliefs"}))) == ["ctg", "other"]
    assert slugs(root.get("/api/evidence-links/", {"programme": "other"}), "configuration") == [
        "other-published", "other-draft"]
    assert slugs(root.get("/api/teams/", {"programme": "other"})) == ["oth-team"]
    assert slugs(root.get("/api/sources/", {"programme": "other"})) == ["other-report"]
    assert slugs(root.get("/api/speaker-roles/", {"programme": "other"})) == ["patient"]


def test_a_shared_slug_of_a_non_member_programme_is_not_seen(clients):
    # eva sees ctg only: resigned-dependence is ctg's, other's does not exist for her.
    assert slugs(clients["eva"].get("/api/configurations/", {"context": "resigned-dependence"})) == [
        "shc-control", "shc-fear"]
    assert clients["eva"].get("/api/contexts/resigned-dependence/").json()["programme"] == "ctg"


def test_a_detail_by_a_shared_slug_asks_for_the_programme(clients):
    root = clients["root"]
    response = root.get("/api/contexts/resigned-dependence/")
    assert response.status_code == 409
    assert response.json() == {"programme": [
        "Several programmes have a context 'resigned-dependence' (ctg, other): say which with ?programme=."]}
    assert root.get("/api/contexts/resigned-dependence/", {"programme": "other"}).json()["name"] == "Other: resigned wards"
    response = root.patch("/api/contexts/resigned-dependence/?programme=other", {"name": "Renamed"}, format="json")
    assert response.status_code == 200 and response.json()["programme"] == "other"


def test_shared_frameworks_stay_global(clients):
    for url in ("/api/wish-dimensions/", "/api/quality-domains/", "/api/pathways/", "/api/relationship-levels/",
                "/api/frameworks/", "/api/outcome-kinds/"):
        response = clients["oeva"].get(url, {"programme": "other"})
        assert response.status_code == 400 and "programme" in response.json(), url
        assert "programme" not in (results(clients["oeva"].get(url)) or [{}])[0], url
