"""Who writes where, through the API: a programme's evaluators and leads write in it, its leads
publish there and change the programme; anyone else gets a 403 naming the programme (a private
programme's non-members a 404: it does not exist for them). Evaluators create programmes and lead
them; copy_vocabulary_from starts one from another's vocabulary, all in one transaction."""

import pytest

from tests.programmes.conftest import EVALUATORS, LEADS_CTG, LEADS_OTHER, ROLES, SEES_OTHER, WRITES_CTG, WRITES_OTHER


def _write_status(role, writes, sees=True):
    if role == "anonymous":
        return 401
    if role not in EVALUATORS:
        return 403  # analysts read only, wherever they are members
    if not sees:
        return 404
    return 200 if role in writes else 403


@pytest.mark.parametrize("role", ROLES)
def test_writing_a_programmes_term(clients, role):
    from mechanisms.models import Context

    client = clients[role]
    response = client.patch("/api/contexts/four-hour-target/", {"name": "Changed by " + role}, format="json")
    expected = _write_status(role, WRITES_CTG)
    assert response.status_code == expected, response.content
    if expected == 403 and role in EVALUATORS:
        assert response.json()["programme"] == "ctg"
        assert "do not write in the programme 'ctg'" in response.json()["detail"]
    assert (Context.objects.get(slug="four-hour-target").name == "Changed by " + role) is (expected == 200)

    response = client.patch("/api/contexts/only-other/", {"name": "Changed by " + role}, format="json")
    expected = _write_status(role, WRITES_OTHER, sees=role in SEES_OTHER)
    assert response.status_code == expected, response.content
    assert (Context.objects.get(slug="only-other").name == "Changed by " + role) is (expected == 200)


@pytest.mark.parametrize("role", ROLES)
def test_creating_rows_in_a_programme(clients, role):
    from mechanisms.models import Context

    client = clients[role]
    for programme, writes, sees in (("ctg", WRITES_CTG, True), ("other", WRITES_OTHER, role in SEES_OTHER)):
        body = {"programme": programme, "slug": f"new-{role}", "name": "New"}
        response = client.post("/api/contexts/", body, format="json")
        if role == "anonymous":
            assert response.status_code == 401
        elif role not in EVALUATORS:
            assert response.status_code == 403
        elif not sees:
            # A programme you cannot see is a slug no row has.
            assert response.status_code == 422 and response.json() == {"programme": ["Object with slug=other does not exist."]}
        elif role in writes:
            assert response.status_code == 201, response.content
            assert response.json()["programme"] == programme
        else:
            assert response.status_code == 403 and response.json()["programme"] == programme
        stored = Context.objects.filter(slug=f"new-{role}", programme__slug=programme).exists()
        assert stored is (response.status_code == 201)


def test_a_writer_in_one_programme_need_not_name_it(clients):
    response = clients["oeva"].post("/api/contexts/", {"slug": "quiet", "name": "Quiet"}, format="json")
    assert response.status_code == 201 and response.json()["programme"] == "other"
    # mixed writes in both: must say which.
    response = clients["mixed"].post("/api/contexts/", {"slug": "quiet", "name": "Quiet"}, format="json")
    assert response.status_code == 422  # well formed; the programmes mixed writes in make it ambiguous
    assert response.json() == {"programme": ["Say which programme this row belongs to: you write in several."]}


@pytest.mark.parametrize("role", ROLES)
def test_publishing_is_for_the_programmes_leads(clients, kb, other, role):
    from mechanisms.models import CMOConfiguration

    CMOConfiguration.objects.filter(slug="pathway-targets").update(status="in_review")
    for slug, leads, writes, sees in (("pathway-targets", LEADS_CTG, WRITES_CTG, role in WRITES_CTG),
                                      ("other-draft", LEADS_OTHER, WRITES_OTHER, role in WRITES_OTHER)):
        response = clients[role].patch(f"/api/configurations/{slug}/", {"status": "published"}, format="json")
        if role == "anonymous":
            expected = 401
        elif role not in EVALUATORS:
            expected = 403
        elif not sees:
            expected = 404  # its drafts are its writers'
        else:
            expected = 200 if role in leads else 403
        assert response.status_code == expected, (slug, response.content)
        if expected == 403 and role in writes:
            programme = CMOConfiguration.objects.get(slug=slug).programme.slug
            assert response.json()["programme"] == programme
            assert "Only lead evaluators can publish" in response.json()["detail"]
        assert (CMOConfiguration.objects.get(slug=slug).status == "published") is (expected == 200)


def test_the_lead_of_one_programme_cannot_publish_in_another(clients, kb):
    from mechanisms.models import CMOConfiguration

    # mixed leads `other` and is an evaluator in ctg.
    CMOConfiguration.objects.filter(slug="pathway-targets").update(status="in_review")
    response = clients["mixed"].patch("/api/configurations/pathway-targets/", {"status": "published"}, format="json")
    assert response.status_code == 403
    assert response.json()["programme"] == "ctg"
    assert clients["mixed"].patch("/api/configurations/other-draft/", {"status": "published"},
                                  format="json").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_changing_a_programme_is_for_its_lead(clients, role):
    from projects.models import Programme

    for slug, leads, sees in (("ctg", LEADS_CTG, True), ("other", LEADS_OTHER, role in SEES_OTHER)):
        response = clients[role].patch(f"/api/programmes/{slug}/", {"summary": f"By {role}"}, format="json")
        expected = _write_status(role, leads, sees)
        assert response.status_code == expected, (slug, response.content)
        if expected == 403 and role in EVALUATORS:
            assert response.json() == {
                "detail": f"Only a lead evaluator of the programme '{slug}' can change the programme or its members.",
                "programme": slug,
            }
        assert (Programme.objects.get(slug=slug).summary == f"By {role}") is (expected == 200)


def test_a_lead_makes_a_programme_public_and_sets_its_frameworks(clients, kb, other):
    from mechanisms.models import Framework

    Framework.objects.create(slug="npt", name="Normalisation Process Theory")
    response = clients["oleo"].patch("/api/programmes/other/", {"is_public": True, "frameworks": ["npt"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_public"] is True and response.json()["frameworks"] == ["npt"]
    # Public now: everyone reads its published rows, not its drafts.
    assert clients["anonymous"].get("/api/configurations/other-published/").status_code == 200
    assert clients["anonymous"].get("/api/configurations/other-draft/").status_code == 404
    assert clients["eva"].get("/api/configurations/other-draft/").status_code == 404
    response = clients["oleo"].patch("/api/programmes/other/", {"frameworks": ["nope"]}, format="json")
    assert response.status_code == 422 and list(response.json()) == ["frameworks"]


@pytest.mark.parametrize("role,status", [("anonymous", 401), ("ana", 403), ("oana", 403), ("eva", 201), ("oeva", 201),
                                         ("leo", 201), ("root", 201)])
def test_evaluators_create_programmes_and_lead_them(clients, role, status):
    from projects.models import ProgrammeMembership

    response = clients[role].post("/api/programmes/", {"slug": "fresh", "name": "A fresh programme"}, format="json")
    assert response.status_code == status, response.content
    if status != 201:
        return
    body = response.json()
    assert body["slug"] == "fresh" and body["is_public"] is False and body["role"] == "lead"
    if role != "root":  # (a superuser leads everywhere without a membership)
        assert ProgrammeMembership.objects.get(programme__slug="fresh").user.username == role
        # The creator sees it (private) and changes it.
        assert clients[role].get("/api/programmes/fresh/").status_code == 200
        assert clients[role].patch("/api/programmes/fresh/", {"summary": "Mine."}, format="json").status_code == 200
        members = clients[role].get("/api/programmes/fresh/members/").json()["results"]
        assert [(m["username"], m["role"], m["programme"]) for m in members] == [(role, "lead", "fresh")]
    assert clients["anonymous"].get("/api/programmes/fresh/").status_code == 404


def test_a_programme_starts_from_another_programmes_vocabulary(clients, kb, other):
    from mechanisms.models import Context, EnablingMechanism, MechanismTheme

    response = clients["eva"].post("/api/programmes/", {"slug": "third", "name": "Third", "copy_vocabulary_from": "ctg"},
                                   format="json")
    assert response.status_code == 201, response.content
    assert "copy_vocabulary_from" not in response.json()
    assert sorted(Context.objects.filter(programme__slug="third").values_list("slug", flat=True)) == [
        "four-hour-target", "resigned-dependence"]
    theme = MechanismTheme.objects.get(programme__slug="third", slug="targeting")
    assert theme.mechanism == EnablingMechanism.objects.get(programme__slug="third", slug="patient-beliefs")
    # The copy is third's own: ctg is unchanged, and the new programme's slugs are looked up in it.
    assert Context.objects.filter(programme__slug="ctg").count() == 2
    assert clients["eva"].get("/api/contexts/", {"programme": "third"}).json()["count"] == 2


def test_copying_needs_a_programme_you_read(clients):
    from projects.models import Programme

    response = clients["eva"].post("/api/programmes/", {"slug": "third", "name": "Third", "copy_vocabulary_from": "other"},
                                   format="json")
    assert response.status_code == 422
    assert response.json() == {"copy_vocabulary_from": ["Object with slug=other does not exist."]}
    assert not Programme.objects.filter(slug="third").exists()
    response = clients["oeva"].post("/api/programmes/", {"slug": "third", "name": "Third", "copy_vocabulary_from": "other"},
                                    format="json")
    assert response.status_code == 201
    response = clients["oleo"].patch("/api/programmes/other/", {"copy_vocabulary_from": "ctg"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["copy_vocabulary_from"]


def test_a_failed_copy_leaves_no_programme(clients, monkeypatch):
    from projects import programme_setup
    from projects.models import Programme, ProgrammeMembership

    def broken(source, target):
        from mechanisms.models import Context

        Context.objects.create(programme=target, slug="half", name="Half a copy")
        raise RuntimeError("the copy broke halfway")

    monkeypatch.setattr(programme_setup, "copy_vocabulary", broken)
    clients["eva"].raise_request_exception = False
    response = clients["eva"].post("/api/programmes/", {"slug": "third", "name": "Third", "copy_vocabulary_from": "ctg"},
                                   format="json")
    assert response.status_code == 500
    assert not Programme.objects.filter(slug="third").exists()
    assert not ProgrammeMembership.objects.filter(programme__slug="third").exists()


def test_a_programme_with_rows_is_not_deleted(clients, kb):
    assert clients["leo"].delete("/api/programmes/ctg/").status_code == 409
    assert clients["eva"].delete("/api/programmes/ctg/").status_code == 403
    clients["eva"].post("/api/programmes/", {"slug": "empty", "name": "Empty"}, format="json")
    assert clients["eva"].delete("/api/programmes/empty/").status_code == 204


def test_a_programme_ends_after_it_starts(clients):
    response = clients["leo"].patch("/api/programmes/ctg/", {"start_year": 2014, "end_year": 2012}, format="json")
    assert response.status_code == 422
    assert response.json() == {"end_year": ["The programme cannot end (2012) before it starts (2014)."]}
    assert clients["leo"].patch("/api/programmes/ctg/", {"start_year": 2012, "end_year": 2014}, format="json").status_code == 200
    assert clients["leo"].patch("/api/programmes/ctg/", {"end_year": 2011}, format="json").status_code == 422


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None, []])
def test_is_public_is_a_json_boolean(clients, value):
    """make fuzz: DRF's BooleanField took 0 for false, which the schema's boolean refuses."""
    from projects.models import Programme

    response = clients["oleo"].patch("/api/programmes/other/", {"is_public": value}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["is_public"]
    assert Programme.objects.get(slug="other").is_public is False
    response = clients["oleo"].patch("/api/programmes/other/", {"is_public": True}, format="json")
    assert response.status_code == 200 and response.json()["is_public"] is True
