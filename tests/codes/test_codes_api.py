"""/api/codes/ and /api/codings/: whole payloads, filters, visibility per role, writes and each refusal
with its status and field, versions (ETag / If-Match), history, deletes, query counts."""

import pytest

from evidence.codes import Code, Coding
from tests.programmes.conftest import ROLES, SEES_OTHER, results

CODES = "/api/codes/"
CODINGS = "/api/codings/"


def names(response):
    return [row["name"] for row in results(response)]


# --- Reads ------------------------------------------------------------------------------------------


def test_a_code_reads_whole(tree, anon_client):
    response = anon_client.get(f"{CODES}{tree.control.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("created_at") and body.pop("updated_at")
    assert body == {
        "id": tree.control.pk, "programme": "ctg", "parent": tree.beliefs.pk, "guid": tree.control.guid,
        "name": "Control", "description": "Feeling in control of one's own care.", "colour": "", "codable": True,
        "order": 1, "codings_url": f"/api/codings/?code={tree.control.pk}", "created_by": None, "updated_by": None,
    }
    assert response["ETag"].startswith('"')


def test_a_coding_reads_whole(tree, anon_client):
    body = anon_client.get(f"{CODINGS}{tree.eva_control.pk}/").json()
    assert body.pop("created_at") and body.pop("updated_at")
    assert body == {
        "id": tree.eva_control.pk, "excerpt": "q-control", "code": tree.control.pk, "programme": "ctg",
        "coder": "eva", "created": "2024-03-01T09:30:00Z", "guid": tree.eva_control.guid,
        "created_by": None, "updated_by": None,
    }


def test_the_code_list_in_tree_order_and_its_filters(tree, anon_client):
    assert names(anon_client.get(CODES)) == ["Beliefs", "Control", "Fear", "Jobs"]  # by programme, order, id
    assert names(anon_client.get(CODES, {"root": "true"})) == ["Beliefs", "Jobs"]
    assert names(anon_client.get(CODES, {"root": "false"})) == ["Control", "Fear"]
    assert names(anon_client.get(CODES, {"parent": tree.beliefs.pk})) == ["Control"]
    assert names(anon_client.get(CODES, {"parent": f"{tree.beliefs.pk},{tree.control.pk}"})) == ["Control", "Fear"]
    assert names(anon_client.get(CODES, {"codable": "false"})) == ["Beliefs"]
    assert names(anon_client.get(CODES, {"name": "o"})) == ["Control", "Jobs"]
    assert names(anon_client.get(CODES, {"programme": "ctg", "name": "FEAR"})) == ["Fear"]
    assert names(anon_client.get(CODES, {"id": tree.jobs.pk})) == ["Jobs"]


@pytest.mark.parametrize("query,message", [
    ({"codable": "maybe"}, "'maybe' is not a boolean. Accepted: true or false (also 1/0, yes/no)."),
    ({"parent": "x"}, "'x' is not a whole number. Accepted: whole numbers such as 1 or 1,2,3."),
    ({"programme": "nope"}, "Unknown programme 'nope'. Accepted: ctg."),
    ({"colour": "red"}, "Unknown query parameter. Accepted: codable, cursor, format, id, name, page, page_size, "
                        "parent, programme, root, view."),
])
def test_bad_code_filters_are_400s_naming_them(tree, anon_client, query, message):
    response = anon_client.get(CODES, query)
    assert response.status_code == 400
    assert response.json() == {next(iter(query)): [message]}


def test_the_coding_list_and_its_filters(tree, kb, anon_client, evaluator):
    def ids(**query):
        return [row["id"] for row in results(anon_client.get(CODINGS, query))]

    both = [tree.eva_control.pk, tree.jobs_coding.pk]
    assert ids() == both
    assert ids(programme="ctg") == both
    assert ids(source="small-report") == both
    assert ids(coder="eva") == [tree.eva_control.pk]
    assert ids(code=tree.jobs.pk) == [tree.jobs_coding.pk]
    assert ids(excerpt="q-control") == [tree.eva_control.pk]
    assert ids(excerpt="q-control,q-jobs", code=tree.jobs.pk) == [tree.jobs_coding.pk]
    assert ids(excerpt="f-target") == []
    # A coder is a person, not a vocabulary: one who coded nothing has no codings (no 400 listing
    # the accounts that have).
    assert ids(coder="leo") == [] and ids(coder="nobody,eva") == [tree.eva_control.pk]


# --- Visibility per role ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_a_private_programmes_codes_and_codings_are_its_members(clients, tree, other_tree, role):
    client = clients[role]
    member = role in SEES_OTHER
    listed = names(client.get(CODES, {"page_size": 50}))
    assert ("Zebrafish" in listed) is member
    assert sorted(n for n in listed if n != "Zebrafish") == ["Beliefs", "Control", "Fear", "Jobs"]
    codings = {row["id"]: row["programme"] for row in results(client.get(CODINGS))}
    assert (other_tree.coding.pk in codings) is member
    assert client.get(f"{CODES}{other_tree.zebrafish.pk}/").status_code == (200 if member else 404)
    assert client.get(f"{CODINGS}{other_tree.coding.pk}/").status_code == (200 if member else 404)
    assert [row["id"] for row in results(client.get(CODINGS, {"coder": "oeva"}))] == (
        [other_tree.coding.pk] if member else [])
    response = client.get(CODES, {"programme": "other"})
    assert response.status_code == (200 if member else 400)
    # ...and a stranger cannot code with it, whatever they write elsewhere.
    response = client.post(CODINGS, {"excerpt": "o-quote", "code": other_tree.zebrafish.pk}, format="json")
    # (analysts read only; ctg's evaluators cannot see the excerpt nor the code; oeva coded it already)
    assert response.status_code == {"anonymous": 401, "ana": 403, "oana": 403, "eva": 422, "leo": 422,
                                    "oeva": 409}.get(role, 201), response.content


# --- Writes ----------------------------------------------------------------------------------------------


def test_an_evaluator_adds_a_code_under_another_and_history_says_who(tree, evaluator_client, evaluator):
    response = evaluator_client.post(CODES, {"name": "Hope", "parent": tree.beliefs.pk, "colour": "#aa00FF",
                                             "guid": "{5B1C7D0E-5B7A-4C8E-9A37-0E6D1F2B3C4D}"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["programme"], body["parent"], body["colour"], body["codable"], body["created_by"]) == (
        "ctg", tree.beliefs.pk, "#aa00FF", True, "eva")
    assert body["guid"] == "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"  # REFI-QDA's braces and case, normalised
    assert response["ETag"]
    code = Code.objects.get(pk=body["id"])
    assert [(h.history_type, h.history_user) for h in code.history.all()] == [("+", evaluator)]
    patched = evaluator_client.patch(f"{CODES}{code.pk}/", {"description": "Looking forward."}, format="json")
    assert patched.status_code == 200 and patched.json()["updated_by"] == "eva"
    assert [h.history_user for h in code.history.all()] == [evaluator, evaluator]
    assert code.history.first().description == "Looking forward."


def test_an_evaluator_codes_an_excerpt_as_herself(tree, kb, evaluator_client, evaluator):
    response = evaluator_client.post(CODINGS, {"excerpt": "q-jobs", "code": tree.control.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["excerpt"], body["code"], body["coder"], body["programme"]) == ("q-jobs", tree.control.pk, "eva", "ctg")
    coding = Coding.objects.get(pk=body["id"])
    assert coding.coder == evaluator and coding.created_by == evaluator
    assert coding.history.get().history_user == evaluator
    # The coder is who wrote it: a coder in the body is not read.
    response = evaluator_client.post(CODINGS, {"excerpt": "f-target", "code": tree.control.pk, "coder": "leo"},
                                     format="json")
    assert response.status_code == 201 and response.json()["coder"] == "eva"


@pytest.mark.parametrize("body,status,field,message", [
    ({"name": "X", "colour": "red"}, 400, "colour", "Not a colour: write it as #RRGGBB, e.g. #2E7D32."),
    ({"name": "X", "colour": "#12345"}, 400, "colour", "Not a colour: write it as #RRGGBB, e.g. #2E7D32."),
    ({"name": "X", "guid": "not-a-guid"}, 400, "guid",
     "Not a GUID: write it as 8-4-4-4-12 hexadecimal digits, e.g. 2f1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d."),
    ({"name": "X", "guid": "8B04CF61-B643-CCCF-8B30-F7A7E541FB6D}"}, 400, "guid",  # make fuzz: a 500 once
     "Not a GUID: write it as 8-4-4-4-12 hexadecimal digits, e.g. 2f1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d."),
    ({"name": "X", "codable": "yes"}, 400, "codable", "Must be true or false (a JSON boolean), not text."),
    ({"name": "X", "parent": "1"}, 400, "parent", "Incorrect type. Expected pk value, received str."),
    ({"name": "X", "parent": True}, 400, "parent", "Incorrect type. Expected pk value, received bool."),
    ({"name": 7}, 400, "name", "Not a valid string: send text (a JSON string), not a number."),
    ({}, 400, "name", "This field is required."),
    ({"name": "X", "parent": 999999}, 422, "parent", "The programme 'ctg' has no code '999999'."),
    ({"name": "X", "programme": "nope"}, 422, "programme", 'Object with slug=nope does not exist.'),
    ({"name": "X", "guid": "0B8E3C9A-1F2D-4E5F-8A9B-0C1D2E3F4A5B"}, 409, "guid",
     "This programme already has a code with this GUID."),
])
def test_code_writes_refused_name_the_field(tree, evaluator_client, body, status, field, message):
    response = evaluator_client.post(CODES, body, format="json")
    assert response.status_code == status, response.content
    assert response.json() == {field: [message]}
    assert Code.objects.count() == 4


def test_a_code_cannot_sit_under_itself_or_its_descendants(tree, evaluator_client):
    for parent in (tree.beliefs, tree.fear):
        response = evaluator_client.patch(f"{CODES}{tree.beliefs.pk}/", {"parent": parent.pk}, format="json")
        assert response.status_code == 422, response.content
        assert response.json() == {"parent": ["A code cannot be its own parent or sit under one of its own children."]}
    tree.beliefs.refresh_from_db()
    assert tree.beliefs.parent is None


def test_a_parent_of_another_programme_is_a_422(tree, other_tree, admin_user):
    from tests.conftest import token_client

    root = token_client(admin_user)  # sees both programmes
    response = root.patch(f"{CODES}{tree.jobs.pk}/", {"parent": other_tree.zebrafish.pk}, format="json")
    assert response.status_code == 422
    assert response.json() == {"parent": [f"The programme 'ctg' has no code '{other_tree.zebrafish.pk}'."]}


def test_the_guid_of_a_stored_code_stays(tree, evaluator_client):
    response = evaluator_client.patch(f"{CODES}{tree.jobs.pk}/", {"guid": "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"},
                                      format="json")
    assert response.status_code == 422
    assert response.json() == {"guid": ["The GUID of a stored row cannot change: REFI-QDA projects match rows by it."]}
    same = evaluator_client.patch(f"{CODES}{tree.jobs.pk}/", {"guid": tree.jobs.guid.upper()}, format="json")
    assert same.status_code == 200


@pytest.mark.parametrize("make_body,status,field,message", [
    (lambda t, o: {"excerpt": "q-jobs", "code": t.beliefs.pk}, 422, "code", "Code 'Beliefs' is not codable (a group code)."),
    (lambda t, o: {"excerpt": "o-quote", "code": t.control.pk}, 422, "code",
     "Code 'Control' belongs to another programme than excerpt 'o-quote'."),
    (lambda t, o: {"excerpt": "q-control", "code": t.control.pk}, 409, "code",
     "root has already coded excerpt 'q-control' with code 'Control'."),
    (lambda t, o: {"excerpt": "nope", "code": t.control.pk}, 422, "excerpt", "Object with slug=nope does not exist."),
    (lambda t, o: {"excerpt": "q-jobs", "code": 999999}, 422, "code", 'Invalid pk "999999" - object does not exist.'),
    (lambda t, o: {"excerpt": "q-jobs", "code": "Control"}, 400, "code", "Incorrect type. Expected pk value, received str."),
    (lambda t, o: {"excerpt": "q-jobs"}, 400, "code", "This field is required."),
])
def test_coding_writes_refused_name_the_field(tree, other_tree, admin_user, make_body, status, field, message):
    from tests.conftest import token_client

    root = token_client(admin_user)
    Coding.objects.create(excerpt=tree.eva_control.excerpt, code=tree.control, coder=admin_user)
    before = Coding.objects.count()
    response = root.post(CODINGS, make_body(tree, other_tree), format="json")
    assert response.status_code == status, response.content
    assert response.json() == {field: [message]}
    assert Coding.objects.count() == before


def test_analysts_read_only_and_strangers_are_refused_by_programme(tree, other_tree, clients):
    analyst_client = clients["ana"]
    assert analyst_client.post(CODES, {"name": "X"}, format="json").status_code == 403
    assert analyst_client.patch(f"{CODES}{tree.jobs.pk}/", {"name": "Y"}, format="json").status_code == 403
    assert analyst_client.delete(f"{CODINGS}{tree.eva_control.pk}/").status_code == 403
    # oeva writes in `other` only: ctg's codes are hers to read, not to change.
    response = clients["oeva"].patch(f"{CODES}{tree.jobs.pk}/", {"name": "Taken"}, format="json")
    assert response.status_code == 403
    assert response.json()["programme"] == "ctg"
    response = clients["oeva"].post(CODES, {"name": "Intruder", "programme": "ctg"}, format="json")
    assert response.status_code == 403
    tree.jobs.refresh_from_db()
    assert tree.jobs.name == "Jobs" and not Code.objects.filter(name="Intruder").exists()


def test_a_stale_if_match_is_a_412_and_writes_nothing(tree, evaluator_client, lead_client):
    url = f"{CODES}{tree.jobs.pk}/"
    old = evaluator_client.get(url)["ETag"]
    assert lead_client.patch(url, {"name": "Jobs at risk"}, format="json", HTTP_IF_MATCH=old).status_code == 200
    stale = evaluator_client.patch(url, {"name": "Work"}, format="json", HTTP_IF_MATCH=old)
    assert stale.status_code == 412
    assert stale.json()["changed_fields"] == ["name"]
    assert stale.json()["changes"][-1]["by"] == "leo"
    tree.jobs.refresh_from_db()
    assert tree.jobs.name == "Jobs at risk"
    coding_url = f"{CODINGS}{tree.eva_control.pk}/"
    tag = evaluator_client.get(coding_url)["ETag"]
    assert evaluator_client.patch(coding_url, {"code": tree.fear.pk}, format="json", HTTP_IF_MATCH=tag).status_code == 200
    assert evaluator_client.delete(coding_url, HTTP_IF_MATCH=tag).status_code == 412
    assert Coding.objects.filter(pk=tree.eva_control.pk, code=tree.fear).exists()


# --- Deletes ---------------------------------------------------------------------------------------------


def test_a_code_in_use_is_not_deleted_409_naming_what_uses_it(tree, lead_client):
    response = lead_client.delete(f"{CODES}{tree.control.pk}/")
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == "Cannot delete: other records depend on it. Remove or reassign them first."
    assert sorted(body["dependents"]) == ["code: Fear", f"coding: Control on {tree.eva_control.excerpt_id}"]
    response = lead_client.delete(f"{CODES}{tree.jobs.pk}/")
    assert response.status_code == 409
    assert response.json()["dependents"] == [f"coding: Jobs on {tree.jobs_coding.excerpt_id}"]
    assert Code.objects.count() == 4
    # Without its coding, Jobs goes; a coding goes whenever its writers say.
    assert lead_client.delete(f"{CODINGS}{tree.jobs_coding.pk}/").status_code == 204
    assert lead_client.delete(f"{CODES}{tree.jobs.pk}/").status_code == 204
    assert not Code.objects.filter(pk=tree.jobs.pk).exists()


def test_a_code_a_memo_is_about_is_not_deleted(tree, kb, lead_client):
    from evidence.codes import Memo

    memo = Memo.objects.create(programme=kb.programme, name="On fear", text="Fear of losing jobs.")
    memo.codes.add(tree.fear)
    response = lead_client.delete(f"{CODES}{tree.fear.pk}/")
    assert response.status_code == 409
    assert response.json()["dependents"] == ["memo: On fear"]
    assert list(memo.codes.all()) == [tree.fear]


# --- Query counts ------------------------------------------------------------------------------------------


def _grow(kb, tree, n):
    from evidence.codes import Code, Coding

    for i in range(n):
        code = Code.objects.create(programme=kb.programme, parent=tree.beliefs, name=f"Grown {Code.objects.count()}")
        Coding.objects.create(excerpt=kb.f_target, code=code, coder=None)


@pytest.mark.parametrize("url,expected", [
    # count; codes + programme + users
    (CODES, 2),
    (f"{CODES}?root=false&codable=true&programme=ctg", 2 + 1),  # + the programme slug check
    # codings + excerpt + code + programme + users (cursor pages: no count)
    (CODINGS, 1),
    (f"{CODINGS}?source=small-report&coder=eva,", 1 + 1),  # + the source check
])
def test_list_query_counts_do_not_grow_with_rows(kb, tree, anon_client, django_assert_num_queries, url, expected):
    for n in (3, 20):
        _grow(kb, tree, n)
        for page_size in (2, 50):
            sep = "&" if "?" in url else "?"
            with django_assert_num_queries(expected):
                response = anon_client.get(f"{url}{sep}page_size={page_size}")
            assert response.status_code == 200


# --- The schema says what the API does -------------------------------------------------------------------


@pytest.mark.parametrize("path,url", [
    ("/api/codes/", CODES), ("/api/codes/", f"{CODES}?root=true&format=json"), ("/api/codings/", CODINGS),
    ("/api/codes/{id}/", "code"), ("/api/codings/{id}/", "coding"),
])
def test_answers_match_the_served_schema(tree, evaluator_client, path, url):
    from tests.api.test_schema_truth import _served, _validator

    url = {"code": f"{CODES}{tree.control.pk}/", "coding": f"{CODINGS}{tree.eva_control.pk}/"}.get(url, url)
    schema = _served(evaluator_client)
    response = evaluator_client.get(url)
    assert response.status_code == 200
    _validator(schema, path, "get", 200)(response.json())


def test_the_schema_states_the_formats_and_filters(tree, anon_client):
    from evidence.codes_api import COLOUR_PATTERN, GUID_PATTERN
    from tests.api.test_schema_truth import _served

    schema = _served(anon_client)
    request = schema["components"]["schemas"]["CodeRequest"]["properties"]
    assert request["colour"]["anyOf"][0]["pattern"] == COLOUR_PATTERN == "^(#[0-9A-Fa-f]{6})?$"
    assert request["guid"]["pattern"] == GUID_PATTERN
    assert request["parent"] == {"type": "integer", "nullable": True, "description": request["parent"]["description"]}
    coding = schema["components"]["schemas"]["CodingRequest"]["properties"]
    assert set(coding) == {"excerpt", "code", "guid"}  # coder and created are the server's
    parameters = {p["name"]: p for p in schema["paths"]["/api/codings/"]["get"]["parameters"]}
    assert parameters["coder"]["schema"] == {}  # any text: an unknown coder has no codings
    assert {"programme", "source", "coder", "code", "excerpt", "id", "cursor"} <= set(parameters)
    parameters = {p["name"]: p for p in schema["paths"]["/api/codes/"]["get"]["parameters"]}
    assert {"programme", "parent", "root", "codable", "name", "id"} <= set(parameters)
    assert parameters["root"]["schema"]["type"] == "boolean"


def test_the_csv_export_holds_every_visible_row(tree, other_tree, anon_client):
    body = b"".join(anon_client.get(f"{CODES}export/").streaming_content).decode()
    lines = body.splitlines()
    assert lines[0].split(",")[:4] == ["id", "programme", "parent", "guid"]
    assert len(lines) == 1 + 4 and "Zebrafish" not in body
    body = b"".join(anon_client.get(f"{CODINGS}export/").streaming_content).decode()
    assert len(body.splitlines()) == 1 + 2 and "o-quote" not in body


@pytest.mark.parametrize("value", [10**30, -(10**30), 2**63])
def test_an_id_beyond_64_bits_is_no_codes_and_never_a_500(tree, evaluator_client, value):
    response = evaluator_client.post(CODES, {"name": "X", "parent": value}, format="json")
    assert response.status_code == 422
    assert list(response.json()) == ["parent"]
    assert evaluator_client.get(f"{CODES}{value}/").status_code == 404
    assert evaluator_client.get(f"{CODINGS}{value}/").status_code == 404


def test_a_code_with_codings_stays_codable(tree, evaluator_client):
    response = evaluator_client.patch(f"{CODES}{tree.control.pk}/", {"codable": False}, format="json")
    assert response.status_code == 422
    assert response.json() == {"codable": [
        "Code 'Control' codes 1 excerpt: only codable codes are coded. Move or remove its codings first."]}
    assert evaluator_client.patch(f"{CODES}{tree.fear.pk}/", {"codable": False}, format="json").json()["codable"] is False
