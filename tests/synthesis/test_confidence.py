"""Confidence assessed rather than asserted (issue 14): the GRADE-CERQual assessment of a
configuration, Pawson's appraisal of each evidence link, and the evidence profile counted from the
links, on every door (model, save, API, workbench) and on the page."""

import pytest
from django.core.exceptions import ValidationError

from evidence.models import EvidenceLink
from mechanisms.confidence import assessment_errors, evidence_profile

ASSESSED = {
    "methodological_limitations": "minor", "methodological_limitations_explanation": "Interviews by one evaluator.",
    "coherence": "none", "coherence_explanation": "",
    "adequacy": "moderate", "adequacy_explanation": "Two teams only.",
    "relevance": "none", "relevance_explanation": "",
    "assessed_confidence": "moderate", "assessed_confidence_reason": "Minor and moderate concerns about data.",
}


def test_the_rules_name_each_field():
    assert assessment_errors(ASSESSED) == {}
    assert assessment_errors({}) == {}  # not assessed at all
    assert set(assessment_errors({"coherence": "serious"})) == {"coherence_explanation"}
    assert set(assessment_errors({"coherence_explanation": "Why?"})) == {"coherence"}
    overall = assessment_errors({"assessed_confidence": "high", "coherence": "none"})
    assert overall == {"assessed_confidence": "An overall confidence is assessed from the four components: assess "
                                              "methodological limitations, adequacy, relevance first."}
    assert set(assessment_errors({**ASSESSED, "assessed_confidence_reason": "  "})) == {"assessed_confidence_reason"}
    assert set(assessment_errors({"assessed_confidence_reason": "Because."})) == {"assessed_confidence"}


def test_model_clean_and_save_refuse_a_broken_assessment(kb):
    configuration = kb.pathway_targets
    configuration.adequacy = "serious"
    with pytest.raises(ValidationError) as clean:
        configuration.clean()
    assert set(clean.value.message_dict) == {"adequacy_explanation"}
    # Every other door (a command, an import, a history revert) saves without a form: refused at save.
    with pytest.raises(ValidationError):
        configuration.save()
    configuration.refresh_from_db()
    assert configuration.adequacy == ""
    for name, value in ASSESSED.items():
        setattr(configuration, name, value)
    configuration.save()
    configuration.refresh_from_db()
    assert (configuration.assessed_confidence, configuration.adequacy) == ("moderate", "moderate")


def test_the_api_writes_the_assessment_and_refuses_with_the_field_named(kb, evaluator_client, anon_client):
    url = "/api/configurations/pathway-targets/"
    bad = evaluator_client.patch(url, {"assessed_confidence": "high"}, format="json")
    assert bad.status_code == 422, bad.content
    assert list(bad.json()) == ["assessed_confidence"]
    unknown = evaluator_client.patch(url, {"coherence": "grave"}, format="json")
    assert unknown.status_code == 400 and "coherence" in unknown.json()
    ok = evaluator_client.patch(url, ASSESSED, format="json")
    assert ok.status_code == 200, ok.content
    data = ok.json()
    assert {name: data[name] for name in ASSESSED} == ASSESSED
    # A later change that breaks the rule with what is stored is refused too (stored + sent).
    again = evaluator_client.patch(url, {"adequacy_explanation": ""}, format="json")
    assert again.status_code == 422 and list(again.json()) == ["adequacy_explanation"]
    # The list (rows) and the detail (serializer) agree.
    listed = evaluator_client.get("/api/configurations/?status=draft").json()["results"]
    assert [{name: item[name] for name in ASSESSED} for item in listed] == [ASSESSED]


def test_the_evidence_profile_counts_the_links(kb, anon_client):
    EvidenceLink.objects.create(excerpt=kb.q_jobs, configuration=kb.shc_control, stance="challenges", part="mechanism")
    EvidenceLink.objects.create(excerpt=kb.f_target, configuration=kb.shc_control, stance="illustrates", part="context")
    expected = {"links": 3, "supporting": 1, "challenging": 1, "illustrating": 1, "sources": 1, "teams": 2,
                "speaker_roles": 2, "participant_quotes": 2, "evaluator_findings": 1, "hypothesis": False}
    assert anon_client.get("/api/configurations/shc-control/").json()["evidence_profile"] == expected
    listed = {c["slug"]: c for c in anon_client.get("/api/configurations/").json()["results"]}
    assert listed["shc-control"]["evidence_profile"] == expected
    assert "evidence_profile" not in anon_client.get("/api/configurations/shc-control/?view=compact").json()
    assert evidence_profile([])["hypothesis"] is True


def test_filters_on_assessed_confidence_and_the_profile(kb, anon_client):
    kb.shc_fear.__dict__.update(ASSESSED)
    kb.shc_fear.save()
    EvidenceLink.objects.create(excerpt=kb.q_jobs, configuration=kb.shc_control, stance="challenges", part="mechanism")

    def slugs(query):
        response = anon_client.get(f"/api/configurations/?{query}")
        assert response.status_code == 200, response.content
        return sorted(item["slug"] for item in response.json()["results"])

    assert slugs("assessed_confidence=moderate") == ["shc-fear"]
    assert slugs("assessed_confidence=high") == []
    assert slugs("has_challenging=true") == ["shc-control"]
    assert slugs("has_challenging=false") == ["shc-fear"]
    assert slugs("min_sources=1") == ["shc-control", "shc-fear"]
    assert slugs("min_sources=2") == []
    assert slugs("min_sources=0") == ["shc-control", "shc-fear"]
    for query, field in (("min_sources=-1", "min_sources"), ("min_sources=many", "min_sources"),
                         ("assessed_confidence=certain", "assessed_confidence"), ("has_challenging=perhaps", "has_challenging")):
        response = anon_client.get(f"/api/configurations/?{query}")
        assert response.status_code == 400 and field in response.json(), (query, response.content)


def test_links_are_appraised_through_the_api(kb, evaluator_client):
    link = EvidenceLink.objects.get(configuration=kb.pathway_targets)
    url = f"/api/evidence-links/{link.pk}/"
    ok = evaluator_client.patch(url, {"relevance": "high", "rigour": "low", "appraisal_note": "One observer."},
                                format="json")
    assert ok.status_code == 200, ok.content
    link.refresh_from_db()
    assert (link.relevance, link.rigour, link.appraisal_note) == ("high", "low", "One observer.")
    bad = evaluator_client.patch(url, {"rigour": "excellent"}, format="json")
    assert bad.status_code == 400 and list(bad.json()) == ["rigour"]
    evidence = evaluator_client.get("/api/configurations/pathway-targets/").json()["evidence"]
    assert [(e["relevance"], e["rigour"], e["appraisal_note"]) for e in evidence] == [("high", "low", "One observer.")]


def test_the_workbench_form_names_the_broken_rule(kb, admin_client):
    from tests.curation.conftest import form_data  # the change form's values, as a browser sends them

    url = f"/admin/mechanisms/cmoconfiguration/{kb.pathway_targets.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update({"relevance": "serious", "relevance_explanation": ""})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "relevance_explanation" in response.context["adminform"].form.errors
    kb.pathway_targets.refresh_from_db()
    assert kb.pathway_targets.relevance == ""


def test_the_page_shows_the_profile_and_the_assessment(kb, client):
    page = client.get("/programmes/ctg/configurations/shc-fear/").content.decode()
    assert "1 link: 1 supporting, 0 challenging, 0 illustrating" in page
    assert "Confidence not yet assessed with GRADE-CERQual" in page
    kb.shc_fear.__dict__.update(ASSESSED)
    kb.shc_fear.save()
    page = client.get("/programmes/ctg/configurations/shc-fear/").content.decode()
    assert "<strong>moderate confidence</strong>" in page and "Two teams only." in page
    assert "Minor concerns" in page and "Moderate concerns" in page


def test_the_matrix_takes_the_confidence_and_profile_filters(kb, anon_client):
    kb.shc_fear.__dict__.update(ASSESSED)
    kb.shc_fear.save()
    EvidenceLink.objects.create(excerpt=kb.q_jobs, configuration=kb.shc_control, stance="challenges", part="mechanism")

    def cell(query):
        body = anon_client.get(f"/api/matrix/?rows=team&cols=mechanism&ids=true&{query}").json()
        return body["cells"][0][0]["slugs"]

    assert cell("assessed_confidence=moderate") == ["shc-fear"]
    assert cell("has_challenging=true") == ["shc-control"]
    assert cell("min_sources=1") == ["shc-control", "shc-fear"]
    assert anon_client.get("/api/matrix/?rows=team&cols=mechanism&min_sources=x").status_code == 400
