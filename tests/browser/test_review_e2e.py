"""End to end in a real Chromium: an evaluator edits and submits a configuration (the button saves
the edit first), the lead finds it in the review queue and returns it with a comment, the evaluator
sees it returned on the start page and the comment on the configuration, and replies."""

import os

import pytest

from tests.browser.workbench import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"review-{name}.png"), full_page=True)


def test_submit_queue_return_with_comment_and_see_it(live_server, page, browser, artifacts_dir, kb, evaluator, lead):
    from cmo_kb.vocabulary import ReviewStatus
    from mechanisms.comments import ConfigurationComment
    from mechanisms.models import CMOConfiguration

    configuration = kb.pathway_targets
    CMOConfiguration.objects.filter(pk=configuration.pk).update(created_by=evaluator)
    change_url = f"{live_server.url}/admin/mechanisms/cmoconfiguration/{configuration.pk}/change/"

    # --- the evaluator edits the title and submits without saving first: the edit is kept
    log_in(page, live_server, "eva")
    page.goto(change_url)
    page.fill("#id_title", "Targets in A&E, renamed")
    page.click("button.review-submit_for_review")
    page.wait_for_selector(".messagelist .success")
    assert page.text_content(".messagelist .success").strip() == (
        "Your changes were saved, and “Targets in A&E, renamed” is now in review."
    )
    assert page.text_content("[data-testid=review-status]") == "In review"
    configuration.refresh_from_db()
    assert (configuration.title, configuration.status) == ("Targets in A&E, renamed", ReviewStatus.IN_REVIEW)
    shot(page, artifacts_dir, "1-submitted")

    # --- the lead finds it in the queue from the start page and returns it with a comment
    lead_context = browser.new_context(viewport={"width": 1280, "height": 900})
    lead_page = lead_context.new_page()
    lead_page.set_default_timeout(15000)
    log_in(lead_page, live_server, "leo")
    assert "1 configuration in review" in lead_page.text_content(".awaiting-review")
    lead_page.click(".awaiting-review a")
    lead_page.wait_for_selector("#review-queue")
    row = lead_page.locator("tr[data-configuration=pathway-targets]")
    assert row.locator("td").nth(0).inner_text() == "Targets in A&E, renamed"
    assert row.locator(".submitted-by").inner_text() == "eva"
    assert row.locator(".missing").inner_text() == "Nothing: ready to publish"
    assert lead_page.locator("[data-programme=ctg]").inner_text() == "Closing the Gap (1)"
    shot(lead_page, artifacts_dir, "2-queue")
    row.locator("summary", has_text="Return to draft").click()
    row.locator("textarea[name=comment]").fill("Name the hospital in the context, please.")
    row.locator("button.review-return_to_draft").click()
    lead_page.wait_for_selector(".messagelist .success")
    assert lead_page.text_content(".messagelist .success").strip() == (
        "“Targets in A&E, renamed” is now draft. Its author sees your comment."
    )
    assert lead_page.text_content(".review-empty").strip() == "Nothing awaits review."
    shot(lead_page, artifacts_dir, "3-returned")
    lead_context.close()
    configuration.refresh_from_db()
    assert configuration.status == ReviewStatus.DRAFT

    # --- the evaluator sees it returned on the start page, and the comment on the configuration
    page.goto(f"{live_server.url}/admin/")
    returned = page.locator("#own-work tr[data-configuration=pathway-targets]")
    assert returned.locator(".returned").inner_text() == "Returned by leo"
    assert returned.locator(".return-comment").inner_text() == "Name the hospital in the context, please."
    shot(page, artifacts_dir, "4-start-page")
    returned.locator("a").click()
    page.wait_for_selector("#comments")
    comment = page.locator("li.comment-return")
    assert comment.locator(".comment-author").inner_text() == "leo"
    assert comment.locator(".comment-kind").inner_text() == "returned it to draft"
    assert comment.locator(".comment-body").inner_text() == "Name the hospital in the context, please."

    # --- and replies in the thread
    comment.locator("summary", has_text="Reply").click()
    comment.locator("textarea[name=body]").fill("Done: the Royal Infirmary.")
    comment.locator("button", has_text="Reply").click()
    page.wait_for_selector(".messagelist .success")
    reply = page.locator("li.comment-depth-1")
    assert reply.locator(".comment-author").inner_text() == "eva"
    assert reply.locator(".comment-body").inner_text() == "Done: the Royal Infirmary."
    shot(page, artifacts_dir, "5-reply")
    assert list(ConfigurationComment.objects.order_by("pk").values_list("author__username", "kind", "parent__author__username")) == [
        ("leo", "return", None), ("eva", "comment", "leo"),
    ]


def test_a_comment_with_unsaved_edits_asks_first(live_server, page, kb, evaluator):
    log_in(page, live_server, "eva")
    page.goto(f"{live_server.url}/admin/mechanisms/cmoconfiguration/{kb.pathway_targets.pk}/change/")
    page.fill("#id_title", "An edit not yet saved")
    page.fill("#id_comment_body", "A question")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click("button[name=_comment]")
    assert dialogs and dialogs[0].startswith("You have unsaved edits to this configuration.")
    assert page.input_value("#id_title") == "An edit not yet saved"  # still on the page, the edit in place
