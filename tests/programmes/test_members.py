"""/api/programmes/<slug>/members/: members read the list, the programme's lead adds, re-roles and
removes members; errors name the field (cmo_kb/errors.py: 400 malformed, 409 duplicate, 422 a
username no account has or a broken rule)."""

import pytest

from tests.programmes.conftest import ROLES, SEES_OTHER

MEMBERS = "/api/programmes/{}/members/"


@pytest.mark.parametrize("role", ROLES)
def test_who_reads_the_members(clients, role):
    ctg = clients[role].get(MEMBERS.format("ctg"))
    ctg_members = {"ana", "eva", "leo", "mixed", "root"}
    assert ctg.status_code == (200 if role in ctg_members else 403), ctg.content
    if ctg.status_code == 200:
        assert [(m["username"], m["role"]) for m in ctg.json()["results"]] == [
            ("ana", "analyst"), ("eva", "evaluator"), ("leo", "lead"), ("mixed", "evaluator")]
    else:
        assert ctg.json() == {"detail": "Only members of the programme 'ctg' see its members."}
    other = clients[role].get(MEMBERS.format("other"))
    assert other.status_code == (200 if role in SEES_OTHER else 404)
    if other.status_code == 200:
        assert [(m["username"], m["role"]) for m in other.json()["results"]] == [
            ("mixed", "lead"), ("oana", "analyst"), ("oeva", "evaluator"), ("oleo", "lead")]
        assert clients[role].get(MEMBERS.format("other") + "oeva/").json()["role"] == "evaluator"


@pytest.mark.parametrize("role", ROLES)
def test_only_the_lead_changes_members(clients, role):
    from projects.models import ProgrammeMembership

    response = clients[role].post(MEMBERS.format("other"), {"username": "ana", "role": "analyst"}, format="json")
    if role == "anonymous":
        assert response.status_code == 401
    elif role in ("ana", "oana"):
        assert response.status_code == 403  # analysts write nowhere
    elif role not in SEES_OTHER:
        assert response.status_code == 404
    elif role in ("oleo", "mixed", "root"):
        assert response.status_code == 201, response.content
        assert response.json() == {"username": "ana", "role": "analyst", "programme": "other",
                                   "created_at": response.json()["created_at"]}
    else:
        assert response.status_code == 403
        assert response.json() == {"detail": "Only a lead evaluator of the programme 'other' can change its members.",
                                   "programme": "other"}
    assert ProgrammeMembership.objects.filter(programme__slug="other", user__username="ana").exists() is (
        response.status_code == 201)


def test_a_new_member_sees_the_private_programme_and_a_removed_one_no_longer(clients):
    assert clients["ana"].get("/api/configurations/other-published/").status_code == 404
    assert clients["oleo"].post(MEMBERS.format("other"), {"username": "ana", "role": "analyst"},
                                format="json").status_code == 201
    assert clients["ana"].get("/api/configurations/other-published/").status_code == 200
    assert clients["ana"].get("/api/configurations/other-draft/").status_code == 404  # an analyst there
    assert clients["oleo"].patch(MEMBERS.format("other") + "ana/", {"role": "evaluator"}, format="json").status_code == 200
    assert clients["ana"].get("/api/configurations/other-draft/").status_code == 200
    assert clients["oleo"].delete(MEMBERS.format("other") + "ana/").status_code == 204
    assert clients["ana"].get("/api/configurations/other-published/").status_code == 404


@pytest.mark.parametrize("body,status,errors", [
    ({"username": "nobody", "role": "analyst"}, 422, {"username": ["Object with username=nobody does not exist."]}),
    ({"username": "oeva", "role": "analyst"}, 409, {"username": [
        "'oeva' is already a member of 'other' (evaluator): change their role with PATCH "
        "/api/programmes/other/members/oeva/."]}),
    ({"username": "ana", "role": "boss"}, 400, {"role": ['"boss" is not a valid choice.']}),
    ({"role": "analyst"}, 400, {"username": ["This field is required."]}),
    ({"username": 7, "role": "analyst"}, 400, {"username": ["Not a valid string: send text (a JSON string), not a number."]}),
])
def test_member_errors_name_the_field(clients, body, status, errors):
    response = clients["oleo"].post(MEMBERS.format("other"), body, format="json")
    assert response.status_code == status
    assert response.json() == errors


def test_a_programme_keeps_a_lead(clients):
    lead = MEMBERS.format("ctg") + "leo/"
    response = clients["leo"].patch(lead, {"role": "evaluator"}, format="json")
    assert response.status_code == 422
    assert response.json() == {"role": ["'leo' is the only lead of 'ctg': make another member its lead first."]}
    assert clients["leo"].delete(lead).status_code == 422
    assert clients["leo"].patch(MEMBERS.format("ctg") + "eva/", {"role": "lead"}, format="json").status_code == 200
    assert clients["leo"].patch(lead, {"role": "evaluator"}, format="json").status_code == 200
    # leo is no longer a lead of ctg: the change of members is eva's now.
    assert clients["leo"].delete(MEMBERS.format("ctg") + "ana/").status_code == 403
    assert clients["eva"].delete(MEMBERS.format("ctg") + "ana/").status_code == 204


def test_the_username_stays_on_a_change(clients):
    response = clients["oleo"].patch(MEMBERS.format("other") + "oeva/", {"username": "oana", "role": "lead"}, format="json")
    assert response.status_code == 200
    assert response.json()["username"] == "oeva" and response.json()["role"] == "lead"
    assert clients["oleo"].get(MEMBERS.format("other") + "nobody/").status_code == 404


def test_members_as_csv(clients):
    response = clients["oleo"].get(MEMBERS.format("other") + "export/")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "username,role,programme,created_at"
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["mixed", "lead", "other"], ["oana", "analyst", "other"], ["oeva", "evaluator", "other"], ["oleo", "lead", "other"]]
    assert clients["eva"].get(MEMBERS.format("other") + "export/").status_code == 404


def test_a_stale_role_change_is_a_412_naming_it_and_changes_nothing(clients):
    """Two leads of `other` (oleo, mixed) re-role oeva from the same version: the second is refused."""
    url = MEMBERS.format("other") + "oeva/"
    seen = clients["oleo"].get(url)
    tag = seen["ETag"]
    assert clients["mixed"].get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304
    first = clients["oleo"].patch(url, {"role": "analyst"}, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200, first.content
    assert first["ETag"] != tag
    stale = clients["mixed"].patch(url, {"role": "lead"}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412, stale.content
    body = stale.json()
    assert body["changed_fields"] == ["role"]
    assert [c["by"] for c in body["changes"] if c["fields"] and "role" in c["fields"]] == ["oleo"]
    assert clients["oleo"].get(url).json()["role"] == "analyst"
    assert clients["mixed"].delete(url, HTTP_IF_MATCH=tag).status_code == 412
    assert clients["mixed"].delete(url, HTTP_IF_MATCH=first["ETag"]).status_code == 204
