"""The served schema tells the truth about programmes: the new resources' answers, the 403 naming a
programme, ?programme= and ?concept= documented (the slugs each accepts, for who asks)."""

import pytest

from tests.api.test_schema_truth import _served, _validator
from tests.programmes.test_crosswalk import concepts  # noqa: F401  (fixture)

ANSWERS = [
    ("/api/programmes/", "/api/programmes/"),
    ("/api/programmes/{slug}/", "/api/programmes/other/"),
    ("/api/programmes/{programme_slug}/members/", "/api/programmes/other/members/"),
    ("/api/programmes/{programme_slug}/members/{username}/", "/api/programmes/other/members/oeva/"),
    ("/api/concept-mappings/", "/api/concept-mappings/"),
    ("/api/frameworks/", "/api/frameworks/"),
    ("/api/excerpts/", "/api/excerpts/?programme=other"),
    ("/api/evidence-links/", "/api/evidence-links/?programme=other"),
    ("/api/configurations/", "/api/configurations/?concept=buy-in&programme=ctg,other"),
    ("/api/matrix/", "/api/matrix/?rows=concept&cols=mechanism"),
]


@pytest.mark.parametrize("path,url", ANSWERS)
def test_answers_match_the_schema(clients, concepts, path, url):  # noqa: F811
    client = clients["oleo"]
    schema = _served(client)
    response = client.get(url)
    assert response.status_code == 200, response.content
    _validator(schema, path, "get", 200)(response.json())


def test_refusals_match_the_schema(clients, concepts):  # noqa: F811
    schema = _served(clients["oeva"])
    response = clients["oeva"].patch("/api/contexts/four-hour-target/", {"name": "x"}, format="json")
    assert response.status_code == 403 and response.json()["programme"] == "ctg"
    _validator(schema, "/api/contexts/{slug}/", "patch", 403)(response.json())
    response = clients["oeva"].post("/api/programmes/other/members/", {"username": "ana"}, format="json")
    assert response.status_code == 403 and response.json()["programme"] == "other"
    _validator(schema, "/api/programmes/{programme_slug}/members/", "post", 403)(response.json())
    response = clients["oeva"].get("/api/programmes/ctg/members/")
    assert response.status_code == 403
    _validator(schema, "/api/programmes/{programme_slug}/members/", "get", 403)(response.json())
    response = clients["oleo"].post("/api/programmes/other/members/", {"username": "nobody", "role": "analyst"},
                                    format="json")
    assert response.status_code == 422
    _validator(_served(clients["oleo"]), "/api/programmes/{programme_slug}/members/", "post", 422)(response.json())
    response = clients["oeva"].post("/api/concept-mappings/", {"concept": "buy-in"}, format="json")
    assert response.status_code == 400
    _validator(schema, "/api/concept-mappings/", "post", 400)(response.json())


def test_new_parameters_are_documented(clients, concepts):  # noqa: F811
    schema = _served(clients["anonymous"])

    def parameters(path):
        return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}

    for path in ("/api/configurations/", "/api/excerpts/", "/api/evidence-links/", "/api/teams/", "/api/sources/",
                 "/api/contexts/", "/api/mechanisms/", "/api/themes/", "/api/outcomes/", "/api/speaker-roles/",
                 "/api/waves/", "/api/programmes/", "/api/concept-mappings/", "/api/matrix/"):
        assert parameters(path)["programme"]["schema"]["items"]["enum"] == ["ctg"], path
    for path in ("/api/wish-dimensions/", "/api/quality-domains/", "/api/pathways/", "/api/frameworks/"):
        assert "programme" not in parameters(path), path
    concept = parameters("/api/configurations/")["concept"]
    assert concept["schema"]["items"]["enum"] == ["buy-in", "coherence", "unused"]
    assert "crosswalk" in concept["description"]
    assert "concept" in parameters("/api/matrix/")["rows"]["schema"]["enum"]
    assert "Programmes" in schema["info"]["description"]
    assert "a slug two visible programmes share matches the terms of both" in schema["info"]["description"]
    # Who asks decides which programmes are accepted.
    member = {p["name"]: p for p in _served(clients["oana"])["paths"]["/api/configurations/"]["get"]["parameters"]}
    assert member["programme"]["schema"]["items"]["enum"] == ["ctg", "other"]


def _request_properties(schema, path, method):
    body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    return set(schema["components"]["schemas"][name]["properties"])


def test_refusals_that_stored_data_decides_are_documented_as_such(clients, concepts):  # noqa: F811
    """make fuzz: what a schema cannot know (the programmes one writes in, slugs two programmes share)
    is a 422 or a 409, each documented, never a 400 for a well-formed request."""
    schema = _served(clients["mixed"])
    response = clients["mixed"].post("/api/contexts/", {"slug": "quiet", "name": "Quiet"}, format="json")
    assert response.status_code == 422
    _validator(schema, "/api/contexts/", "post", 422)(response.json())
    response = clients["root"].delete("/api/contexts/resigned-dependence/")
    assert response.status_code == 409 and list(response.json()) == ["programme"]
    _validator(schema, "/api/contexts/{slug}/", "delete", 409)(response.json())
    _validator(schema, "/api/contexts/{slug}/", "get", 409)(response.json())
    # A programme's vocabulary is copied when it is created: the update body has no such field.
    assert "copy_vocabulary_from" in _request_properties(schema, "/api/programmes/", "post")
    assert "copy_vocabulary_from" not in _request_properties(schema, "/api/programmes/{slug}/", "patch")
    assert "copy_vocabulary_from" not in _request_properties(schema, "/api/programmes/{slug}/", "put")
