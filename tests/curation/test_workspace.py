"""The coding workspace (evidence/workspace.py): its page and JSON actions, per role and programme,
the exact offsets, the attribution, the draft card's versions and the publish lock."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.curation.conftest import login
from tests.programmes.conftest import other  # noqa: F401  (fixture)

ASTRAL_TEXT = (
    "1 Introduction\n"
    "Notes from the Café 🙂 and 𝒳.\n"
    "'We now plan my dialysis together with the nurses.' (Shared Haemodialysis Care, patient)\n"
    "2 Findings\n"
    "Staff feared for their jobs.\n"
)


def page_url(source):
    return reverse("admin:evidence_source_workspace", args=[source.pk])


def passage_url(source):
    return reverse("admin:evidence_source_workspace_passage", args=[source.pk])


def configuration_url(source):
    return reverse("admin:evidence_source_workspace_configuration", args=[source.pk])


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def span(text, needle):
    start = text.index(needle)
    return {"start": start, "end": start + len(needle), "text": needle}


@pytest.fixture
def astral(kb):
    from evidence.models import Source

    return Source.objects.create(slug="astral", kind=kb.report, programme=kb.programme, title="Astral notes",
                                 full_text=ASTRAL_TEXT)


@pytest.fixture
def stranger(other):
    """An evaluator of the private programme `other` only, with the admin open to him."""
    other.oeva.is_staff = True
    other.oeva.save()
    return other.oeva


# --- who may do what ----------------------------------------------------------------------------


def test_anonymous_and_analysts_are_sent_to_the_login(kb, analyst):
    for client in (Client(), login(analyst)):
        for url in (page_url(kb.source), passage_url(kb.source), configuration_url(kb.source)):
            response = client.post(url) if "workspace/" != url[-10:] else client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_evaluators_see_the_page_with_the_text_verbatim_and_its_outline(kb, evaluator, astral):
    response = login(evaluator).get(page_url(astral))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="ws-text"' in page and 'data-writer="true"' in page
    assert [h["title"] for h in response.context["outline"]] == ["1 Introduction", "2 Findings"]
    assert 'data-s="0"' in page
    assert "evidence/workspace.js" in page and "<script>" not in page  # CSP: no inline script


def test_the_page_labels_excerpts_with_their_codes_and_configurations(kb, evaluator):
    from evidence.codes import Code, Coding

    control = Code.objects.create(programme=kb.programme, name="Control")
    Coding.objects.create(excerpt=kb.q_control, code=control, coder=evaluator)
    page = login(evaluator).get(page_url(kb.source)).content.decode()
    assert 'data-tags="code:Control · O shc-control"' in page
    assert 'data-tags="· M shc-fear"' in page


def test_an_evaluator_of_another_programme_reads_a_public_source_but_cannot_write(kb, stranger, other):
    client = login(stranger)
    response = client.get(page_url(kb.source))
    assert response.status_code == 200 and 'data-writer="false"' in response.content.decode()
    refused = post(client, passage_url(kb.source), {**span(kb.source.full_text, "Introduction."), "codes": []})
    assert refused.status_code == 403 and "ctg" in refused.json()["detail"]
    assert post(client, configuration_url(kb.source), {}).status_code == 403


def test_a_private_programmes_source_does_not_exist_for_strangers(kb, evaluator, other):
    client = login(evaluator)
    assert client.get(page_url(other.source)).status_code == 404
    assert post(client, configuration_url(other.source), {}).status_code == 404


def test_leads_write_too(kb, lead, astral):
    client = login(lead)
    assert client.get(page_url(astral)).status_code == 200
    assert post(client, configuration_url(astral), {"title": "Lead's draft"}).status_code == 201


def test_actions_are_posts_with_a_csrf_token(kb, evaluator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(evaluator)
    assert client.get(passage_url(kb.source)).status_code == 405
    assert post(client, configuration_url(kb.source), {}).status_code == 403  # no CSRF token


# --- a passage becomes an excerpt ----------------------------------------------------------------


def test_a_passage_is_an_excerpt_at_code_point_offsets_with_section_team_role_and_attribution(kb, evaluator, astral):
    from evidence.models import EvidenceExcerpt

    needle = "'We now plan my dialysis together with the nurses.' (Shared Haemodialysis Care, patient)"
    body = span(ASTRAL_TEXT, needle)
    assert len(ASTRAL_TEXT[:body["start"]].encode("utf-16-le")) // 2 != body["start"]  # astral chars before it
    client = login(evaluator)
    configuration = post(client, configuration_url(astral), {"title": "Shared care"}).json()["configuration"]
    response = post(client, passage_url(astral), {**body, "configuration": configuration["id"], "part": "outcome",
                                                  "stance": "illustrates"})
    assert response.status_code == 201, response.content
    excerpt = EvidenceExcerpt.objects.get(source=astral)
    assert (excerpt.start, excerpt.end) == (body["start"], body["end"])
    assert astral.full_text[excerpt.start:excerpt.end] == excerpt.text == needle
    assert excerpt.section == "1 Introduction"
    assert (excerpt.team, excerpt.speaker_role, excerpt.attribution) == (
        kb.shc, kb.patient_role, "(Shared Haemodialysis Care, patient)")
    assert excerpt.kind == "participant_quote" and excerpt.created_by == evaluator
    evidence = response.json()["configuration"]["evidence"]
    assert [(e["part"], e["stance"], e["excerpt"]) for e in evidence] == [("outcome", "illustrates", excerpt.pk)]


def test_an_attribution_printed_after_the_selected_quote_fills_it_too(kb, evaluator, astral):
    from evidence.models import EvidenceExcerpt

    body = span(ASTRAL_TEXT, "We now plan my dialysis together with the nurses.")
    from evidence.codes import Code

    code = Code.objects.create(programme=kb.programme, name="Planning")
    response = post(login(evaluator), passage_url(astral), {**body, "codes": [code.pk]})
    assert response.status_code == 201
    excerpt = EvidenceExcerpt.objects.get(source=astral)
    assert excerpt.attribution == "(Shared Haemodialysis Care, patient)" and excerpt.team == kb.shc
    assert [c.code for c in excerpt.codings.all()] == [code] and excerpt.codings.get().coder == evaluator
    # The same span again: the same excerpt, the coding not doubled.
    again = post(login(evaluator), passage_url(astral), {**body, "codes": [code.pk]})
    assert again.status_code == 200 and EvidenceExcerpt.objects.filter(source=astral).count() == 1
    assert excerpt.codings.count() == 1


def test_a_finding_without_attribution_is_an_evaluator_finding(kb, evaluator, astral):
    from evidence.codes import Code
    from evidence.models import EvidenceExcerpt

    code = Code.objects.create(programme=kb.programme, name="Fear")
    response = post(login(evaluator), passage_url(astral), {**span(ASTRAL_TEXT, "Staff feared for their jobs."),
                                                            "codes": [code.pk]})
    excerpt = EvidenceExcerpt.objects.get(pk=response.json()["excerpt"]["id"])
    assert (excerpt.kind, excerpt.section, excerpt.attribution, excerpt.team) == ("evaluator_finding", "2 Findings", "", None)


@pytest.mark.parametrize("body, field", [
    ({"start": 5, "end": 3, "codes": [1]}, "end"),
    ({"start": -1, "end": 3, "codes": [1]}, "start"),
    ({"start": 0, "end": 10 ** 6, "codes": [1]}, "end"),
    ({"start": "x", "end": 3, "codes": [1]}, "start"),
    ({"start": 0, "end": 5, "text": "Wrong", "codes": [1]}, "start"),
    ({"start": 0, "end": 5}, "codes"),
    ({"start": 0, "end": 5, "codes": "1"}, "codes"),
    ({"start": 0, "end": 5, "codes": [999999]}, "codes"),
    ({"start": 0, "end": 5, "configuration": 999999, "part": "context"}, "configuration"),
    ({"start": 0, "end": 5, "configuration": 1}, "part"),
    ({"start": 0, "end": 5, "configuration": 1, "part": "everything"}, "part"),
])
def test_bad_passages_are_400s_naming_the_field_and_write_nothing(kb, evaluator, astral, body, field):
    from evidence.models import EvidenceExcerpt

    response = post(login(evaluator), passage_url(astral), body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not EvidenceExcerpt.objects.filter(source=astral).exists()


def test_a_body_that_is_not_json_is_a_400(kb, evaluator):
    response = login(evaluator).post(passage_url(kb.source), "{", content_type="application/json")
    assert response.status_code == 400 and "body" in response.json()["errors"]


# --- the configuration card ----------------------------------------------------------------------


def test_a_card_is_saved_at_every_step_from_its_version(kb, evaluator, astral):
    from mechanisms.models import CMOConfiguration

    client = login(evaluator)
    created = post(client, configuration_url(astral), {})
    assert created.status_code == 201
    card = created.json()["configuration"]
    assert card["status"] == "draft" and card["title"] == "Draft from Astral notes"
    assert card["problems"] == ["it has no mechanism", "it has no context", "it has no outcome", "it has no evidence link"]
    steps = [{"title": "Shared care fears"}, {"contexts": [kb.resigned.pk]}, {"mechanism": kb.patient_beliefs.pk},
             {"effect": "disabled"}, {"outcomes": [kb.refusal.pk]}, {"new_context": "Cuts to nursing posts"},
             {"new_outcome": "Patients ask nurses back"}, {"theme": kb.targeting.pk}]
    for step in steps:
        response = post(client, configuration_url(astral), {"id": card["id"], "version": card["version"], **step})
        assert response.status_code == 200, (step, response.content)
        assert response.json()["configuration"]["version"] != card["version"], step
        card = response.json()["configuration"]
    stored = CMOConfiguration.objects.get(pk=card["id"])
    assert (stored.title, stored.mechanism, stored.effect, stored.theme) == (
        "Shared care fears", kb.patient_beliefs, "disabled", kb.targeting)
    assert sorted(c.name for c in stored.contexts.all()) == ["Cuts to nursing posts", "Patients resigned to dependence on nurses"]
    assert sorted(o.name for o in stored.outcomes.all()) == ["Patients ask nurses back", "Some patients refuse self-care"]
    assert stored.created_by == evaluator and stored.status == "draft"


def test_a_stale_save_is_a_conflict_and_overwrites_nothing(kb, evaluator, lead, astral):
    from mechanisms.models import CMOConfiguration

    eva, leo = login(evaluator), login(lead)
    card = post(eva, configuration_url(astral), {"title": "First"}).json()["configuration"]
    theirs = post(leo, configuration_url(astral), {"id": card["id"], "version": card["version"], "title": "Lead's title"})
    assert theirs.status_code == 200
    mine = post(eva, configuration_url(astral), {"id": card["id"], "version": card["version"], "title": "Mine"})
    assert mine.status_code == 409
    assert "changed by leo" in mine.json()["detail"] and mine.json()["configuration"]["title"] == "Lead's title"
    assert CMOConfiguration.objects.get(pk=card["id"]).title == "Lead's title"
    # A link attached meanwhile changes the version too.
    fresh = mine.json()["configuration"]
    post(leo, passage_url(astral), {**span(ASTRAL_TEXT, "Staff feared for their jobs."), "configuration": card["id"],
                                    "part": "mechanism"})
    assert post(eva, configuration_url(astral), {"id": card["id"], "version": fresh["version"], "effect": "disabled"}).status_code == 409


@pytest.mark.parametrize("step, field", [
    ({"title": ""}, "title"), ({"mechanism": 999999}, "mechanism"), ({"theme": 999999}, "theme"),
    ({"effect": "maybe"}, "effect"), ({"contexts": [999999]}, "contexts"), ({"outcomes": "x"}, "outcomes"),
    ({"version": ""}, "version"), ({"id": 999999}, "id"),
])
def test_bad_card_saves_are_400s_naming_the_field(kb, evaluator, astral, step, field):
    client = login(evaluator)
    card = post(client, configuration_url(astral), {}).json()["configuration"]
    response = post(client, configuration_url(astral), {"id": card["id"], "version": card["version"], **step})
    assert response.status_code == 400 and field in response.json()["errors"], response.content


def test_other_programmes_terms_are_refused(kb, evaluator, astral, other):
    client = login(evaluator)
    card = post(client, configuration_url(astral), {}).json()["configuration"]
    for step, field in (({"contexts": [other.context.pk]}, "contexts"), ({"mechanism": other.mechanism.pk}, "mechanism")):
        response = post(client, configuration_url(astral), {"id": card["id"], "version": card["version"], **step})
        assert response.status_code == 400 and field in response.json()["errors"]


# --- the publish lock ----------------------------------------------------------------------------


def test_published_configurations_are_locked_for_evaluators_not_leads(kb, evaluator, lead):
    from evidence.models import EvidenceLink
    from mechanisms.models import CMOConfiguration

    body = {**span(kb.source.full_text, "Staff in A&E welcomed the team"), "configuration": kb.shc_control.pk,
            "part": "context"}
    refused = post(login(evaluator), passage_url(kb.source), body)
    assert refused.status_code == 403 and "published configuration" in refused.json()["detail"]
    assert not EvidenceLink.objects.filter(configuration=kb.shc_control, part="context").exists()
    from cmo_kb.concurrency import token_of

    version = token_of(kb.shc_control)
    save = post(login(evaluator), configuration_url(kb.source), {"id": kb.shc_control.pk, "version": version, "title": "Changed"})
    assert save.status_code == 403 and CMOConfiguration.objects.get(pk=kb.shc_control.pk).title != "Changed"
    allowed = post(login(lead), passage_url(kb.source), body)
    assert allowed.status_code == 201 and EvidenceLink.objects.filter(configuration=kb.shc_control, part="context").exists()


def test_a_nul_or_a_form_post_is_a_400_naming_it(kb, evaluator, astral):
    client = login(evaluator)
    card = post(client, configuration_url(astral), {}).json()["configuration"]
    response = post(client, configuration_url(astral), {"id": card["id"], "version": card["version"], "title": "a\x00b"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["title"]
    form = client.post(passage_url(astral), {"start": "0", "end": "3"})
    assert form.status_code == 400 and list(form.json()["errors"]) == ["body"]
