"""No input gives a 500: each malformed request is a 400 naming what is wrong (JSON under /api/, a
page elsewhere), and a 500 from the API is JSON. Run on SQLite and on PostgreSQL, which refuses NUL
in text and time-zone offsets beyond ±15:59."""

import json

import pytest
from django.test import Client

from cmo_kb.api_urls import router
from cmo_kb.filters import COMMON_PARAMS
from tests.conftest import api_list_path

pytestmark = pytest.mark.django_db

NUL_VALUE = "The query parameter contains a NUL byte (%00), which is not allowed in any value."


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def many_params(count):
    return "&".join(f"p{i}=1" for i in range(count))


def words(count):
    return "+".join(f"w{i}" for i in range(count))


# --- NUL bytes ----------------------------------------------------------------------------------


def test_nul_in_an_api_query_value_is_a_400_naming_it(kb, client):
    response = client.get("/api/waves/?name=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"name": [NUL_VALUE]}


def test_nul_in_a_page_query_value_is_a_400_page_naming_it(kb, client):
    response = client.get("/programmes/ctg/search/?q=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "<h1>Bad request</h1>" in body
    assert f"<code>q</code>: {NUL_VALUE}" in body


def test_nul_in_a_parameter_name_or_the_path(kb, client):
    response = client.get("/api/teams/?na%00me=x")
    assert response.status_code == 400
    assert response.json() == {"na\\x00me": ["The query parameter's name contains a NUL byte (%00), which is not allowed."]}
    response = client.get("/api/teams/a%00b/")
    assert response.status_code == 400
    assert response.json() == {"path": ["The URL path contains a NUL byte (%00), which is not allowed."]}
    assert client.get("/programmes/ctg/teams/a%00b/").status_code == 400


def test_nul_in_a_form_body(kb, client, evaluator):
    response = client.post("/admin/login/", {"username": "eva\x00", "password": "x"})
    assert response.status_code == 400
    assert "<code>username</code>: The form parameter contains a NUL byte" in response.content.decode()
    api = client.post("/api/auth/token/", {"username": "eva", "password": "a\x00b"})
    assert api.status_code == 400
    assert api.json() == {"password": ["The form parameter contains a NUL byte (%00), which is not allowed in any value."]}


@pytest.mark.parametrize("url", ["/api/imports/configurations/", "/api/imports/refi-qda/"])
def test_an_import_with_a_nul_or_no_file_is_a_400_naming_the_field(kb, evaluator_client, url):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = evaluator_client.post(url, {"programme": "ctg\x00"}, format="multipart")
    assert response.status_code == 400 and "programme" in response.json()
    assert evaluator_client.post(url, {"programme": "ctg"}, format="multipart").json() == {
        "file": ["No file was submitted."]}
    empty = SimpleUploadedFile("empty.qdpx" if "refi" in url else "empty.csv", b"")
    response = evaluator_client.post(url, {"programme": "ctg", "file": empty}, format="multipart")
    assert response.status_code == 400 and list(response.json()) == ["file"]


def test_nul_in_a_json_body_is_a_400_naming_the_field_and_writes_nothing(kb, evaluator_client):
    from mechanisms.models import Context

    before = Context.objects.count()
    response = evaluator_client.post(
        "/api/contexts/", json.dumps({"slug": "c-nul", "name": "a\u0000b"}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["Contains a NUL character (\\u0000), which is not allowed."]}
    assert Context.objects.count() == before
    nested = evaluator_client.patch(
        "/api/configurations/shc-control/", json.dumps({"wish_shifts": [{"note": "x\u0000"}]}), content_type="application/json"
    )
    assert nested.status_code == 400
    assert nested.json()["wish_shifts"]["0"]["note"] == ["Contains a NUL character (\\u0000), which is not allowed."]
    # A slug looked up with a NUL would be a database error on PostgreSQL: refused first, naming it.
    reference = evaluator_client.patch(
        "/api/themes/targeting/", json.dumps({"mechanism": "patient\u0000beliefs"}), content_type="application/json"
    )
    assert (reference.status_code, list(reference.json())) == (400, ["mechanism"])
    # A key that names no field is ignored, a NUL in it or in its value too.
    ignored = evaluator_client.patch(
        "/api/contexts/c-nul-free/", json.dumps({"x\u0000": 1, "extra": "a\u0000b"}), content_type="application/json"
    )
    assert ignored.status_code == 404  # (no such context: the body was read without complaint)


def test_nul_in_a_patch_form_body_is_a_400_and_writes_nothing(kb, evaluator_client):
    from mechanisms.models import Context

    context = Context.objects.create(programme=kb.programme, slug="c-form", name="Before")
    response = evaluator_client.patch(
        "/api/contexts/c-form/", "name=a%00b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Form parse error - name contains a NUL byte, which is not allowed."}
    context.refresh_from_db()
    assert context.name == "Before"


def test_a_form_post_checked_by_the_middleware_still_reaches_the_api(kb, analyst):
    """The middleware reads request.POST first; DRF then parses the same body from it."""
    response = Client().post("/api/auth/token/", {"username": "ana", "password": "pw-ana"})
    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


@pytest.mark.parametrize("prefix", sorted(prefix for prefix, _, _ in router.registry))
def test_every_api_list_refuses_a_nul_in_each_of_its_parameters(kb, client, prefix):
    viewset = next(viewset for p, viewset, _ in router.registry if p == prefix)
    filterset = getattr(viewset, "filterset_class", None)
    params = set(COMMON_PARAMS) | set(getattr(viewset, "extra_query_params", ()))
    params |= set(filterset.base_filters) if filterset else set()
    assert params > set(COMMON_PARAMS) or filterset is None
    for param in sorted(params):
        response = client.get(f"/api/{api_list_path(prefix)}/?{param}=a%00b")
        assert (response.status_code, response.json()) == (400, {param: [NUL_VALUE]}), f"/api/{api_list_path(prefix)}/?{param}="


@pytest.mark.parametrize("prefix", sorted(prefix for prefix, _, _ in router.registry) + ["matrix"])
def test_odd_values_in_every_parameter_of_every_list_are_never_a_500(kb, client, lead, prefix):
    """Not a NUL: other values a fuzzer sends. Each is a 200 or a 400 (404 for a page) naming the parameter.
    (A programme's members are read by its members only, and imports by those who import: as ctg's lead.)"""
    if "programme_slug" in prefix or prefix == "imports":
        client.force_login(lead)
    viewset = next((viewset for p, viewset, _ in router.registry if p == prefix), None)
    if viewset is None:
        from mechanisms.api import MatrixView as viewset
    filterset = getattr(viewset, "filterset_class", None)
    params = set(COMMON_PARAMS) | set(getattr(viewset, "extra_query_params", ()))
    params |= set(filterset.base_filters) if filterset else set()
    base = {"rows": "team", "cols": "mechanism"} if prefix == "matrix" else {}
    for param in sorted(params):
        for value in ("9" * 30, "-1", "\u00b2,'; --,\u2603", "2014-13-45", "9999-12-31T23:59:59-14:00"):
            response = client.get(f"/api/{api_list_path(prefix)}/", {**base, param: value})
            # (a page past the last, or a cursor no page gave, is a 404 naming the parameter)
            allowed = (200, 400, 404) if param in ("cursor", "page") else (200, 400)
            assert response.status_code in allowed, (prefix, param, value, response.content[:300])
            if response.status_code in (400, 404) and param not in ("format",):
                assert param in response.json(), (prefix, param, value, response.json())


# --- Dates --------------------------------------------------------------------------------------


def test_a_date_time_beyond_any_real_utc_offset_is_a_400(kb, client):
    response = client.get("/api/configurations/", {"updated_since": "9999-12-31T23:59:59+23:59"})
    assert response.status_code == 400
    assert response.json() == {
        "updated_since": ["'9999-12-31T23:59:59+23:59' has no real UTC offset. Accepted: an offset from -14:00 to +14:00, or Z."]
    }


def test_a_date_time_whose_utc_time_is_beyond_year_9999_is_a_400(kb, client):
    response = client.get("/api/configurations/", {"updated_since": "9999-12-31T23:59:59-14:00"})
    assert response.status_code == 400
    assert response.json() == {
        "updated_since": ["'9999-12-31T23:59:59-14:00' is out of range. Accepted: a date-time between 0001-01-02 and 9999-12-30 (UTC)."]
    }


def test_the_latest_real_date_times_still_filter(kb, client):
    assert client.get("/api/configurations/", {"updated_since": "9999-12-31T23:59:59+14:00"}).json()["results"] == []
    everything = client.get("/api/configurations/", {"updated_since": "2000-01-01T00:00:00-12:00"}).json()["results"]
    assert sorted(c["slug"] for c in everything) == ["shc-control", "shc-fear"]


# --- Bodies and parameter counts ----------------------------------------------------------------


def test_json_nested_2000_deep_is_a_400(kb, client, evaluator_client):
    body = "[" * 2000 + "]" * 2000
    response = client.post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nested more than 64 levels deep."}
    deep_object = '{"name": ' + '{"a": ' * 100 + "1" + "}" * 100 + "}"
    response = evaluator_client.post("/api/contexts/", deep_object, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - nested more than 64 levels deep (at name.a.a.a")


def test_1001_query_parameters_are_a_400(kb, client):
    api = client.get(f"/api/teams/?{many_params(1001)}")
    assert api.status_code == 400
    assert api.json() == {"query": ["Too many query parameters: at most 1000 are accepted in one request."]}
    page = client.get(f"/programmes/ctg/teams/?{many_params(1001)}")
    assert page.status_code == 400
    assert "<code>query</code>: Too many query parameters: at most 1000" in page.content.decode()
    # the limit itself is fine (unknown parameters are then the API's usual 400)
    assert client.get(f"/programmes/ctg/teams/?{many_params(1000)}").status_code == 200


def test_1001_form_fields_are_a_400(kb, client):
    response = client.post("/admin/login/", many_params(1001), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "<code>form</code>: Too many form fields: at most 1000" in response.content.decode()


# --- Search -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/excerpts/?search=", "/api/configurations/?search="])
def test_a_35_word_api_search_is_a_400_naming_search(kb, client, url):
    response = client.get(url + words(35))
    assert response.status_code == 400
    assert response.json() == {"search": ['Too many search terms (35). Accepted: at most 32 words or "quoted phrases".']}


def test_a_35_word_page_search_is_a_400_saying_so(kb, client):
    response = client.get("/programmes/ctg/search/?q=" + words(35))
    assert response.status_code == 400
    assert "q: Too many search terms (35). Accepted: at most 32 words or &quot;quoted phrases&quot;." in response.content.decode()


@pytest.mark.parametrize("url", ["/api/excerpts/?search=", "/api/configurations/?search=", "/programmes/ctg/search/?q="])
def test_32_words_are_searched(kb, client, url):
    """On SQLite too: the fallback's rank is a balanced sum, not 32 × fields nested expressions."""
    response = client.get(url + "control+" + words(31))
    assert response.status_code == 200


def test_terms_count_phrases_and_exclusions(kb, client):
    query = " ".join([f'"w{i} x"' for i in range(16)] + [f"-v{i}" for i in range(17)])
    response = client.get("/api/excerpts/", {"search": query})
    assert response.json() == {"search": ['Too many search terms (33). Accepted: at most 32 words or "quoted phrases".']}


# --- A 500 says so in JSON under /api/ ----------------------------------------------------------


def test_an_api_500_is_json(kb, client, monkeypatch):
    from evidence.api import WaveViewSet

    def broken(self, request, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(WaveViewSet, "list", broken)
    response = client.get("/api/waves/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "Server error: the request could not be completed. It has been logged; please try again later."
    }
    assert "a bug" not in response.content.decode()


def test_a_page_500_is_the_site_page(kb, client, monkeypatch):
    import cmo_kb.views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cmo_kb.views, "published_counts", broken)
    response = client.get("/programmes/ctg/")  # the programme home counts its teams with it
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "<h1>Something went wrong</h1>" in response.content.decode()


# --- A URL no route matches: a JSON 404 under /api/ --------------------------------------------


@pytest.mark.parametrize("url", ["/api/teams/a.b.c/", "/api/waves/x%2Fy/", "/api/no-such-resource/", "/api/teams/shc/extra/"])
def test_an_unmatched_api_url_is_a_json_404(kb, client, url):
    # The router's slugs hold no dot or slash, so these match no route: Django's own handler404
    # would answer its HTML page, which no API client (nor the schema) expects.
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found: no API resource has this URL."}


def test_an_unmatched_page_url_is_the_site_page(kb, client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in response.content.decode()


@pytest.mark.parametrize("body", [["ana"], 7, "ana", None])
def test_a_token_request_that_is_not_an_object_is_a_400(kb, evaluator_client, analyst, body):
    # make fuzz posted a JSON list to /api/auth/tokens/: request.data.get() was a 500.
    response = evaluator_client.post("/api/auth/tokens/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


def test_a_token_request_without_a_username_is_a_400_naming_it(kb, evaluator_client):
    response = evaluator_client.post("/api/auth/tokens/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"username": ["This field is required."]}


@pytest.mark.parametrize("fields, field", [
    ({"programme": "c\x00tg"}, "programme"),
    ({"options": '{"create_terms": "\x00"}'}, "options"),
    ({"options": "9" * 3000}, "options"),
    ({"dry_run": "perhaps"}, "dry_run"),
    ({"kind": "\x00"}, "kind"),
])
def test_a_background_import_with_a_bad_field_is_a_400_naming_it(kb, evaluator_client, settings, tmp_path, fields, field):
    """POST /api/imports/ (evidence/import_api.py): a bad field is named, and no run is started."""
    import io

    from evidence.import_runs import ImportRun

    settings.MEDIA_ROOT = str(tmp_path)
    upload = io.BytesIO(b"title,statement\nA,B\n")
    upload.name = "sheet.csv"
    response = evaluator_client.post("/api/imports/", {"file": upload, "programme": "ctg", **fields}, format="multipart")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ImportRun.objects.exists()
