"""OpenAPI: the schema validates with no warnings, documents filters, auth and errors; Swagger UI and
ReDoc load only the app's own static files."""

import re

import pytest
import yaml
from django.core.management import call_command


def test_spectacular_validates_without_warnings(tmp_path, db):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")


@pytest.fixture
def schema(db, anon_client):
    response = anon_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_schema_covers_every_resource(schema):
    for name in ["programmes", "teams", "mechanisms", "themes", "wish-dimensions", "quality-domains", "relationship-levels",
                 "pathways", "contexts", "outcomes", "configurations", "sources", "excerpts", "evidence-links",
                 "frameworks", "concept-mappings", "codes", "codings", "theories"]:
        assert f"/api/{name}/" in schema["paths"], name
    assert "/api/configurations/{slug}/" in schema["paths"]
    assert "/api/evidence-links/{id}/" in schema["paths"]
    assert "/api/programmes/{programme_slug}/members/{username}/" in schema["paths"]
    assert "/api/concept-mappings/{id}/" in schema["paths"]
    assert "/api/theories/{slug}/" in schema["paths"]
    assert "/api/codes/{id}/" in schema["paths"] and "/api/codings/{id}/" in schema["paths"]
    assert "/api/matrix/" in schema["paths"]
    assert "/api/auth/token/" in schema["paths"]
    # Imports in the background (evidence/import_api.py), next to the synchronous spreadsheet import.
    for path in ("/api/imports/", "/api/imports/{id}/", "/api/imports/{id}/undo/", "/api/imports/configurations/"):
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/imports/"]) == {"get", "post"}


def _parameters(schema, path):
    return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}


def test_schema_documents_configuration_filters(schema):
    params = _parameters(schema, "/api/configurations/")
    for name in ["team", "mechanism", "theme", "effect", "influence", "barrier_or_enabler", "context", "outcome", "outcome_kind",
                 "wish_dimension", "wish_direction", "wish_between", "quality_domain", "pathway", "relationship_level",
                 "status", "has_evidence", "search", "id", "updated_since", "cursor", "page_size", "view", "programme",
                 "concept"]:
        assert name in params, name
    assert params["team"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert "comma-separated or repeated" in params["team"]["description"]
    assert params["effect"]["schema"]["items"]["enum"] == ["triggered", "disabled"]
    assert params["has_evidence"]["schema"]["type"] == "boolean"
    # bounded as the parser bounds it (a larger id is a 400, so the schema must not allow it)
    assert params["id"]["schema"]["items"] == {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}
    assert '"quoted phrase"' in params["search"]["description"]
    assert sorted(params["view"]["schema"]["enum"]) == ["compact", "full"]


def test_schema_documents_excerpt_filters_and_matrix_axes(schema):
    params = _parameters(schema, "/api/excerpts/")
    for name in ["team", "speaker_role", "kind", "source", "wave", "section", "configuration", "mechanism", "search"]:
        assert name in params, name
    matrix = _parameters(schema, "/api/matrix/")
    assert matrix["rows"]["required"] is True
    assert sorted(matrix["rows"]["schema"]["enum"]) == sorted(
        ["team", "mechanism", "theme", "wish_dimension", "quality_domain", "pathway", "effect", "concept"]
    )
    assert "effect" in matrix and "team" in matrix


def test_schema_documents_auth_and_errors(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"]["type"] == "apiKey" and schemes["tokenAuth"]["in"] == "header"
    assert "cookieAuth" in schemes
    list_responses = schema["paths"]["/api/configurations/"]["get"]["responses"]
    assert {"200", "400", "429"} <= set(list_responses)
    assert "what it accepts" in list_responses["400"]["content"]["application/json"]["schema"]["description"]
    write_responses = schema["paths"]["/api/configurations/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "429"} <= set(write_responses)
    assert "404" in schema["paths"]["/api/configurations/{slug}/"]["get"]["responses"]
    assert "409" in schema["paths"]["/api/teams/{slug}/"]["delete"]["responses"]
    description = schema["info"]["description"]
    for phrase in ["Authorization: Token", "comma-separated", "400", "page_size", "format=csv", "view=compact", "429"]:
        assert phrase in description, phrase


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_use_only_local_static_files(db, anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for asset in assets:
        # ReDoc's bundle comes through cmo_kb/api_docs.py, without its vendor's CDN logo.
        assert asset.startswith(("/static/", "/api/schema/", "/api/redoc/redoc.standalone.js")), asset
    assert "cdn" not in html.lower()
    assert not re.search(r"https?://(?!testserver)", html), re.findall(r"https?://[^\"' ]+", html)
    for asset in assets:
        if asset.startswith(("/static/", "/api/redoc/")):
            response = anon_client.get(asset)
            assert response.status_code == 200, asset
            assert b"cdn.redoc.ly" not in b"".join(response.streaming_content if response.streaming else [response.content]), asset
