"""History: who changed what and when, with field diffs; an earlier version can be restored."""

from django.urls import reverse

from cmo_kb.vocabulary import ReviewStatus
from mechanisms import workflow

from .conftest import form_data
from .test_permissions import change_url


def test_an_edit_is_recorded_with_its_user_and_shown_as_a_diff(kb, eva_client, evaluator):
    data = form_data(eva_client.get(change_url(kb.pathway_targets)))
    data["title"] = "Targets open doors"
    assert eva_client.post(change_url(kb.pathway_targets), data).status_code == 302
    record = kb.pathway_targets.history.first()
    assert (record.history_user, record.history_type, record.title) == (evaluator, "~", "Targets open doors")

    response = eva_client.get(reverse("admin:mechanisms_cmoconfiguration_history", args=[kb.pathway_targets.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "eva" in page
    changes = response.context["page_obj"].object_list[0].history_delta_changes
    assert {"field": "Title", "old": "Pathway targets", "new": "Targets open doors"} in changes


def test_revert_restores_an_earlier_version_and_records_who(kb, eva_client, leo_client, lead):
    original = kb.pathway_targets.history.earliest()
    data = form_data(eva_client.get(change_url(kb.pathway_targets)))
    data.update(title="A worse title", statement="Something else entirely.")
    eva_client.post(change_url(kb.pathway_targets), data)

    revert_url = reverse("admin:mechanisms_cmoconfiguration_simple_history",
                         args=[kb.pathway_targets.pk, original.history_id])
    response = leo_client.get(revert_url)
    assert response.status_code == 200
    assert "button below to revert to this version of the object." in response.content.decode()
    response = leo_client.post(revert_url, form_data(response) | {"_save": "Revert"})
    assert response.status_code == 302
    kb.pathway_targets.refresh_from_db()
    assert (kb.pathway_targets.title, kb.pathway_targets.statement) == (
        "Pathway targets", "In C, M leads to O (pathway-targets)."
    )
    assert kb.pathway_targets.history.first().history_user == lead


def test_reverting_to_a_published_version_does_not_publish(kb, evaluator, lead, eva_client):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    workflow.publish(kb.pathway_targets, lead)
    published_version = kb.pathway_targets.history.first()
    workflow.return_to_draft(kb.pathway_targets, lead)
    revert_url = reverse("admin:mechanisms_cmoconfiguration_simple_history",
                         args=[kb.pathway_targets.pk, published_version.history_id])
    response = eva_client.get(revert_url)
    response = eva_client.post(revert_url, form_data(response) | {"_save": "Revert"})
    assert response.status_code == 302
    kb.pathway_targets.refresh_from_db()
    assert kb.pathway_targets.status == ReviewStatus.DRAFT


def test_excerpt_history_records_the_user(kb, eva_client, evaluator):
    # f-target: cited by a draft only (an excerpt a published configuration cites is a lead's to change)
    url = reverse("admin:evidence_evidenceexcerpt_change", args=[kb.f_target.pk])
    data = form_data(eva_client.get(url))
    data["attribution"] = "(Pathway, evaluators)"
    assert eva_client.post(url, data).status_code == 302
    record = kb.f_target.history.first()
    assert (record.history_user, record.attribution) == (evaluator, "(Pathway, evaluators)")
    kb.f_target.refresh_from_db()
    assert kb.f_target.updated_by == evaluator


def test_revert_restores_many_to_many_relations_as_they_were(kb, eva_client, leo_client):
    original = kb.shc_fear.history.earliest()
    assert list(original.contexts.values_list("context", flat=True)) == []  # created before contexts were set
    version = kb.shc_fear.history.first()
    assert list(version.quality_domains.values_list("qualitydomain", flat=True)) == [kb.safety.pk, kb.person.pk]
    data = form_data(leo_client.get(change_url(kb.shc_fear)))
    data["quality_domains"] = [str(kb.safety.pk)]
    assert leo_client.post(change_url(kb.shc_fear), data).status_code == 302
    assert list(kb.shc_fear.quality_domains.values_list("pk", flat=True)) == [kb.safety.pk]

    revert_url = reverse("admin:mechanisms_cmoconfiguration_simple_history", args=[kb.shc_fear.pk, version.history_id])
    response = leo_client.get(revert_url)
    assert response.status_code == 200
    response = leo_client.post(revert_url, form_data(response) | {"_save": "Revert"})
    assert response.status_code == 302
    assert sorted(kb.shc_fear.quality_domains.values_list("pk", flat=True)) == sorted([kb.safety.pk, kb.person.pk])
