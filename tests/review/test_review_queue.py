"""The review queue (/admin/mechanisms/cmoconfiguration/review/): per role and programme, what is in
review, since when, by whom, what is missing; leads publish or return with a comment."""

import pytest

from cmo_kb.vocabulary import ReviewStatus
from mechanisms import workflow
from mechanisms.comments import ConfigurationComment
from mechanisms.models import CMOConfiguration

QUEUE = "/admin/mechanisms/cmoconfiguration/review/"


def status_of(configuration):
    return CMOConfiguration.objects.values_list("status", flat=True).get(pk=configuration.pk)


@pytest.fixture
def submitted(kb, evaluator):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    return kb.pathway_targets


def queue_rows(response):
    return [(r.slug, r.programme.slug, r.submitted_by_name, r.problems, r.leads_here) for r in response.context["rows"]]


@pytest.mark.parametrize("who, expected", [("anonymous", 302), ("ana", 403)])
def test_anonymous_and_analysts_do_not_see_the_queue(clients, submitted, who, expected):
    response = clients[who].get(QUEUE)
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/admin/login/")


def test_the_lead_sees_what_is_in_review_since_when_by_whom_and_what_is_missing(clients, submitted, kb):
    record = submitted.history.filter(history_change_reason=workflow.SUBMITTED).get()
    kb.pathway_targets.evidence_links.all().delete()  # taken apart in review: the queue says so
    response = clients["leo"].get(QUEUE)
    assert response.status_code == 200
    assert queue_rows(response) == [("pathway-targets", "ctg", "eva", ["it has no evidence link"], True)]
    assert response.context["rows"][0].submitted_at == record.history_date
    assert [(p.slug, count) for p, count in response.context["programmes"]] == [("ctg", 1)]
    html = response.content.decode()
    assert "it has no evidence link" in html and 'class="button review-publish" disabled' in html


def test_the_evaluator_sees_the_queue_read_only(clients, submitted):
    response = clients["eva"].get(QUEUE)
    assert queue_rows(response) == [("pathway-targets", "ctg", "eva", [], False)]
    assert "review-publish" not in response.content.decode()
    response = clients["eva"].post(QUEUE, {"configuration": submitted.pk, "action": "publish"})
    assert response.status_code == 403
    assert status_of(submitted) == ReviewStatus.IN_REVIEW


@pytest.mark.parametrize("who", ["bea", "bob"])
def test_members_of_another_programme_see_only_theirs(clients, submitted, who):
    response = clients[who].get(QUEUE)
    assert response.status_code == 200
    assert queue_rows(response) == []
    assert [p.slug for p, _ in response.context["programmes"]] == ["elsewhere"]
    assert clients[who].get(QUEUE + "?programme=ctg").status_code == 404
    response = clients[who].post(QUEUE, {"configuration": submitted.pk, "action": "publish"})
    assert response.status_code == (403 if who == "bea" else 404)  # bob leads elsewhere: ctg's draft is not his to see
    assert status_of(submitted) == ReviewStatus.IN_REVIEW


def test_the_superuser_sees_every_programme(clients, submitted, elsewhere):
    response = clients["root"].get(QUEUE)
    assert [p.slug for p, _ in response.context["programmes"]] == ["ctg", "elsewhere"]
    assert queue_rows(response) == [("pathway-targets", "ctg", "eva", [], True)]
    assert queue_rows(clients["root"].get(QUEUE + "?programme=elsewhere")) == []


def test_the_lead_publishes_from_the_queue(clients, submitted, lead):
    response = clients["leo"].post(QUEUE, {"configuration": submitted.pk, "action": "publish", "programme": "ctg"})
    assert response.status_code == 302 and response["Location"] == QUEUE + "?programme=ctg"
    assert status_of(submitted) == ReviewStatus.PUBLISHED
    assert submitted.history.first().history_user == lead


def test_the_lead_returns_to_draft_with_a_comment_written_with_the_step(clients, submitted, lead):
    response = clients["leo"].post(QUEUE, {"configuration": submitted.pk, "action": "return_to_draft",
                                           "comment": "  Name the ward in the context.  "}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "“Pathway targets” is now draft. Its author sees your comment."
    ]
    assert status_of(submitted) == ReviewStatus.DRAFT
    comment = ConfigurationComment.objects.get()
    assert (comment.configuration, comment.author, comment.kind, comment.body) == (
        submitted, lead, "return", "Name the ward in the context.")
    assert comment.history.get().history_type == "+"


def test_a_return_without_a_comment_is_refused_and_changes_nothing(clients, submitted):
    response = clients["leo"].post(QUEUE, {"configuration": submitted.pk, "action": "return_to_draft",
                                           "comment": "   "}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "“Pathway targets” was not returned to draft: say in a comment what the author should change."
    ]
    assert status_of(submitted) == ReviewStatus.IN_REVIEW
    assert not ConfigurationComment.objects.exists()


def test_bad_input_is_named(clients, submitted):
    assert clients["leo"].post(QUEUE, {"configuration": submitted.pk, "action": "delete"}).status_code == 404
    assert clients["leo"].post(QUEUE, {"configuration": "nope", "action": "publish"}).status_code == 404
    assert clients["leo"].post(QUEUE, {"action": "publish"}).status_code == 404
    assert clients["leo"].get(QUEUE + "?programme=no-such").status_code == 404
    assert clients["leo"].put(QUEUE).status_code == 405


def test_the_queue_costs_the_same_for_one_row_or_many(clients, kb, evaluator, django_assert_max_num_queries):
    from evidence.models import EvidenceLink

    def grow(n):
        for i in range(n):
            c = CMOConfiguration.objects.create(programme=kb.programme, slug=f"grown-{i}-{n}", title=f"Grown {i}",
                                                mechanism=kb.patient_beliefs, statement="In C, M leads to O.")
            c.contexts.set([kb.resigned])
            c.outcomes.set([kb.self_care])
            EvidenceLink.objects.create(excerpt=kb.q_control, configuration=c, part="outcome")
            workflow.submit_for_review(c, evaluator)

    grow(1)
    # Expect 8 queries:
    # * session  * user  * user permissions  * group permissions  * the user's programmes
    # * the rows (when and by whom submitted, what publication needs: subqueries)  * counts per programme
    # * the user's memberships (who leads where, for the buttons)
    with django_assert_max_num_queries(8):
        assert len(clients["leo"].get(QUEUE).context["rows"]) == 1
    grow(5)
    with django_assert_max_num_queries(8):
        assert len(clients["leo"].get(QUEUE).context["rows"]) == 6


def test_the_changelist_links_to_the_queue(clients):
    assert 'href="/admin/mechanisms/cmoconfiguration/review/"' in clients["eva"].get(
        "/admin/mechanisms/cmoconfiguration/").content.decode()
