"""Who may read and write what: anonymous, analyst (token), evaluator, lead evaluator; tokens;
writes record their user; the verbatim rule and publishing rules over the API."""

import pytest
from django.contrib import admin
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient

from evidence.models import EvidenceExcerpt, EvidenceLink
from mechanisms.models import CMOConfiguration, Context

NEW_CONFIGURATION = {
    "slug": "shc-new", "title": "New", "statement": "In C, M leads to O.", "teams": ["shc"],
    "contexts": ["resigned-dependence"], "mechanism": "patient-beliefs", "theme": "targeting", "effect": "triggered",
    "influence": "enabler", "outcomes": ["self-care"], "quality_domains": ["safety"], "pathways": ["a"],
    "relationship_level": "micro",
    "wish_shifts": [{"dimension": "power", "toward": "agency", "between": "clinician-patient", "note": "more say"}],
}


def test_reading_counts_by_role(kb, anon_client, analyst_client, evaluator_client, lead_client):
    def count(client):
        return len(client.get("/api/configurations/").json()["results"])

    assert (count(anon_client), count(analyst_client), count(evaluator_client), count(lead_client)) == (2, 2, 3, 3)


def test_draft_detail_is_404_for_readers(kb, anon_client, analyst_client, evaluator_client):
    assert anon_client.get("/api/configurations/pathway-targets/").status_code == 404
    assert analyst_client.get("/api/configurations/pathway-targets/").status_code == 404
    assert evaluator_client.get("/api/configurations/pathway-targets/").json()["status"] == "draft"


def test_anonymous_write_is_401_with_token_challenge(kb, anon_client):
    response = anon_client.post("/api/contexts/", {"slug": "c", "name": "C"}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not Context.objects.filter(slug="c").exists()


@pytest.mark.parametrize("method,url", [
    ("post", "/api/contexts/"), ("patch", "/api/contexts/resigned-dependence/"), ("delete", "/api/contexts/four-hour-target/"),
    ("post", "/api/configurations/"), ("patch", "/api/configurations/shc-control/"), ("post", "/api/excerpts/"),
    ("post", "/api/evidence-links/"), ("patch", "/api/teams/shc/"),
])
def test_analysts_cannot_write(kb, analyst_client, method, url):
    response = getattr(analyst_client, method)(url, {"name": "changed"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only evaluators can change the knowledge base; analysts and anonymous clients read."}
    assert Context.objects.get(slug="resigned-dependence").name == "Patients resigned to dependence on nurses"


def test_evaluator_writes_a_vocabulary_row(kb, evaluator_client):
    response = evaluator_client.post("/api/contexts/", {"slug": "cuts", "name": "Service cuts", "category": "policy"}, format="json")
    assert response.status_code == 201
    assert response.json() == {"slug": "cuts", "name": "Service cuts", "description": "", "order": 0, "category": "policy",
                               "programme": "ctg"}
    response = evaluator_client.patch("/api/contexts/cuts/", {"name": "Cuts to services"}, format="json")
    assert response.json()["name"] == "Cuts to services"
    assert Context.objects.get(slug="cuts").history.first().history_user.username == "eva"


def test_duplicate_slug_is_a_409_naming_the_field(kb, evaluator_client):
    response = evaluator_client.post("/api/contexts/", {"slug": "four-hour-target", "name": "Again"}, format="json")
    assert response.status_code == 409
    assert list(response.json()) == ["slug"]


def test_evaluator_creates_a_configuration_recording_who(kb, evaluator_client, evaluator):
    response = evaluator_client.post("/api/configurations/", NEW_CONFIGURATION, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft" and data["created_by"] == "eva" and data["updated_by"] == "eva"
    assert data["wish_shifts"] == [{"dimension": "power", "toward": "agency", "toward_position": 1,
                                    "between": "clinician-patient", "note": "more say"}]
    assert data["pathways"] == ["a"] and data["contexts"][0]["slug"] == "resigned-dependence"
    config = CMOConfiguration.objects.get(slug="shc-new")
    assert config.created_by == evaluator
    assert config.history.first().history_user == evaluator
    # the new configuration is found by its context's words straight away
    assert [r["slug"] for r in evaluator_client.get("/api/configurations/?search=resigned&team=shc&status=draft").json()["results"]] == ["shc-new"]


def test_configuration_write_validation(kb, evaluator_client):
    bad = {**NEW_CONFIGURATION, "theme": "targeting", "mechanism": "professional-beliefs"}
    response = evaluator_client.post("/api/configurations/", bad, format="json")
    assert response.status_code == 422
    assert response.json() == {"theme": ["Theme 'targeting' belongs to another mechanism, not 'professional-beliefs'."]}
    bad = {**NEW_CONFIGURATION, "wish_shifts": [{"dimension": "valence", "toward": "agency", "between": "clinician-patient"}]}
    response = evaluator_client.post("/api/configurations/", bad, format="json")
    assert response.status_code == 422
    assert response.json() == {"wish_shifts": {"0": {"toward": ["'agency' is a pole of power, not of valence."]}}}
    response = evaluator_client.post("/api/configurations/", {**NEW_CONFIGURATION, "teams": ["nope"]}, format="json")
    assert response.status_code == 422 and list(response.json()) == ["teams"]
    assert not CMOConfiguration.objects.filter(slug="shc-new").exists()


def test_non_lead_cannot_publish(kb, evaluator_client):
    response = evaluator_client.patch("/api/configurations/pathway-targets/", {"status": "published"}, format="json")
    assert response.status_code == 403
    assert "Only lead evaluators can publish" in response.json()["detail"]
    assert response.json()["programme"] == "ctg"
    assert CMOConfiguration.objects.get(slug="pathway-targets").status == "draft"
    # ... but can submit it for review
    response = evaluator_client.patch("/api/configurations/pathway-targets/", {"status": "in_review"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "in_review"


def test_non_lead_cannot_change_or_delete_a_published_configuration(kb, evaluator_client):
    response = evaluator_client.patch("/api/configurations/shc-control/", {"title": "Changed"}, format="json")
    assert response.status_code == 403
    assert evaluator_client.delete("/api/configurations/shc-fear/").status_code == 403
    assert CMOConfiguration.objects.get(slug="shc-control").title == "Shc control"


def test_lead_publishes_only_what_passes_the_guard_rails(kb, lead_client):
    kb.pathway_targets.outcomes.clear()
    # The same workflow as the admin: a draft is reviewed before it is published.
    response = lead_client.patch("/api/configurations/pathway-targets/", {"status": "published"}, format="json")
    assert response.status_code == 422
    assert response.json() == {
        "status": ["Cannot publish 'Pathway targets': it is a draft; only configurations that are in review can be published."]
    }
    # Nor does a configuration go into review while it lacks what publishing requires.
    response = lead_client.patch("/api/configurations/pathway-targets/", {"status": "in_review"}, format="json")
    assert response.status_code == 422
    assert response.json() == {"status": ["Cannot submit for review 'Pathway targets': it has no outcome."]}
    response = lead_client.patch("/api/configurations/pathway-targets/", {"status": "in_review", "outcomes": ["self-care"]},
                                 format="json")
    assert response.status_code == 200 and response.json()["status"] == "in_review"
    # Taken apart while in review, it is not published either.
    assert lead_client.patch("/api/configurations/pathway-targets/", {"outcomes": []}, format="json").status_code == 200
    response = lead_client.patch(
        "/api/configurations/pathway-targets/", {"status": "published", "title": "Renamed"}, format="json"
    )
    assert response.status_code == 422
    assert response.json() == {"status": ["Cannot publish 'Renamed': it has no outcome."]}
    # Nothing of the refused request was written, not even the title.
    refused = CMOConfiguration.objects.get(slug="pathway-targets")
    assert (refused.status, refused.title) == ("in_review", "Pathway targets")
    response = lead_client.patch("/api/configurations/pathway-targets/", {"status": "published", "outcomes": ["self-care"]}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert CMOConfiguration.objects.get(slug="pathway-targets").updated_by.username == "leo"


def test_a_patch_of_wish_shifts_needs_whole_shifts(kb, evaluator_client):
    # A PATCH replaces the list of shifts; make fuzz sent one without its pole and got a 500.
    configuration = CMOConfiguration.objects.get(slug="pathway-targets")
    before = list(configuration.wish_shifts.values_list("dimension__slug", "toward__slug"))
    response = evaluator_client.patch(
        "/api/configurations/pathway-targets/", {"wish_shifts": [{"dimension": "power"}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"wish_shifts": {"0": {"toward": ["This field is required."], "between": ["This field is required."]}}}
    assert list(configuration.wish_shifts.values_list("dimension__slug", "toward__slug")) == before
    response = evaluator_client.patch(
        "/api/configurations/pathway-targets/",
        {"wish_shifts": [{"dimension": "power", "toward": "agency", "between": "clinician-patient"}]}, format="json",
    )
    assert response.status_code == 200
    assert [(s["dimension"], s["toward"]) for s in response.json()["wish_shifts"]] == [("power", "agency")]


def test_evaluator_deletes_a_draft(kb, evaluator_client):
    assert evaluator_client.delete("/api/configurations/pathway-targets/").status_code == 204
    assert not CMOConfiguration.objects.filter(slug="pathway-targets").exists()


def test_delete_refused_while_others_depend(kb, evaluator_client):
    response = evaluator_client.delete("/api/teams/shc/")
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == "Cannot delete: other records depend on it. Remove or reassign them first."
    assert "evidence excerpt: We were worried our jobs would go." in body["dependents"]


def _excerpt_payload(kb, needle, **extra):
    start = kb.source.full_text.index(needle)
    return {"slug": "q-new", "source": "small-report", "text": needle, "start": start, "end": start + len(needle),
            "team": "shc", "kind": "participant_quote", **extra}


def test_excerpt_write_keeps_the_verbatim_rule(kb, evaluator_client, evaluator):
    ok = _excerpt_payload(kb, "Café staff noted the naïve view:")  # non-ASCII before and inside the span
    response = evaluator_client.post("/api/excerpts/", ok, format="json")
    assert response.status_code == 201, response.content
    assert EvidenceExcerpt.objects.get(slug="q-new").created_by == evaluator

    wrong_text = {**_excerpt_payload(kb, "Café staff noted"), "slug": "q-bad", "text": "Cafe staff noted"}
    response = evaluator_client.post("/api/excerpts/", wrong_text, format="json")
    assert response.status_code == 422
    assert list(response.json()) == ["text"]
    assert "does not match the source" in response.json()["text"][0]

    past_end = {**wrong_text, "start": 10, "end": 100000}
    response = evaluator_client.post("/api/excerpts/", past_end, format="json")
    assert response.status_code == 422
    assert response.json() == {"end": ["End offset 100000 is past the end of the source text (320 characters)."]}

    backwards = {**wrong_text, "start": 50, "end": 40}
    response = evaluator_client.post("/api/excerpts/", backwards, format="json")
    assert response.status_code == 422 and list(response.json()) == ["end"]

    # a PATCH that moves the offsets away from the text is refused too
    response = evaluator_client.patch("/api/excerpts/q-new/", {"start": ok["start"] + 1}, format="json")
    assert response.status_code == 422 and list(response.json()) == ["text"]
    assert not EvidenceExcerpt.objects.filter(slug="q-bad").exists()


def test_evaluator_links_evidence(kb, evaluator_client):
    response = evaluator_client.post(
        "/api/evidence-links/", {"excerpt": "q-jobs", "configuration": "pathway-targets", "stance": "challenges", "part": "mechanism"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["created_by"] == "eva"
    again = evaluator_client.post(
        "/api/evidence-links/", {"excerpt": "q-jobs", "configuration": "pathway-targets", "stance": "supports", "part": "mechanism"},
        format="json",
    )
    assert again.status_code == 409
    assert EvidenceLink.objects.filter(excerpt=kb.q_jobs, configuration=kb.pathway_targets).count() == 1


def test_session_writes_need_csrf(kb, evaluator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(evaluator)
    assert client.get("/api/configurations/pathway-targets/").status_code == 200
    response = client.post("/api/contexts/", {"slug": "c", "name": "C"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_obtain_token_with_credentials(kb, analyst):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "ana", "password": "pw-ana"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=analyst).key
    bad = client.post("/api/auth/token/", {"username": "ana", "password": "wrong"}, format="json")
    assert bad.status_code == 400
    client.credentials(HTTP_AUTHORIZATION="Token " + token)
    assert client.get("/api/auth/me/").json() == {"username": "ana", "authenticated": True, "evaluator": False, "lead": False}


def test_bad_token_is_401(kb):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/configurations/").status_code == 401


def test_evaluator_issues_a_token_for_an_analyst(kb, evaluator_client, analyst_client, anon_client, analyst):
    response = evaluator_client.post("/api/auth/tokens/", {"username": "ana"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"username": "ana", "token": Token.objects.get(user=analyst).key}
    assert evaluator_client.post("/api/auth/tokens/", {"username": "nobody"}, format="json").json() == {
        "username": ["No active account is called 'nobody'."]
    }
    assert analyst_client.post("/api/auth/tokens/", {"username": "eva"}, format="json").status_code == 403
    assert anon_client.post("/api/auth/tokens/", {"username": "ana"}, format="json").status_code == 401


def test_me(kb, anon_client, lead_client):
    assert anon_client.get("/api/auth/me/").json() == {"username": None, "authenticated": False, "evaluator": False, "lead": False}
    assert lead_client.get("/api/auth/me/").json() == {"username": "leo", "authenticated": True, "evaluator": True, "lead": True}


def test_tokens_are_issued_in_the_admin_too(admin_client):
    assert admin.site.is_registered(TokenProxy)
    assert admin_client.get("/admin/authtoken/tokenproxy/add/").status_code == 200


def test_evidence_of_a_published_configuration_is_for_leads_only(kb, evaluator_client, lead_client):
    from evidence.models import EvidenceLink

    payload = {"excerpt": "f-target", "configuration": "shc-control", "stance": "illustrates", "part": "context"}
    response = evaluator_client.post("/api/evidence-links/", payload, format="json")
    assert response.status_code == 403
    assert response.json()["configurations"] == ["shc-control"]
    assert "Only a lead evaluator can change what a published configuration shows" in response.json()["detail"]
    assert kb.shc_control.evidence_links.count() == 1
    # The evaluator may still link evidence to a draft.
    draft_payload = {**payload, "configuration": "pathway-targets"}
    assert evaluator_client.post("/api/evidence-links/", draft_payload, format="json").status_code == 201

    only_link = EvidenceLink.objects.get(configuration=kb.shc_control)
    assert evaluator_client.delete(f"/api/evidence-links/{only_link.pk}/").status_code == 403
    response = lead_client.delete(f"/api/evidence-links/{only_link.pk}/")
    assert response.status_code == 400
    assert response.json() == {
        "configuration": ["'shc-control' is published and this is its only evidence link; return it to draft before removing it."]
    }
    assert lead_client.post("/api/evidence-links/", payload, format="json").status_code == 201
    assert lead_client.delete(f"/api/evidence-links/{only_link.pk}/").status_code == 204
    assert list(kb.shc_control.evidence_links.values_list("excerpt__slug", flat=True)) == ["f-target"]


def test_status_changes_through_the_api_are_recorded_as_workflow_steps(kb, evaluator_client, lead_client):
    assert evaluator_client.patch("/api/configurations/pathway-targets/", {"status": "in_review"}, format="json").status_code == 200
    assert lead_client.patch("/api/configurations/pathway-targets/", {"status": "published"}, format="json").status_code == 200
    reasons = list(
        CMOConfiguration.history.filter(slug="pathway-targets").order_by("history_date")
        .values_list("history_change_reason", "history_user__username")
    )[-2:]
    assert reasons == [("Submitted for review", "eva"), ("Published", "leo")]
    # New configurations start as drafts: asking to create one published is refused, nothing written.
    response = lead_client.post(
        "/api/configurations/",
        {"slug": "born-published", "title": "x", "statement": "In C, M leads to O.", "status": "published"},
        format="json",
    )
    assert response.status_code == 422
    assert "it is a draft" in response.json()["status"][0]
    assert not CMOConfiguration.objects.filter(slug="born-published").exists()


def test_a_write_that_changes_nothing_stamps_nothing(kb, evaluator_client, evaluator):
    from projects.models import Team

    # (A team no published configuration uses, so the publish lock stays out of the way.)
    team = Team.objects.create(programme=kb.programme, slug="new-team", name="New team", short_name="NT", order=9)
    stamped, history = team.updated_at, team.history.count()
    for body in ({}, {"name": "New team", "short_name": "NT"}):
        response = evaluator_client.patch("/api/teams/new-team/", body, format="json")
        assert response.status_code == 200, body
        assert response.json()["name"] == "New team"
        team.refresh_from_db()
        assert (team.updated_at, team.updated_by, team.history.count()) == (stamped, None, history), body
    assert evaluator_client.patch("/api/teams/new-team/", {"short_name": "S.H.C."}, format="json").status_code == 200
    team.refresh_from_db()
    assert (team.short_name, team.updated_by, team.history.count()) == ("S.H.C.", evaluator, history + 1)
    assert team.updated_at > stamped


@pytest.mark.parametrize("body", [{"aliases": None}, {"aliases": "Mums"}, {"aliases": [{"a": 1}]}])
def test_a_team_alias_list_takes_only_texts(kb, evaluator_client, body):
    # A null or a non-list used to reach the not-null JSON column: a 409 carrying the database's message.
    response = evaluator_client.patch("/api/teams/shc/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["aliases"]


def test_lists_of_texts_from_a_form_and_from_json(kb, evaluator_client, lead_client):
    from projects.models import Programme, Team

    response = evaluator_client.post(
        "/api/programmes/", {"slug": "p2", "name": "Second programme", "headline_messages": ["One.", " Two "]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Programme.objects.get(slug="p2").headline_messages == ["One.", " Two "]
    # (a lead: published configurations show this team, so the publish lock holds it for leads)
    response = lead_client.patch("/api/teams/shc/", {"aliases": ["CAMHS team"]}, format="json")
    assert response.status_code == 200, response.content
    assert Team.objects.get(slug="shc").aliases == ["CAMHS team"]


def test_a_database_conflict_names_the_fields_not_the_database(kb):
    """A constraint only the database checks answers 409 with the clashing fields; the database's own
    message (tables, constraint names, stored values) stays in the log."""
    from django.db import IntegrityError, transaction

    from cmo_kb.errors import integrity_conflict
    from projects.models import Team

    shc = Team.objects.get(slug="shc")
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Team.objects.create(programme=shc.programme, slug="shc-again", name="Again", short_name=shc.short_name)
    body = integrity_conflict(caught.value)
    assert body["fields"] == ["programme", "short_name"]
    assert "projects_team" not in str(body) and "team_short_name_unique_in_programme" not in str(body)


@pytest.mark.parametrize("body,field", [
    ({"description": 0}, "description"),        # a vocabulary's text column
    ({"category": True}, "category"),
    ({"name": 4.6e16}, "name"),
])
def test_text_fields_take_json_strings_only(kb, evaluator_client, body, field):
    """A JSON number or boolean where the schema says string is a 400 naming the field (DRF would
    store its text), and nothing is written."""
    from mechanisms.models import Context

    Context.objects.create(programme=kb.programme, slug="c-strict", name="Strict")
    before = Context.objects.values().get(slug="c-strict")
    response = evaluator_client.patch("/api/contexts/c-strict/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [f"Not a valid string: send text (a JSON string), not a {'boolean' if body[field] is True else 'number'}."]}
    assert Context.objects.values().get(slug="c-strict") == before


def test_a_slug_reference_takes_a_json_string_only(kb, evaluator_client):
    from mechanisms.models import EnablingMechanism, MechanismTheme

    EnablingMechanism.objects.create(programme=kb.programme, slug="0", name="Zero")
    response = evaluator_client.patch("/api/themes/targeting/", {"mechanism": 0}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["mechanism"]
    assert MechanismTheme.objects.get(slug="targeting").mechanism.slug != "0"
    response = evaluator_client.patch("/api/configurations/pathway-targets/", {"teams": [7]}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["teams"]


@pytest.mark.parametrize("url,ok", [
    ("https://www.health.org.uk/publications/closing-the-gap", True),
    ("https://example.a", True),                       # a URI with a one-letter top-level domain
    ("http://10.0.0.1:8080/report?x=1#p2", True),
    ("ftp://example.org/report", False),
    ("https://", False),
    ("https://exa mple.org", False),
    ("https://example.org:99999/", False),
])
def test_a_source_url_is_a_web_address_on_every_path(kb, lead, lead_client, rf, url, ok):
    """The API and the admin's form check a source's URL with one rule (cmo_kb/web_address.py).
    (A lead: published configurations cite the source, so the publish lock holds it for others.)"""
    from django.contrib import admin as django_admin

    from evidence.admin import SourceAdmin
    from evidence.models import Source

    response = lead_client.patch("/api/sources/small-report/", {"url": url}, format="json")
    assert response.status_code == (200 if ok else 400), response.content
    assert (Source.objects.get(slug="small-report").url == url) is ok
    if not ok:
        assert list(response.json()) == ["url"]
    request = rf.get("/admin/evidence/source/")
    request.user = lead
    form_class = SourceAdmin(Source, django_admin.site).get_form(request, fields=["url"])
    form = form_class(data={"url": url}, instance=Source.objects.get(slug="small-report"))
    assert form.is_valid() is ok, form.errors
