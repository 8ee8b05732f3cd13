"""A configuration goes into review only with what publication requires, on every path: the change
page's button, the bulk action, the API (the workflow service: tests/curation/test_workflow.py)."""

from cmo_kb.vocabulary import ReviewStatus
from mechanisms.models import CMOConfiguration

CHANGELIST = "/admin/mechanisms/cmoconfiguration/"


def status_of(configuration):
    return CMOConfiguration.objects.values_list("status", flat=True).get(pk=configuration.pk)


def bare(kb, eva):
    from mechanisms.publish_lock import acting_as

    with acting_as(eva):
        return CMOConfiguration.objects.create(programme=kb.programme, slug="bare", title="Bare", created_by=eva,
                                               statement="In C, M leads to O.")


def test_the_workflow_url_refuses_an_empty_configuration_naming_what_it_lacks(kb, clients, evaluator):
    empty = bare(kb, evaluator)
    response = clients["eva"].post(f"{CHANGELIST}{empty.pk}/workflow/submit_for_review/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "“Bare” was not submitted for review: it has no mechanism; it has no context; it has no outcome; "
        "it has no evidence link."
    ]
    assert status_of(empty) == ReviewStatus.DRAFT


def test_the_bulk_action_refuses_it_and_submits_the_complete_one(kb, clients, evaluator):
    empty = bare(kb, evaluator)
    response = clients["eva"].post(CHANGELIST, {"action": "submit_for_review_action",
                                                "_selected_action": [empty.pk, kb.pathway_targets.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "1 configuration(s) submitted for review: Pathway targets.",
        "1 configuration(s) not submitted for review:<ul><li>Bare: it has no mechanism; it has no context; "
        "it has no outcome; it has no evidence link.</li></ul>",
    ]
    assert (status_of(empty), status_of(kb.pathway_targets)) == (ReviewStatus.DRAFT, ReviewStatus.IN_REVIEW)


def test_the_api_refuses_it_on_create_and_on_update(kb, evaluator_client):
    response = evaluator_client.post("/api/configurations/", {
        "slug": "bare-api", "title": "Bare", "statement": "In C, M leads to O.", "mechanism": "patient-beliefs",
        "status": "in_review",
    }, format="json")
    assert response.status_code == 422
    assert response.json() == {"status": [
        "Cannot submit for review 'Bare': it has no context; it has no outcome; it has no evidence link."
    ]}
    assert not CMOConfiguration.objects.filter(slug="bare-api").exists()  # nothing of the request was written
    kb.pathway_targets.evidence_links.all().delete()
    response = evaluator_client.patch("/api/configurations/pathway-targets/", {"status": "in_review"}, format="json")
    assert response.status_code == 422
    assert response.json() == {"status": ["Cannot submit for review 'Pathway targets': it has no evidence link."]}
    assert status_of(kb.pathway_targets) == ReviewStatus.DRAFT
