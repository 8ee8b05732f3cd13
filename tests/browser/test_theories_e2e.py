"""A programme theory's page in a real Chromium, with Closing the Gap as load_ctg records it: the two
versions in order, their verdicts, no console or CSP error. Screenshots go to
test-artifacts/theory-*.png (full page, and a phone's width)."""

import io
import os

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_theory_page_shows_both_versions_of_closing_the_gaps_theory(live_server, page, artifacts_dir):
    call_command("load_ctg", stdout=io.StringIO())
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + "/programmes/ctg/")
    page.get_by_role("link", name="How changing relationships closes the gap in quality").click()
    assert page.url == live_server.url + "/programmes/ctg/theories/changing-relationships/"
    assert page.locator("h1").inner_text() == "How changing relationships closes the gap in quality"
    assert page.locator(".timeline__version h3").all_inner_texts() == [
        "Version 1: Initial programme theory: RAND Europe's framework",
        "Version 2: Refined programme theory: OPM's four enabling mechanisms",
    ]
    second = page.locator("#version-2")
    assert "prompted by Third wave" in " ".join(second.locator(".timeline__when").inner_text().split())
    assert second.locator(".verdict__badge").all_inner_texts().count("Supported") == 2
    assert second.locator(".verdict__badge").all_inner_texts().count("New") == 5
    # The timeline is drawn by the app's own stylesheet (no inline style under the CSP).
    assert page.evaluate("getComputedStyle(document.querySelector('.timeline')).borderLeftStyle") == "solid"
    page.screenshot(path=os.path.join(artifacts_dir, "theory-ctg.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=os.path.join(artifacts_dir, "theory-ctg-phone.png"), full_page=False)
    assert errors == []
