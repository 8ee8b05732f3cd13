"""The workbench's start page: an evaluator's own drafts, those returned to them first with the
comment that returned them; a lead's count of what awaits review."""

from mechanisms import workflow
from mechanisms.models import CMOConfiguration
from mechanisms.publish_lock import acting_as


def mine(kb, evaluator, slug, title):
    with acting_as(evaluator):
        return CMOConfiguration.objects.create(programme=kb.programme, slug=slug, title=title, created_by=evaluator,
                                               statement="In C, M leads to O.")


def test_the_evaluator_sees_own_drafts_and_what_was_returned(clients, kb, evaluator, lead):
    kb.pathway_targets.created_by = evaluator
    kb.pathway_targets.save()
    mine(kb, evaluator, "my-draft", "My draft")
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    workflow.return_to_draft(kb.pathway_targets, lead, comment="Add the ward's name.")
    response = clients["eva"].get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="own-work"' in html
    assert "Returned by leo" in html and "Add the ward&#x27;s name." in html
    rows = html.split('data-configuration="')[1:]
    assert [row.split('"')[0] for row in rows] == ["pathway-targets", "my-draft"]  # the returned one first
    # Resubmitted, it is no longer "returned"; back in draft without a new return, neither.
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    workflow.return_to_draft(kb.pathway_targets, evaluator)
    assert "Returned by" not in clients["eva"].get("/admin/").content.decode()


def test_the_lead_sees_how_many_await_review(clients, kb, evaluator):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    html = clients["leo"].get("/admin/").content.decode()
    assert "1 configuration in review in the programmes you lead" in html
    assert "configuration in review" not in clients["eva"].get("/admin/").content.decode()
    assert "in review in the programmes you lead" in clients["bob"].get("/admin/").content.decode()
    assert "0 configurations in review" in clients["bob"].get("/admin/").content.decode()


def test_nobody_else_sees_the_drafts(clients, kb, evaluator):
    mine(kb, evaluator, "my-draft", "My draft")
    for who in ("leo", "bea", "root"):
        assert "My draft" not in clients[who].get("/admin/").content.decode()
    assert clients["anonymous"].get("/admin/").status_code == 302


def test_the_start_page_costs_the_same_for_many_drafts(clients, kb, evaluator, django_assert_max_num_queries):
    mine(kb, evaluator, "one", "One")
    clients["eva"].get("/admin/")
    with django_assert_max_num_queries(12) as first:
        clients["eva"].get("/admin/")
    for i in range(5):
        mine(kb, evaluator, f"more-{i}", f"More {i}")
    with django_assert_max_num_queries(len(first)):
        assert "More 4" in clients["eva"].get("/admin/").content.decode()
