"""The review workflow as a service: who may move a configuration where, and the publication guard rails."""

import pytest
from django.contrib.auth.models import AnonymousUser

from cmo_kb.vocabulary import ReviewStatus
from mechanisms import workflow
from mechanisms.models import CMOConfiguration
from mechanisms.workflow import WorkflowError


def status_of(configuration):
    return CMOConfiguration.objects.values_list("status", flat=True).get(pk=configuration.pk)


def test_evaluator_submits_a_draft_and_history_records_who(kb, evaluator):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    assert status_of(kb.pathway_targets) == ReviewStatus.IN_REVIEW
    record = kb.pathway_targets.history.first()
    assert (record.history_user, record.history_change_reason, record.status) == (
        evaluator, "Submitted for review", "in_review"
    )
    kb.pathway_targets.refresh_from_db()
    assert kb.pathway_targets.updated_by == evaluator


def test_lead_publishes_a_complete_configuration_in_review(kb, evaluator, lead):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    workflow.publish(kb.pathway_targets, lead)
    assert status_of(kb.pathway_targets) == ReviewStatus.PUBLISHED
    assert kb.pathway_targets.history.first().history_user == lead


def test_evaluator_cannot_publish(kb, evaluator):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    with pytest.raises(WorkflowError) as refused:
        workflow.publish(kb.pathway_targets, evaluator)
    assert refused.value.problems == ["only lead evaluators of 'ctg' can publish"]
    assert status_of(kb.pathway_targets) == ReviewStatus.IN_REVIEW


def test_publishing_skips_no_step(kb, lead):
    with pytest.raises(WorkflowError) as refused:
        workflow.publish(kb.pathway_targets, lead)
    assert refused.value.problems == ["it is a draft; only configurations that are in review can be published"]
    assert str(refused.value) == (
        "Cannot publish 'Pathway targets': it is a draft; only configurations that are in review can be published."
    )
    assert status_of(kb.pathway_targets) == ReviewStatus.DRAFT


def test_submit_refused_lists_everything_publication_requires_and_changes_nothing(kb, evaluator):
    bare = CMOConfiguration.objects.create(programme=kb.programme, slug="bare", title="Bare", statement="In C, M leads to O.")
    history_before = bare.history.count()
    with pytest.raises(WorkflowError) as refused:
        workflow.submit_for_review(bare, evaluator)
    assert refused.value.problems == [
        "it has no mechanism", "it has no context", "it has no outcome", "it has no evidence link",
    ]
    assert str(refused.value) == (
        "Cannot submit for review 'Bare': it has no mechanism; it has no context; it has no outcome; "
        "it has no evidence link."
    )
    assert status_of(bare) == ReviewStatus.DRAFT
    assert bare.history.count() == history_before


def test_submit_refused_for_a_single_missing_part(kb, evaluator):
    kb.pathway_targets.outcomes.clear()
    with pytest.raises(WorkflowError) as refused:
        workflow.submit_for_review(kb.pathway_targets, evaluator)
    assert refused.value.problems == ["it has no outcome"]
    assert status_of(kb.pathway_targets) == ReviewStatus.DRAFT


def test_publish_refused_lists_everything_missing_and_changes_nothing(kb, evaluator, lead):
    # In review from before the submission gate (or an import): publishing still checks for itself.
    bare = CMOConfiguration.objects.create(programme=kb.programme, slug="bare", title="Bare", statement="In C, M leads to O.",
                                           status=ReviewStatus.IN_REVIEW)
    history_before = bare.history.count()
    with pytest.raises(WorkflowError) as refused:
        workflow.publish(bare, lead)
    assert refused.value.problems == [
        "it has no mechanism", "it has no context", "it has no outcome", "it has no evidence link",
    ]
    assert status_of(bare) == ReviewStatus.IN_REVIEW
    assert bare.history.count() == history_before


def test_publish_refused_for_a_single_missing_part(kb, evaluator, lead):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    kb.pathway_targets.evidence_links.all().delete()  # taken apart while in review
    with pytest.raises(WorkflowError) as refused:
        workflow.publish(kb.pathway_targets, lead)
    assert refused.value.problems == ["it has no evidence link"]


def test_return_to_draft_from_review_by_evaluator_and_unpublish_by_lead_only(kb, evaluator, lead):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    workflow.return_to_draft(kb.pathway_targets, evaluator)
    assert status_of(kb.pathway_targets) == ReviewStatus.DRAFT

    with pytest.raises(WorkflowError) as refused:
        workflow.return_to_draft(kb.shc_control, evaluator)
    assert refused.value.problems == ["only lead evaluators of 'ctg' can unpublish"]
    assert status_of(kb.shc_control) == ReviewStatus.PUBLISHED

    workflow.unpublish(kb.shc_control, lead)
    assert status_of(kb.shc_control) == ReviewStatus.DRAFT


def test_a_draft_cannot_go_back_to_draft_or_be_resubmitted_twice(kb, evaluator):
    with pytest.raises(WorkflowError) as refused:
        workflow.return_to_draft(kb.pathway_targets, evaluator)
    assert refused.value.problems == [
        "it is a draft; only configurations that are in review or published can be returned to draft"
    ]
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    with pytest.raises(WorkflowError):
        workflow.submit_for_review(kb.pathway_targets, evaluator)


@pytest.mark.parametrize("who", ["analyst", "anonymous"])
def test_analysts_and_anonymous_users_move_nothing(kb, analyst, who):
    user = analyst if who == "analyst" else AnonymousUser()
    for action in workflow.ACTIONS.values():
        with pytest.raises(WorkflowError) as refused:
            action(kb.pathway_targets, user)
        assert refused.value.problems == ["you do not have permission to change CMO configurations"]
    assert status_of(kb.pathway_targets) == ReviewStatus.DRAFT


def test_allowed_actions_per_role_and_status(kb, evaluator, lead, analyst):
    assert workflow.allowed_actions(kb.pathway_targets, evaluator) == ["submit_for_review"]
    assert workflow.allowed_actions(kb.shc_control, evaluator) == []
    assert workflow.allowed_actions(kb.shc_control, lead) == ["return_to_draft"]
    assert workflow.allowed_actions(kb.pathway_targets, analyst) == []
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    assert workflow.allowed_actions(kb.pathway_targets, evaluator) == ["return_to_draft"]
    assert workflow.allowed_actions(kb.pathway_targets, lead) == ["publish", "return_to_draft"]


def test_apply_to_many_reports_each_failure_and_keeps_the_successes(kb, evaluator, lead):
    bare = CMOConfiguration.objects.create(programme=kb.programme, slug="bare", title="Bare", statement="In C, M leads to O.")
    submitted = workflow.apply_to_many("submit_for_review", [bare, kb.pathway_targets], evaluator)
    assert [c.slug for c in submitted.done] == ["pathway-targets"]
    assert [(c.slug, problems) for c, problems in submitted.failed] == [
        ("bare", ["it has no mechanism", "it has no context", "it has no outcome", "it has no evidence link"]),
    ]
    result = workflow.apply_to_many("publish", [bare, kb.pathway_targets, kb.shc_control], lead)
    assert [c.slug for c in result.done] == ["pathway-targets"]
    assert [(c.slug, problems) for c, problems in result.failed] == [
        ("bare", ["it is a draft; only configurations that are in review can be published"]),
        ("shc-control", ["it is published; only configurations that are in review can be published"]),
    ]
    assert status_of(bare) == ReviewStatus.DRAFT
