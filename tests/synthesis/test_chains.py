"""Chains of configurations (issue 14): the outcome of one is the context of the next. Cycles and
links across programmes are refused on every path (the model, the API, the workbench); a link is
shown only where both its ends may be seen; the publish lock covers links of published ones."""

import pytest
from django.core.exceptions import ValidationError

from cmo_kb.vocabulary import ReviewStatus
from mechanisms.chains import ConfigurationChain, path_between
from mechanisms.models import CMOConfiguration


def _draft(kb, slug):
    return CMOConfiguration.objects.create(programme=kb.programme, slug=slug, title=slug.replace("-", " ").capitalize(),
                                           statement=f"{slug} statement", status=ReviewStatus.DRAFT)


def test_a_cycle_is_refused_naming_it(kb):
    a, b, c = kb.shc_control, kb.shc_fear, kb.pathway_targets
    ConfigurationChain.objects.create(from_configuration=a, to_configuration=b)
    ConfigurationChain.objects.create(from_configuration=b, to_configuration=c)
    assert path_between(a.pk, c.pk) == [a.pk, b.pk, c.pk]
    with pytest.raises(ValidationError) as refused:
        ConfigurationChain.objects.create(from_configuration=c, to_configuration=a)
    assert refused.value.message_dict["to_configuration"] == [
        "This link would close a cycle: pathway-targets → shc-control → shc-fear → pathway-targets. A chain runs one way."]
    with pytest.raises(ValidationError, match="cannot lead to itself"):
        ConfigurationChain.objects.create(from_configuration=a, to_configuration=a)
    assert ConfigurationChain.objects.count() == 2


def test_links_and_their_evidence_stay_in_one_programme(kb):
    from projects.models import Programme

    other = Programme.objects.create(slug="elsewhere", name="Elsewhere", is_public=True)
    stranger = CMOConfiguration.objects.create(programme=other, slug="stranger", title="Stranger", statement="s")
    with pytest.raises(ValidationError, match="another programme"):
        ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=stranger)
    link = ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear)
    link.evidence.add(kb.q_control)
    from evidence.models import EvidenceExcerpt, Source

    source = Source.objects.create(slug="elsewhere-report", kind=kb.source.kind, programme=other, title="R", full_text="Far away.")
    far = EvidenceExcerpt.objects.create(slug="far", source=source, text="Far", start=0, end=3)
    from django.db import transaction

    with pytest.raises(ValidationError, match="another programme than 'ctg': far"), transaction.atomic():
        link.evidence.add(far)  # (m2m add runs in Django's atomic(savepoint=False): give it one)
    assert list(link.evidence.values_list("slug", flat=True)) == [kb.q_control.slug]


def test_the_api_writes_links_between_drafts_and_refuses_cycles(kb, evaluator_client):
    first, second = _draft(kb, "draft-one"), _draft(kb, "draft-two")
    response = evaluator_client.post("/api/chains/", {"from_configuration": "draft-one", "to_configuration": "draft-two",
                                                       "note": "Confidence leads to uptake", "evidence": [kb.q_control.slug]},
                                     content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["from_configuration"], body["to_configuration"], body["programme"], body["evidence"]) == (
        "draft-one", "draft-two", "ctg", [kb.q_control.slug])
    assert body["created_by"] == "eva"
    cycle = evaluator_client.post("/api/chains/", {"from_configuration": "draft-two", "to_configuration": "draft-one"},
                                  content_type="application/json")
    assert cycle.status_code == 422
    assert "would close a cycle: draft-two → draft-one → draft-two" in cycle.json()["to_configuration"][0]
    again = evaluator_client.post("/api/chains/", {"from_configuration": "draft-one", "to_configuration": "draft-two"},
                                  content_type="application/json")
    assert again.status_code == 409
    assert evaluator_client.get("/api/configurations/draft-one/").json()["leads_to"] == ["draft-two"]
    assert evaluator_client.get("/api/configurations/draft-two/").json()["follows"] == ["draft-one"]
    listed = {row["slug"]: row for row in evaluator_client.get("/api/configurations/").json()["results"]}
    assert (listed["draft-one"]["leads_to"], listed["draft-two"]["follows"]) == (["draft-two"], ["draft-one"])
    assert ConfigurationChain.objects.get().history.latest().history_user.username == "eva"


def test_links_to_drafts_stay_hidden_from_the_public(kb, anon_client):
    ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.pathway_targets)
    ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear)
    rows = anon_client.get("/api/chains/").json()["results"]
    assert [(r["from_configuration"], r["to_configuration"]) for r in rows] == [("shc-control", "shc-fear")]
    assert anon_client.get("/api/configurations/shc-control/").json()["leads_to"] == ["shc-fear"]
    assert anon_client.get("/api/chains/?to_configuration=pathway-targets").status_code == 400


def test_the_publish_lock_covers_links_of_published_configurations(kb, evaluator_client, lead_client):
    body = {"from_configuration": "shc-control", "to_configuration": "shc-fear"}
    refused = evaluator_client.post("/api/chains/", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["configurations"] == ["shc-control", "shc-fear"]
    assert not ConfigurationChain.objects.exists()
    assert lead_client.post("/api/chains/", body, content_type="application/json").status_code == 201


def test_the_page_shows_the_chain_both_ways(kb, client):
    link = ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear,
                                             note="Control breeds confidence")
    link.evidence.add(kb.q_control)
    page = client.get("/programmes/ctg/configurations/shc-fear/").content.decode()
    assert "Leads here" in page and "Control breeds confidence" in page and kb.q_control.text[:40] in page
    downstream = client.get("/programmes/ctg/configurations/shc-control/").content.decode()
    assert "Leads on to" in downstream and "/programmes/ctg/configurations/shc-fear/" in downstream
    # A draft at the other end is not shown.
    ConfigurationChain.objects.create(from_configuration=kb.shc_fear, to_configuration=kb.pathway_targets)
    assert "pathway-targets" not in client.get("/programmes/ctg/configurations/shc-fear/").content.decode()


def test_the_workbench_refuses_a_cycle_as_a_form_error(kb, admin_client):
    ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear)
    response = admin_client.post("/admin/mechanisms/configurationchain/add/", {
        "from_configuration": kb.shc_fear.pk, "to_configuration": kb.shc_control.pk, "note": ""})
    assert response.status_code == 200
    assert "would close a cycle: shc-fear → shc-control → shc-fear" in response.content.decode()
    assert ConfigurationChain.objects.count() == 1
