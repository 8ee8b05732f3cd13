"""End to end in a real Chromium: code an excerpt, build a configuration, submit it, publish it, find it.

An evaluator selects a span (after "Café", "naïve" and an emoji, across a line break) on the coding
page of a source, creates the excerpt from the prefilled form, builds a configuration with it and
submits it for review; a lead evaluator publishes it; an anonymous visitor finds it on the team page
and in the API.
"""

import json
import os
from datetime import date

import pytest

from tests.browser.workbench import choose, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODED_TEXT = (
    "Notes from the Café — a naïve first visit 🙂 to the unit.\n"
    "A patient said: 'We now plan my dialysis\ntogether with the nurses, 𝒳 and all.' (Shared Haemodialysis Care, patient)\n"
    "Staff were less sure.\n"
)
NEEDLE = "We now plan my dialysis\ntogether with the nurses, 𝒳 and all."


def shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"curation-{name}.png"), full_page=True)


def test_code_excerpt_build_configuration_review_and_publish(live_server, page, browser, artifacts_dir, kb, evaluator, lead):
    from cmo_kb.vocabulary import ReviewStatus
    from evidence.models import EvidenceExcerpt, Source
    from mechanisms.models import CMOConfiguration

    source = Source.objects.create(
        slug="cafe-notes", kind=kb.report, programme=kb.programme, title="Café notes", date=date(2014, 6, 1),
        full_text=CODED_TEXT,
    )
    expected_start = CODED_TEXT.index(NEEDLE)  # code points, as Python counts them
    assert len(CODED_TEXT[:expected_start].encode("utf-16-le")) // 2 != expected_start  # astral chars before it

    # --- the evaluator codes the excerpt
    log_in(page, live_server, "eva")
    page.goto(f"{live_server.url}/admin/evidence/source/{source.pk}/change/")
    page.click("a.codelink")
    page.wait_for_selector("#source-text")
    assert page.eval_on_selector("#source-text", "el => el.textContent") == CODED_TEXT
    page.evaluate(
        """needle => {
            const root = document.getElementById('source-text');
            const node = root.firstChild;
            const i = node.data.indexOf(needle);
            const range = document.createRange();
            range.setStart(node, i);
            range.setEnd(node, i + needle.length);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
        }""",
        NEEDLE,
    )
    page.wait_for_selector("#create-excerpt:not([disabled])")
    assert page.text_content("#selection-start") == str(expected_start)
    assert page.text_content("#selection-end") == str(expected_start + len(NEEDLE))
    shot(page, artifacts_dir, "1-coding-page")
    page.click("#create-excerpt")

    page.wait_for_selector("#evidenceexcerpt_form")
    assert page.input_value("#id_start") == str(expected_start)
    assert page.input_value("#id_end") == str(expected_start + len(NEEDLE))
    assert page.input_value("#id_text") == NEEDLE
    choose(page, "id_team", "SHC", "SHC")
    choose(page, "id_speaker_role", "Patient", "Patient")
    page.fill("#id_attribution", "(Shared Haemodialysis Care, patient)")
    shot(page, artifacts_dir, "2-excerpt-prefilled")
    page.click("input[name=_save]")
    page.wait_for_selector("#source-text")  # back on the coding page, the new excerpt highlighted
    excerpt = EvidenceExcerpt.objects.get(source=source)
    assert (excerpt.start, excerpt.end, excerpt.text) == (expected_start, expected_start + len(NEEDLE), NEEDLE)
    assert excerpt.created_by == evaluator
    assert page.locator("mark.excerpt").count() == 1
    assert page.text_content("mark.excerpt") == NEEDLE
    shot(page, artifacts_dir, "3-coding-page-with-excerpt")

    # --- the evaluator builds a configuration with it
    page.goto(f"{live_server.url}/admin/mechanisms/cmoconfiguration/add/")
    page.fill("#id_title", "Planning dialysis together")
    choose(page, "id_teams", "SHC", "SHC")
    page.fill("#id_statement", "Where patients were resigned to dependence, sharing the plan gave them agency.")
    choose(page, "id_contexts", "resigned", "Patients resigned")
    choose(page, "id_mechanism", "patient", "Changes to patient beliefs")
    choose(page, "id_outcomes", "self", "Patients take on self-care")
    choose(page, "id_evidence_links-0-excerpt", "dialysis together", "SHC · Patient · “We now plan my dialysis")
    page.select_option("#id_evidence_links-0-part", "outcome")
    # The slug is prepopulated from the title by the admin's script; set ours last.
    page.fill("#id_slug", "shc-planning-together")
    shot(page, artifacts_dir, "4-configuration-form")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    errors = page.locator(".errornote, .errorlist").all_inner_texts()
    assert errors == []
    page.wait_for_selector("[data-testid=review-status]")
    configuration = CMOConfiguration.objects.get(slug="shc-planning-together")
    assert configuration.status == ReviewStatus.DRAFT
    assert configuration.created_by == evaluator
    assert list(configuration.evidence_links.values_list("excerpt__slug", "part")) == [(excerpt.slug, "outcome")]
    assert page.locator("button.review-publish").count() == 0  # evaluators cannot publish
    page.click("button.review-submit_for_review")
    page.wait_for_selector(".messagelist .success")
    assert page.text_content("[data-testid=review-status]") == "In review"
    configuration.refresh_from_db()
    assert configuration.status == ReviewStatus.IN_REVIEW
    shot(page, artifacts_dir, "5-submitted")

    # --- the lead evaluator publishes it
    lead_context = browser.new_context(viewport={"width": 1280, "height": 900})
    lead_page = lead_context.new_page()
    lead_page.set_default_timeout(15000)
    log_in(lead_page, live_server, "leo")
    lead_page.goto(f"{live_server.url}/admin/mechanisms/cmoconfiguration/{configuration.pk}/change/")
    lead_page.click("button.review-publish")
    lead_page.wait_for_selector(".messagelist .success")
    assert lead_page.text_content("[data-testid=review-status]") == "Published"
    shot(lead_page, artifacts_dir, "6-published")
    lead_context.close()
    configuration.refresh_from_db()
    assert configuration.status == ReviewStatus.PUBLISHED
    assert configuration.history.first().history_user == lead

    # --- anyone finds it on the team page and in the API
    public = browser.new_context()
    public_page = public.new_page()
    response = public_page.goto(f"{live_server.url}/programmes/ctg/teams/{kb.shc.slug}/")
    assert response.status == 200
    assert "Planning dialysis together" in public_page.content()
    public_page.screenshot(path=os.path.join(artifacts_dir, "curation-7-team-page.png"), full_page=True)
    response = public.request.get(
        f"{live_server.url}/api/configurations/shc-planning-together/", headers={"Accept": "application/json"}
    )
    assert response.status == 200
    assert json.loads(response.text())["slug"] == "shc-planning-together"
    public.close()


def test_mouse_selection_after_an_emoji_gives_code_point_offsets(live_server, page, artifacts_dir, kb, evaluator):
    """Double-click a word with the mouse (no scripted Range): the offsets count 🙂 and 𝒳 once each."""
    from evidence.models import Source

    source = Source.objects.create(programme=kb.programme, slug="cafe-notes", kind=kb.report, title="Café notes", full_text=CODED_TEXT)
    word = "nurses"
    expected_start = CODED_TEXT.index(word)
    log_in(page, live_server, "eva")
    page.goto(f"{live_server.url}/admin/evidence/source/{source.pk}/code/")
    page.wait_for_selector("#source-text")
    box = page.evaluate(
        """word => {
            const node = document.getElementById('source-text').firstChild;
            const i = node.data.indexOf(word);
            const range = document.createRange();
            range.setStart(node, i);
            range.setEnd(node, i + word.length);
            const r = range.getBoundingClientRect();
            return {x: r.left + r.width / 2, y: r.top + r.height / 2};
        }""",
        word,
    )
    page.check("#trim-whitespace")  # a double-click may take the space after the word on some platforms
    page.mouse.dblclick(box["x"], box["y"])
    page.wait_for_selector("#create-excerpt:not([disabled])")
    assert page.text_content("#selection-preview") == word
    assert page.text_content("#selection-start") == str(expected_start)
    assert page.text_content("#selection-end") == str(expected_start + len(word))
    page.click("#create-excerpt")
    page.wait_for_selector("#evidenceexcerpt_form")
    assert (page.input_value("#id_start"), page.input_value("#id_end"), page.input_value("#id_text")) == (
        str(expected_start), str(expected_start + len(word)), word
    )
    shot(page, artifacts_dir, "8-mouse-selection-prefilled")
