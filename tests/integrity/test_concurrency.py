"""No edit is lost (issue 9): ETags and If-Match on every API resource, row-locked writes that save
only what they change (proved with real concurrent requests), and stale admin forms refused."""

import json
import re
import threading
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import api_list_path
from tests.curation.conftest import add_inline_row, form_data, login

STRONG_ETAG = re.compile(r'^"\d+(\.\d+)*-[0-9a-f]{16}"$')

# The text field each resource's PATCH tests change (the first one its representation has).
TEXT_FIELDS = ("notes", "note", "description", "summary", "title", "name")


@pytest.fixture
def wave(kb):
    from evidence.models import EvaluationWave

    from mechanisms.models import ConceptMapping, Framework, FrameworkConcept

    # A row of the shared frameworks and of the crosswalk, so every resource has a detail to read.
    concept = FrameworkConcept.objects.create(framework=Framework.objects.create(slug="npt", name="NPT"),
                                              slug="buy-in", name="Buy-in")
    ConceptMapping.objects.create(programme=kb.programme, concept=concept, mechanism=kb.shc_control.mechanism)
    from mechanisms.chains import ConfigurationChain

    ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear, note="Leads on.")

    # A programme theory (mechanisms/theories.py).
    from mechanisms.theories import ProgrammeTheory

    ProgrammeTheory.objects.create(programme=kb.programme, slug="initial", name="Initial theory", description="At first.")

    # A code and a coding (evidence/codes.py).
    from evidence.codes import Code, Coding

    Coding.objects.create(excerpt=kb.q_control, code=Code.objects.create(programme=kb.programme, name="Control"))
    return EvaluationWave.objects.create(programme=kb.programme, slug="wave-1", name="Wave 1", number=1, period="2011–2012")


# Import runs (/api/imports/, evidence/import_api.py) are records of what an import did, never edited
# through the API (only undone, as one step): no version to tag, no If-Match to honour.
NOT_VERSIONED = {"imports"}


def _registry():
    import cmo_kb.api  # noqa: F401  (first: drf-spectacular's views import it back)
    from cmo_kb.api_urls import router

    return [entry for entry in router.registry if entry[0] not in NOT_VERSIONED]


def test_import_runs_are_read_only_but_for_their_undo(kb, lead_client):
    from evidence.import_api import ImportRunViewSet

    assert {"update", "partial_update", "destroy"}.isdisjoint(dir(ImportRunViewSet))
    assert lead_client.patch("/api/imports/1/", {}, format="json").status_code in (404, 405)


def _detail_urls(client):
    """(resource prefix, detail URL) of the first object of every resource the router registers."""
    urls = []
    for prefix, viewset, _basename in _registry():
        path = api_list_path(prefix)
        response = client.get(f"/api/{path}/")
        assert response.status_code == 200, prefix
        body = response.json()
        rows = body["results"] if isinstance(body, dict) else body
        assert rows, f"/api/{path}/ lists nothing: the fixtures need a row of it"
        first = rows[0]
        key = first["id"] if viewset.lookup_field == "pk" else first[getattr(viewset, "lookup_url_kwarg", None) or viewset.lookup_field]
        urls.append((prefix, f"/api/{path}/{key}/"))
    return urls


# --- ETag on every resource ---------------------------------------------------------------------


def test_every_resource_detail_answers_a_strong_etag_and_304s_on_if_none_match(kb, wave, lead_client):
    urls = _detail_urls(lead_client)
    assert {prefix for prefix, _ in urls} == {prefix for prefix, _, _ in _registry()}
    for prefix, url in urls:
        response = lead_client.get(url)
        assert response.status_code == 200, url
        tag = response["ETag"]
        assert STRONG_ETAG.match(tag), (url, tag)
        # the same version twice gives the same tag: it is the stored state, not the request
        assert lead_client.get(url)["ETag"] == tag, url
        not_modified = lead_client.get(url, HTTP_IF_NONE_MATCH=tag)
        assert not_modified.status_code == 304, url
        assert not_modified.content == b""
        assert not_modified["ETag"] == tag
        assert lead_client.get(url, HTTP_IF_NONE_MATCH='"0-0000000000000000"').status_code == 200, url


def test_every_resource_refuses_a_stale_if_match_with_412_naming_the_change_and_writes_nothing(kb, wave, lead_client, lead):
    without_text = []
    for prefix, url in _detail_urls(lead_client):
        before = lead_client.get(url)
        old_tag = before["ETag"]
        field = next((name for name in TEXT_FIELDS if name in before.json()), None)
        if field is None:
            without_text.append(prefix)
            continue

        first = lead_client.patch(url, {field: f"first {prefix}"}, format="json", HTTP_IF_MATCH=old_tag)
        assert first.status_code == 200, (url, first.content)
        new_tag = first["ETag"]
        assert STRONG_ETAG.match(new_tag) and new_tag != old_tag, url
        assert lead_client.get(url)["ETag"] == new_tag, f"{url}: the write's ETag is the stored version's"

        stale = lead_client.patch(url, {field: f"second {prefix}"}, format="json", HTTP_IF_MATCH=old_tag)
        assert stale.status_code == 412, (url, stale.content)
        body = stale.json()
        assert field in body["changed_fields"], (url, body)
        assert body["your_etag"] == old_tag and body["current_etag"] == new_tag
        change = [c for c in body["changes"] if c["fields"] and field in c["fields"]][-1]
        assert change["by"] == lead.username and change["fields"][field] == f"first {prefix}"
        assert change["at"]
        assert lead_client.get(url).json()[field] == f"first {prefix}", f"{url}: a 412 wrote nothing"

        again = lead_client.patch(url, {field: f"second {prefix}"}, format="json", HTTP_IF_MATCH=new_tag)
        assert again.status_code == 200, url
        assert again.json()[field] == f"second {prefix}"
    # A membership is a role, no text: tests/programmes/test_members.py changes roles with If-Match;
    # a coding neither: tests/codes/test_codes_api.py changes its code with If-Match.
    assert sorted(without_text) == ["codings", "programmes/(?P<programme_slug>[^/.]+)/members"]


def test_put_and_delete_honour_if_match_and_star_and_no_header_proceed(kb, evaluator_client):
    from mechanisms.models import Context

    Context.objects.create(programme=kb.programme, slug="spare", name="Spare context")
    url = "/api/contexts/spare/"
    old_tag = evaluator_client.get(url)["ETag"]
    put = {"slug": "spare", "name": "Spare context, renamed", "description": "", "order": 0}
    assert evaluator_client.put(url, put, format="json", HTTP_IF_MATCH=old_tag).status_code == 200

    stale_put = evaluator_client.put(url, {**put, "name": "Lost"}, format="json", HTTP_IF_MATCH=old_tag)
    assert stale_put.status_code == 412 and stale_put.json()["changed_fields"] == ["name"]
    assert Context.objects.get(slug="spare").name == "Spare context, renamed"

    weak = evaluator_client.patch(url, {"name": "Weak"}, format="json", HTTP_IF_MATCH="W/" + evaluator_client.get(url)["ETag"])
    assert weak.status_code == 412, "If-Match compares strongly: a weak tag never matches"

    assert evaluator_client.delete(url, HTTP_IF_MATCH=old_tag).status_code == 412
    assert Context.objects.filter(slug="spare").exists(), "a refused delete deletes nothing"

    assert evaluator_client.patch(url, {"description": "any version"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    assert evaluator_client.patch(url, {"order": 3}, format="json").status_code == 200
    assert evaluator_client.delete(url, HTTP_IF_MATCH=evaluator_client.get(url)["ETag"]).status_code == 204
    assert not Context.objects.filter(slug="spare").exists()


def test_changing_an_owned_row_changes_the_configuration_etag_and_the_412_names_it(kb, evaluator_client):
    from mechanisms.models import WishShift

    url = "/api/configurations/pathway-targets/"
    old_tag = evaluator_client.get(url)["ETag"]
    WishShift.objects.create(configuration=kb.pathway_targets, dimension=kb.power, toward=kb.agency,
                             between=kb.clinician_patient)
    assert evaluator_client.get(url)["ETag"] != old_tag
    stale = evaluator_client.patch(url, {"notes": "x"}, format="json", HTTP_IF_MATCH=old_tag)
    assert stale.status_code == 412
    assert "wish shifts" in stale.json()["changed_fields"]


def test_a_create_answers_the_new_objects_etag(kb, evaluator_client):
    response = evaluator_client.post("/api/contexts/", {"slug": "new-one", "name": "New"}, format="json")
    assert response.status_code == 201
    assert response["ETag"] == evaluator_client.get("/api/contexts/new-one/")["ETag"]


def test_a_patch_writes_only_the_fields_it_changes(kb, evaluator_client):
    with CaptureQueriesContext(connection) as queries:
        response = evaluator_client.patch("/api/configurations/pathway-targets/", {"notes": "only this"}, format="json")
    assert response.status_code == 200
    updates = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith('UPDATE "mechanisms_cmoconfiguration" SET') and "search_text" not in q["sql"]]
    assert len(updates) == 1, updates
    assert '"notes"' in updates[0] and '"updated_at"' in updates[0]
    for untouched in ('"title"', '"statement"', '"activity"', '"mechanism_id"', '"status"'):
        assert untouched not in updates[0], updates[0]
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locks if connection.vendor == "postgresql" else True, "the row is locked on PostgreSQL"


def test_the_schema_documents_etag_if_match_and_412(db, anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    detail = schema["paths"]["/api/configurations/{slug}/"]
    for method in ("put", "patch", "delete"):
        assert any(p["name"] == "If-Match" and p["in"] == "header" for p in detail[method]["parameters"]), method
        failed = detail[method]["responses"]["412"]
        assert "changed_fields" in failed["content"]["application/json"]["schema"]["properties"]
    assert any(p["name"] == "If-None-Match" for p in detail["get"]["parameters"])
    assert "ETag" in detail["get"]["responses"]["200"]["headers"]
    assert "304" in detail["get"]["responses"]
    assert "ETag" in detail["patch"]["responses"]["200"]["headers"]
    assert "ETag" in schema["paths"]["/api/configurations/"]["post"]["responses"]["201"]["headers"]


# --- Two truly concurrent requests --------------------------------------------------------------


def _patch(base_url, token, path, payload):
    request = urllib.request.Request(
        base_url + path, data=json.dumps(payload).encode(), method="PATCH",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:500]


def race_patches(base_url, token, path, rounds=20):
    """`rounds` pairs of PATCHes sent at the same instant (a barrier), one of `notes`, one of `title`.
    Returns the acknowledged writes of each round and the representation read after it."""
    results = []
    for i in range(rounds):
        barrier = threading.Barrier(2)
        answers = {}

        def send(field, value):
            barrier.wait()
            answers[field] = (_patch(base_url, token, path, {field: value}), value)

        threads = [threading.Thread(target=send, args=("notes", f"note {i}")),
                   threading.Thread(target=send, args=("title", f"Title {i}"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        request = urllib.request.Request(base_url + path, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            stored = json.loads(response.read())
        results.append((answers, stored))
    return results


def assert_no_acknowledged_write_lost(results):
    lost = []
    for answers, stored in results:
        assert set(answers) == {"notes", "title"}
        for field, ((status, _body), value) in answers.items():
            assert status == 200, (field, status, _body)
            if stored[field] != value:
                lost.append((field, value, stored[field]))
    assert lost == [], f"{len(lost)} acknowledged writes were overwritten: {lost[:5]}"


@pytest.mark.skipif(
    "connection.vendor == 'sqlite'",
    reason="On SQLite the test database is in memory and the live server's threads share its one "
    "connection; test_concurrent_patches_on_a_sqlite_file covers SQLite with a real server process.",
)
def test_concurrent_patches_of_different_fields_both_survive(transactional_db, live_server, kb, evaluator):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=evaluator).key
    results = race_patches(live_server.url, token, "/api/configurations/pathway-targets/")
    assert_no_acknowledged_write_lost(results)
    kb.pathway_targets.refresh_from_db()
    assert (kb.pathway_targets.notes, kb.pathway_targets.title) == ("note 19", "Title 19")


SQLITE_RACE_SETUP = """
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from mechanisms.models import CMOConfiguration
from projects.models import Programme, ProgrammeMembership
user = User.objects.create_user("racer", password="race-pw", is_staff=True)
user.groups.add(Group.objects.get(name="Evaluator"))
ctg = Programme.objects.create(slug="ctg", name="Closing the Gap", is_public=True)
ProgrammeMembership.objects.create(programme=ctg, user=user, role="evaluator")
CMOConfiguration.objects.create(programme=ctg, slug="race", title="Race", statement="In C, M leads to O.")
print(Token.objects.create(user=user).key)
"""


@pytest.mark.skipif(
    "connection.vendor != 'sqlite'",
    reason="SQLite only: on PostgreSQL test_concurrent_patches_of_different_fields_both_survive runs against the live server.",
)
def test_concurrent_patches_on_a_sqlite_file(tmp_path):
    """The same race against a real server process (runserver: a thread per request, each with its
    own connection) on a SQLite file, so SQLite's locking is what is tested: writers queue on BEGIN
    IMMEDIATE instead of failing with "database is locked", and none is lost."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}", "DEBUG": "1",
           "API_THROTTLE_USER": "100000/minute", "API_THROTTLE_ANON": "100000/minute"}
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=root, check=True, capture_output=True)
    token = subprocess.run([*manage, "shell", "-c", SQLITE_RACE_SETUP], env=env, cwd=root, check=True,
                           capture_output=True, text=True).stdout.split()[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env, cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base_url + "/api/", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        results = race_patches(base_url, token, "/api/configurations/race/")
    finally:
        server.terminate()
        server.wait(30)
    assert_no_acknowledged_write_lost(results)
    assert results[-1][1]["notes"] == "note 19" and results[-1][1]["title"] == "Title 19"


# --- The admin ----------------------------------------------------------------------------------


def _change_url(obj):
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"


def test_admin_second_stale_save_is_refused_with_who_what_and_keeps_what_was_typed(kb, evaluator, lead):
    from mechanisms.models import CMOConfiguration

    first, second = login(evaluator), login(lead)
    url = _change_url(kb.pathway_targets)
    first_data, second_data = form_data(first.get(url)), form_data(second.get(url))
    assert first_data["kb_version"] == second_data["kb_version"]

    first_data["notes"] = "Checked against the 2013 interviews."
    assert first.post(url, first_data).status_code == 302

    second_data["title"] = "Targets as a lever, retitled"
    second_data["statement"] = "A statement typed by the second evaluator."
    refused = second.post(url, second_data)
    assert refused.status_code == 200
    errors = " ".join(refused.context["adminform"].form.non_field_errors())
    assert "Someone else saved this CMO configuration after you opened it" in errors
    assert "eva changed" in errors and "notes to “Checked against the 2013 interviews.”" in errors
    stored = CMOConfiguration.objects.get(pk=kb.pathway_targets.pk)
    assert stored.notes == "Checked against the 2013 interviews."
    assert stored.title == "Pathway targets" and stored.statement == "In C, M leads to O (pathway-targets)."
    page = refused.content.decode()
    assert "Targets as a lever, retitled" in page and "A statement typed by the second evaluator." in page

    # Saving again, having seen the error, is a deliberate overwrite of the fields this user changed only.
    again = form_data(refused)
    assert again["kb_seen"] != again["kb_version"]
    assert second.post(url, again).status_code == 302
    stored.refresh_from_db()
    assert stored.title == "Targets as a lever, retitled"
    assert stored.statement == "A statement typed by the second evaluator."
    assert stored.notes == "Checked against the 2013 interviews.", "the first evaluator's change survives"


def test_admin_stale_inline_rows_are_refused_too(kb, evaluator, lead):
    from evidence.models import EvidenceLink

    first, second = login(evaluator), login(lead)
    url = _change_url(kb.pathway_targets)
    first_data, second_data = form_data(first.get(url)), form_data(second.get(url))
    link = EvidenceLink.objects.get(configuration=kb.pathway_targets)
    prefix = next(key[: -len("-0-note")] for key in first_data if key.endswith("-0-note") and "evidence" in key)

    first_data[f"{prefix}-0-note"] = "The A&E lead said so twice."
    assert first.post(url, first_data).status_code == 302
    link.refresh_from_db()
    assert link.note == "The A&E lead said so twice."

    second_data[f"{prefix}-0-note"] = "A different reading."
    add_inline_row(second_data, prefix, excerpt=str(kb.q_jobs.pk), part="context", stance="challenges", note="")
    refused = second.post(url, second_data)
    assert refused.status_code == 200
    errors = " ".join(refused.context["adminform"].form.non_field_errors())
    # (HTML: the other's words are escaped)
    assert "evidence link" in errors and "note to “The A&amp;E lead said so twice.”" in errors
    link.refresh_from_db()
    assert link.note == "The A&E lead said so twice."
    assert EvidenceLink.objects.filter(configuration=kb.pathway_targets).count() == 1, "the stale save added nothing"
    assert "A different reading." in refused.content.decode()


def test_admin_save_with_the_current_version_goes_through(kb, lead):
    # (a lead: the outcome is used by a published configuration, so the publish lock refuses evaluators)
    client = login(lead)
    url = _change_url(kb.resigned)
    data = form_data(client.get(url))
    assert data["kb_version"]
    data["description"] = "Resigned, said the nurses."
    assert client.post(url, data).status_code == 302
    kb.resigned.refresh_from_db()
    assert kb.resigned.description == "Resigned, said the nurses."
    # and the next form carries the new version
    assert form_data(client.get(url))["kb_version"] != data["kb_version"]


def _changelist_data(response):
    """What a browser posts from an admin changelist page: every input of its changelist form."""
    from html.parser import HTMLParser

    class Inputs(HTMLParser):
        inside, data = False, {}

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "form":
                self.inside = attrs.get("id") == "changelist-form"
            elif tag == "input" and self.inside and attrs.get("name") and attrs.get("type") not in ("checkbox", "submit"):
                self.data[attrs["name"]] = attrs.get("value", "")

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False

    parser = Inputs()
    parser.feed(response.content.decode())
    return {**parser.data, "_save": "Save"}


def _order_field(data, pk):
    """The name of the editable `order` input of the changelist row whose hidden id is pk."""
    (prefix,) = [name[: -len("-id")] for name, value in data.items() if name.endswith("-id") and value == str(pk)]
    return f"{prefix}-order"


def test_admin_changelist_edits_never_undo_a_later_change(kb, lead, evaluator):
    """A list opened before someone else's change: rows left alone are not written back, and a row
    edited on the stale list is refused with who changed what; the other change survives."""
    from mechanisms.models import Context

    url = "/admin/mechanisms/context/"
    first, second = login(lead), login(lead)
    stale = _changelist_data(first.get(url))
    resigned, other = kb.resigned, Context.objects.exclude(pk=kb.resigned.pk).order_by("pk").first()
    assert f"initial-{_order_field(stale, resigned.pk)}" in stale, "the list renders what each cell showed"

    fresh = _changelist_data(second.get(url))
    fresh[_order_field(fresh, resigned.pk)] = "41"
    assert second.post(url, fresh).status_code == 302
    assert Context.objects.get(pk=resigned.pk).order == 41

    # The stale list, submitted with another row changed: the row left alone is not written back.
    stale_other = dict(stale, **{_order_field(stale, other.pk): "7"})
    assert first.post(url, stale_other).status_code == 302
    assert Context.objects.get(pk=other.pk).order == 7
    assert Context.objects.get(pk=resigned.pk).order == 41

    # The stale list, with a row edited that someone else changed since: refused, nothing written.
    stale[_order_field(stale, resigned.pk)] = "5"
    refused = first.post(url, stale)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert f"{resigned} was changed by {lead.get_username()}" in page and "→ 41" in page
    assert Context.objects.get(pk=resigned.pk).order == 41
