"""Comments on a configuration: threaded, attributed, in history, for its programme's evaluators and
leads only; and the change page's workflow buttons, which save the form before they move it."""

import pytest
from django.core.exceptions import ValidationError

from cmo_kb.vocabulary import ReviewStatus
from mechanisms import workflow
from mechanisms.comments import ConfigurationComment
from mechanisms.models import CMOConfiguration
from projects.membership import ProgrammeWriteRefused
from tests.curation.conftest import form_data


def change_url(configuration):
    return f"/admin/mechanisms/cmoconfiguration/{configuration.pk}/change/"


def comment_url(configuration):
    return f"/admin/mechanisms/cmoconfiguration/{configuration.pk}/comments/"


def test_an_evaluator_comments_and_a_lead_replies_in_a_thread(clients, kb, evaluator, lead):
    response = clients["eva"].post(comment_url(kb.shc_control), {"body": "Is the context the ward or the unit?"})
    first = ConfigurationComment.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(kb.shc_control) + f"#comment-{first.pk}"
    clients["leo"].post(comment_url(kb.shc_control), {"body": "The unit.", "parent": first.pk})
    clients["eva"].post(comment_url(kb.shc_control), {"body": "Then it is fine as it is."})
    page = clients["eva"].get(change_url(kb.shc_control))
    assert [(c.author.username, c.body, depth) for c, depth in page.context["comments"]] == [
        ("eva", "Is the context the ward or the unit?", 0), ("leo", "The unit.", 1), ("eva", "Then it is fine as it is.", 0),
    ]
    html = page.content.decode()
    assert 'id="comments"' in html and "The unit." in html
    reply = ConfigurationComment.objects.get(body="The unit.")
    assert (reply.parent, reply.author, reply.kind) == (first, lead, "comment")
    assert reply.history.get().history_user == lead


@pytest.mark.parametrize("who, status", [("anonymous", 302), ("ana", 403), ("bea", 404), ("bob", 404)])
def test_those_outside_the_programme_neither_read_nor_write_comments(clients, kb, evaluator, who, status):
    ConfigurationComment.objects.create(configuration=kb.pathway_targets, author=evaluator, body="A working note")
    assert clients[who].post(comment_url(kb.pathway_targets), {"body": "Let me in"}).status_code == status
    assert ConfigurationComment.objects.count() == 1


def test_an_evaluator_of_another_programme_sees_no_comment_on_a_published_configuration(clients, kb, evaluator):
    ConfigurationComment.objects.create(configuration=kb.shc_control, author=evaluator, body="A working note")
    page = clients["bea"].get(change_url(kb.shc_control))  # ctg is public: its published rows are readable
    assert page.status_code == 200
    assert page.context["comments"] is None and "A working note" not in page.content.decode()
    assert clients["bea"].post(comment_url(kb.shc_control), {"body": "Hello"}).status_code == 403


def test_comments_appear_on_no_public_page_nor_in_the_api(clients, kb, evaluator, anon_client, analyst_client):
    ConfigurationComment.objects.create(configuration=kb.shc_control, author=evaluator, body="Secret working note")
    for client, url in ((clients["anonymous"], "/programmes/ctg/configurations/shc-control/"),
                        (anon_client, "/api/configurations/shc-control/"),
                        (analyst_client, "/api/configurations/shc-control/")):
        response = client.get(url)
        assert response.status_code == 200
        assert "Secret working note" not in response.content.decode()


def test_bad_comments_are_refused_naming_why(clients, kb, evaluator):
    other = ConfigurationComment.objects.create(configuration=kb.shc_fear, author=evaluator, body="Elsewhere")
    response = clients["eva"].post(comment_url(kb.shc_control), {"body": "  "}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Your comment was not added: it is empty."]
    response = clients["eva"].post(comment_url(kb.shc_control), {"body": "Hi", "parent": other.pk}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"Your comment was not added: the comment it answers ('{other.pk}') is not one of this configuration's."
    ]
    response = clients["eva"].post(comment_url(kb.shc_control), {"body": "x" * 10_001}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Your comment was not added: it is longer than 10000 characters (10001)."
    ]
    assert clients["eva"].get(comment_url(kb.shc_control)).status_code == 405
    assert clients["eva"].post("/admin/mechanisms/cmoconfiguration/999999/comments/", {"body": "Hi"}).status_code == 404
    assert ConfigurationComment.objects.count() == 1


def test_the_model_keeps_its_rules_on_every_path(kb, evaluator, analyst):
    from mechanisms.publish_lock import acting_as

    first = ConfigurationComment.objects.create(configuration=kb.shc_fear, author=evaluator, body="First")
    with pytest.raises(ValidationError) as refused:
        ConfigurationComment.objects.create(configuration=kb.shc_control, author=evaluator, body="Hi", parent=first)
    assert refused.value.message_dict == {"parent": ["A reply answers a comment on the same configuration."]}
    with pytest.raises(ValidationError):
        ConfigurationComment.objects.create(configuration=kb.shc_control, author=evaluator, body="   ")
    with acting_as(analyst), pytest.raises(ProgrammeWriteRefused):
        ConfigurationComment.objects.create(configuration=kb.shc_control, author=analyst, body="An analyst's")
    assert ConfigurationComment.objects.count() == 1


# --- the change page's workflow buttons save the form first


def test_submit_from_the_change_form_saves_the_edits_then_submits(clients, kb):
    page = clients["eva"].get(change_url(kb.pathway_targets))
    html = page.content.decode()
    assert 'name="_workflow" value="submit_for_review"' in html
    data = {**form_data(page), "title": "Targets, renamed before submitting", "_workflow": "submit_for_review"}
    response = clients["eva"].post(change_url(kb.pathway_targets), data, follow=True)
    assert [str(m) for m in response.context["messages"]][-1] == (
        "Your changes were saved, and “Targets, renamed before submitting” is now in review."
    )
    kb.pathway_targets.refresh_from_db()
    assert (kb.pathway_targets.title, kb.pathway_targets.status) == ("Targets, renamed before submitting", "in_review")


def test_a_refused_submit_from_the_form_still_keeps_the_edits(clients, kb):
    kb.pathway_targets.outcomes.clear()
    page = clients["eva"].get(change_url(kb.pathway_targets))
    data = {**form_data(page), "statement": "A better statement.", "_workflow": "submit_for_review"}
    response = clients["eva"].post(change_url(kb.pathway_targets), data, follow=True)
    assert [str(m) for m in response.context["messages"]][-1] == (
        "Your changes were saved. “Pathway targets” was not submitted for review: it has no outcome."
    )
    kb.pathway_targets.refresh_from_db()
    assert (kb.pathway_targets.statement, kb.pathway_targets.status) == ("A better statement.", ReviewStatus.DRAFT)


def test_an_invalid_form_moves_nothing_and_shows_the_edits_again(clients, kb):
    page = clients["eva"].get(change_url(kb.pathway_targets))
    data = {**form_data(page), "title": "", "statement": "Kept in the form", "_workflow": "submit_for_review"}
    response = clients["eva"].post(change_url(kb.pathway_targets), data)
    assert response.status_code == 200 and "title" in response.context["adminform"].form.errors
    assert "Kept in the form" in response.content.decode()
    assert CMOConfiguration.objects.get(pk=kb.pathway_targets.pk).status == ReviewStatus.DRAFT


def test_the_lead_publishes_from_the_form(clients, kb, evaluator):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    page = clients["leo"].get(change_url(kb.pathway_targets))
    data = {**form_data(page), "notes": "Checked against the report.", "_workflow": "publish"}
    clients["leo"].post(change_url(kb.pathway_targets), data)
    kb.pathway_targets.refresh_from_db()
    assert (kb.pathway_targets.notes, kb.pathway_targets.status) == ("Checked against the report.", "published")


def test_the_evaluator_cannot_publish_through_the_form_either(clients, kb, evaluator):
    workflow.submit_for_review(kb.pathway_targets, evaluator)
    page = clients["eva"].get(change_url(kb.pathway_targets))
    response = clients["eva"].post(change_url(kb.pathway_targets), {**form_data(page), "_workflow": "publish"}, follow=True)
    assert [str(m) for m in response.context["messages"]][-1] == (
        "Your changes were saved. “Pathway targets” was not published: only lead evaluators of 'ctg' can publish."
    )
    assert CMOConfiguration.objects.get(pk=kb.pathway_targets.pk).status == ReviewStatus.IN_REVIEW
