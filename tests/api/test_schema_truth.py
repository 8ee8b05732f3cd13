"""The served OpenAPI schema is true: what it promises (auth, parameters, status codes, bodies) is what
the API does. `make fuzz` (.ci/fuzz: schemathesis, every check) holds the running API to it at large;
these pin each rule of cmo_kb/openapi.py, and validate real answers against the schema."""

import copy

import jsonschema
import pytest

from cmo_kb.pagination import MAX_PAGE_SIZE


def _served(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def anon_schema(kb, anon_client):
    return _served(anon_client)


def _parameters(schema, path, method="get"):
    return {p["name"]: p for p in schema["paths"][path][method].get("parameters", [])}


# A user's own imports (evidence/import_api.py) are the one read that needs signing in.
PRIVATE_READS = ("/api/imports/",)


def test_public_reads_need_no_auth_and_writes_do(anon_schema):
    for path, item in anon_schema["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", [])
            if method == "get" and path.startswith(PRIVATE_READS):
                assert {} not in security and security, f"GET {path} needs a token"
                assert "401" in operation["responses"], f"GET {path} documents its 401"
            elif method == "get":
                assert {} in security, f"GET {path}: anonymous clients read it"
            elif path != "/api/auth/token/":
                assert {} not in security and security, f"{method.upper()} {path} needs a token"


def test_every_operation_documents_its_errors(anon_schema):
    for path, item in anon_schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"400", "429"} <= codes, (method, path)
            if method in ("post", "put", "patch", "delete"):
                assert {"401", "403", "409"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    assert response.get("content"), f"{method.upper()} {path} {code} has a body"
    assert "403" in anon_schema["paths"]["/api/configurations/"]["get"]["responses"]  # ?status=draft
    assert "403" in anon_schema["paths"]["/api/matrix/"]["get"]["responses"]
    assert "403" in anon_schema["paths"]["/api/export/qdpx/"]["get"]["responses"]  # ?include_drafts=1
    assert "404" in anon_schema["paths"]["/api/teams/"]["get"]["responses"]  # a page past the last


def test_csv_is_documented_on_reads_only(anon_schema):
    listing = anon_schema["paths"]["/api/configurations/"]["get"]
    for code in ("200", "400", "404"):
        assert listing["responses"][code]["content"]["text/csv"]["schema"]["type"] == "string", code
    assert _parameters(anon_schema, "/api/configurations/")["format"]["schema"]["enum"] == ["csv", "json"]
    assert "format" not in _parameters(anon_schema, "/api/configurations/", "post")
    assert "text/csv" not in anon_schema["paths"]["/api/configurations/"]["post"]["responses"]["201"]["content"]


def test_query_parameters_say_what_they_accept(kb, anon_schema, evaluator_client):
    params = _parameters(anon_schema, "/api/configurations/")
    assert all(p["allowEmptyValue"] for p in params.values()), "an empty value means absent"
    assert params["team"]["schema"]["items"]["enum"] == ["pathway", "shc"]
    assert params["mechanism"]["schema"]["items"]["enum"] == ["patient-beliefs", "professional-beliefs"]
    teams = _parameters(anon_schema, "/api/teams/")
    assert teams["page"]["schema"] == {"type": "integer", "minimum": 1}
    assert teams["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
    matrix = _parameters(anon_schema, "/api/matrix/")
    assert matrix["rows"]["required"] and "allowEmptyValue" not in matrix["rows"]
    # Which configurations a filter accepts depends on who asks, as the 400 for an unknown one does.
    anon_slugs = _parameters(anon_schema, "/api/excerpts/")["configuration"]["schema"]["items"]["enum"]
    evaluator_slugs = _parameters(_served(evaluator_client), "/api/excerpts/")["configuration"]["schema"]["items"]["enum"]
    assert "pathway-targets" not in anon_slugs and "pathway-targets" in evaluator_slugs


def test_free_text_filters_accept_any_text(kb, anon_schema, client):
    # A query string cannot tell JSON null or a number from the text spelling it: a free-text
    # filter's schema is the empty one, so no value counts as "schema-violating" (make fuzz sent
    # name=null as invalid data and the API rightly searched for the text "null"). A NUL byte is a 400
    # in any parameter; make fuzz generates none (.ci/schemathesis.toml).
    for path, name in [("/api/relationship-levels/", "name"), ("/api/excerpts/", "search"), ("/api/matrix/", "slug"), ("/api/sources/", "title")]:
        assert _parameters(anon_schema, path)[name]["schema"] == {}, (path, name)
    assert client.get("/api/relationship-levels/", {"name": "a\x00b"}).status_code == 400
    assert client.get("/api/relationship-levels/", {"name": ["a", "b\x00"]}).status_code == 400
    for value in ("null", "-1.5e+131", "true", "{}"):
        response = client.get("/api/relationship-levels/", {"name": value})
        assert response.status_code == 200, value
        assert response.json()["count"] == 0
    assert client.get("/api/relationship-levels/", {"name": "mic"}).json()["count"] == 1


def test_written_schema_lists_no_database_values(tmp_path, db):
    """`manage.py spectacular` (no request, perhaps no database) writes a schema without slug enums."""
    import yaml
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    team = {p["name"]: p for p in schema["paths"]["/api/configurations/"]["get"]["parameters"]}["team"]
    assert team["schema"] == {"type": "array", "items": {"type": "string"}}


def test_search_fields_are_optional_and_null_columns_nullable(anon_schema):
    components = anon_schema["components"]["schemas"]
    for name in ("Configuration", "CompactConfiguration", "Excerpt"):
        assert "rank" in components[name]["properties"], name
        assert not {"rank", "snippet"} & set(components[name]["required"]), name
    assert components["EvidenceLink"]["properties"]["created_by"]["nullable"] is True
    assert components["Excerpt"]["properties"]["updated_by"]["nullable"] is True
    assert components["TeamQualityDomain"]["properties"]["evidence"]["nullable"] is True
    assert "nullable" not in components["Excerpt"]["properties"]["text"]


# --- Real answers validate against the schema -------------------------------------------------


def _json_schema(node):
    """OpenAPI 3.0 → JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _json_schema(v) for k, v in node.items() if k not in ("readOnly", "writeOnly", "example")}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def _validator(schema, path, method, code, media="application/json"):
    body = schema["paths"][path][method]["responses"][str(code)]["content"][media]["schema"]
    whole = _json_schema(copy.deepcopy(schema))
    whole["$schema"] = "http://json-schema.org/draft-07/schema#"
    return lambda data: jsonschema.validate(
        data, {**_json_schema(body), "components": whole["components"]}, cls=jsonschema.Draft7Validator
    )


ANSWERS = [
    ("/api/configurations/", "/api/configurations/?page_size=2"),
    ("/api/configurations/", "/api/configurations/?view=compact"),
    ("/api/configurations/", "/api/configurations/?search=control"),
    ("/api/configurations/{slug}/", "/api/configurations/shc-control/"),
    ("/api/configurations/{slug}/", "/api/configurations/shc-control/?view=compact"),
    ("/api/excerpts/", "/api/excerpts/"),
    ("/api/excerpts/", "/api/excerpts/?search=control"),
    ("/api/evidence-links/", "/api/evidence-links/"),
    ("/api/teams/", "/api/teams/"),
    ("/api/sources/", "/api/sources/"),
    ("/api/wish-dimensions/", "/api/wish-dimensions/"),
    ("/api/matrix/", "/api/matrix/?rows=team&cols=mechanism"),
    ("/api/auth/me/", "/api/auth/me/"),
]


@pytest.mark.parametrize("path,url", ANSWERS)
@pytest.mark.parametrize("role", ["anon", "evaluator"])
def test_answers_match_the_schema(kb, anon_client, evaluator_client, role, path, url):
    client = anon_client if role == "anon" else evaluator_client
    schema = _served(client)
    response = client.get(url)
    assert response.status_code == 200, response.content
    _validator(schema, path, "get", 200)(response.json())


@pytest.mark.parametrize("url,path,code", [
    ("/api/configurations/?team=nope", "/api/configurations/", 400),
    ("/api/configurations/?status=draft", "/api/configurations/", 403),
    ("/api/configurations/?cursor=garbage", "/api/configurations/", 404),
    ("/api/teams/?page=9", "/api/teams/", 404),
    ("/api/teams/?page=0", "/api/teams/", 400),
    ("/api/teams/nope/", "/api/teams/{slug}/", 404),
    ("/api/teams/shc/?format=xml", "/api/teams/{slug}/", 400),
    ("/api/export/qdc/?include_drafts=1", "/api/export/qdc/", 403),
])
def test_errors_match_the_schema(anon_schema, anon_client, url, path, code):
    response = anon_client.get(url)
    assert response.status_code == code, response.content
    _validator(anon_schema, path, "get", code)(response.json())


def test_a_bad_token_is_a_documented_401(anon_schema, anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = anon_client.get("/api/teams/")
    assert response.status_code == 401
    _validator(anon_schema, "/api/teams/", "get", 401)(response.json())


def test_empty_values_mean_absent(kb, anon_client):
    everything = anon_client.get("/api/configurations/").json()
    for query in ("team=", "view=", "format=", "cursor=", "page_size=", "search=", "has_evidence=", "updated_since="):
        response = anon_client.get(f"/api/configurations/?{query}")
        assert response.status_code == 200, (query, response.content)
        assert response.json()["results"] == everything["results"], query


def test_write_errors_match_the_schema(kb, evaluator_client):
    # make fuzz found both 400s outside the schema: a row's errors nested under its index, and a
    # body that cannot be read (malformed JSON) saying why in `detail`.
    schema = _served(evaluator_client)
    validate = _validator(schema, "/api/configurations/{slug}/", "patch", 400)
    response = evaluator_client.patch(
        "/api/configurations/pathway-targets/", {"wish_shifts": [{"dimension": 7}]}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["wish_shifts"]) == ["0"]
    validate(response.json())
    # A slug no row has: well formed, refused by the stored data (422), in the same shape.
    response = evaluator_client.patch(
        "/api/configurations/pathway-targets/", {"wish_shifts": [{"dimension": "nope"}]}, format="json"
    )
    assert response.status_code == 422
    assert list(response.json()["wish_shifts"]) == ["0"]
    _validator(schema, "/api/configurations/{slug}/", "patch", 422)(response.json())
    # A duplicate: 409 naming the field.
    response = evaluator_client.patch("/api/configurations/pathway-targets/", {"slug": "shc-control"}, format="json")
    assert response.status_code == 409 and list(response.json()) == ["slug"]
    _validator(schema, "/api/configurations/{slug}/", "patch", 409)(response.json())
    response = evaluator_client.patch(
        "/api/configurations/pathway-targets/", '{"title": "a\\u0000b"}', content_type="application/json"
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["title"][0]
    validate(response.json())
    response = evaluator_client.patch("/api/configurations/pathway-targets/", '[1, ', content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    validate(response.json())
    # A key with a NUL names no field: ignored, as any key that names no field is.
    response = evaluator_client.patch(
        "/api/configurations/pathway-targets/", '{"a\\u0000b": 1, "notes": "Kept."}', content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["notes"] == "Kept."
    # The schema says every free text of a body is without NUL.
    title = schema["components"]["schemas"]["PatchedConfigurationWriteRequest"]["properties"]["title"]
    assert title["pattern"] == "^[^\\u0000]*$"


def test_import_run_answers_match_the_schema(kb, evaluator_client, settings, tmp_path):
    """POST /api/imports/ (202), its status, the list and the undo (200, then 409) as the schema says."""
    import io

    settings.MEDIA_ROOT = str(tmp_path)
    schema = _served(evaluator_client)
    upload = io.BytesIO(b"title,statement\nA schema check,In C M leads to O.\n")
    upload.name = "sheet.csv"
    response = evaluator_client.post("/api/imports/", {"file": upload, "programme": "ctg"}, format="multipart")
    assert response.status_code == 202, response.content
    _validator(schema, "/api/imports/", "post", 202)(response.json())
    run = response.json()["id"]
    _validator(schema, "/api/imports/{id}/", "get", 200)(evaluator_client.get(f"/api/imports/{run}/").json())
    _validator(schema, "/api/imports/", "get", 200)(evaluator_client.get("/api/imports/").json())
    response = evaluator_client.post(f"/api/imports/{run}/undo/")
    assert response.status_code == 200, response.content
    _validator(schema, "/api/imports/{id}/undo/", "post", 200)(response.json())
    response = evaluator_client.post(f"/api/imports/{run}/undo/")
    assert response.status_code == 409
    _validator(schema, "/api/imports/{id}/undo/", "post", 409)(response.json())
