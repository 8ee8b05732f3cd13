"""Many evaluations in one knowledge base, in a real Chromium: an evaluator signs in, starts a private
programme at /programmes/new/, adds a team and a context in the workbench (the admin), and finds the
programme on the list and at its home; another user, a lead of Closing the Gap but no member of the
new programme, does not see it on the list and gets a 404 at its address, as does an anonymous visitor.
Screenshots go to test-artifacts/programmes-*.png.
"""

import os
import re

import pytest

from tests.browser.workbench import choose, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"programmes-{name}.png"), full_page=True)


def set_slug(page, slug):
    """Type the slug first: the admin fills a slug from the name as it is typed, until the slug is changed."""
    page.fill("#id_slug", slug)
    page.locator("#id_slug").dispatch_event("change")


def programme_names(page):
    return page.locator(".programme-list .card__title a").all_inner_texts()


def test_an_evaluator_starts_a_private_programme_that_others_cannot_see(
        live_server, browser, page, artifacts_dir, kb, evaluator, lead):
    from mechanisms.models import Context
    from projects.models import Programme, ProgrammeMembership

    errors, failed = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)

    # --- the evaluator starts the programme from the list
    log_in(page, live_server, evaluator.username)
    page.goto(live_server.url + "/")
    assert programme_names(page) == ["Closing the Gap"]
    page.get_by_role("link", name="New programme").click()
    page.wait_for_url(re.compile(r"/programmes/new/$"))
    assert page.locator("h1").inner_text() == "New programme"

    # A mistake first: the end before the start comes back naming the field, with what was typed.
    page.locator("#id_name").fill("Mums’ Power")
    page.get_by_label("Start year").fill("2022")
    page.get_by_label("End year").fill("2019")
    page.get_by_role("button", name="Create the programme").click()
    summary = page.locator("#form-errors")
    assert "End year: The programme cannot end before it starts." in summary.inner_text()
    assert page.locator("#id_name").input_value() == "Mums’ Power"
    shot(page, artifacts_dir, "form-error")

    page.get_by_label("End year").fill("2024")
    page.get_by_label("Address (slug)").fill("mums-power")
    page.get_by_label("Funder").fill("The Maternity Trust")
    page.get_by_label("Teams").fill("Peer Mums Network\n")
    assert not page.get_by_label("Public", exact=True).is_checked()  # private unless ticked
    # An empty starting vocabulary (tests/pages/test_programme_form.py copies one).
    assert page.get_by_label("Starting vocabulary").input_value() == ""
    shot(page, artifacts_dir, "form")
    page.get_by_role("button", name="Create the programme").click()
    page.wait_for_url(re.compile(r"/programmes/mums-power/$"))
    assert page.locator("h1").inner_text() == "Mums’ Power"
    # The header names the programme and links to its home.
    assert page.locator(".brand__programme").inner_text().endswith("Mums’ Power")
    assert page.locator(".brand__programme").get_attribute("href") == "/programmes/mums-power/"
    programme = Programme.objects.get(slug="mums-power")
    assert not programme.is_public
    assert ProgrammeMembership.objects.get(programme=programme).user == evaluator  # its lead
    assert ProgrammeMembership.objects.get(programme=programme).role == "lead"

    # --- a team and a context, added in the workbench
    page.goto(live_server.url + "/admin/projects/team/add/")
    choose(page, "id_programme", "Mums", "Mums’ Power")
    set_slug(page, "midwife-partners")
    page.fill("#id_name", "Midwife Partners")
    page.fill("#id_short_name", "Midwives")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    page.goto(live_server.url + "/admin/mechanisms/context/add/")
    programme_field = page.locator("#id_programme")
    if programme_field.evaluate("el => el.classList.contains('admin-autocomplete')"):
        choose(page, "id_programme", "Mums", "Mums’ Power")
    else:
        programme_field.select_option(label="Mums’ Power")
    set_slug(page, "resigned-dependence")  # ctg has one with the same slug
    page.fill("#id_name", "Mothers resigned to what services offer")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert list(Context.objects.filter(slug="resigned-dependence").order_by("programme__slug")
                .values_list("programme__slug", "name")) == [
        ("ctg", "Patients resigned to dependence on nurses"),
        ("mums-power", "Mothers resigned to what services offer"),
    ]

    # --- the evaluator sees it on the list and at its home, with both teams
    page.goto(live_server.url + "/")
    assert programme_names(page) == ["Closing the Gap", "Mums’ Power"]
    card = page.locator(".programme-list .card", has_text="Mums’ Power")
    assert "Private" in card.inner_text() and "2 teams · 0 published configurations" in card.inner_text()
    shot(page, artifacts_dir, "list-member")
    card.get_by_role("link", name="Mums’ Power").click()
    page.wait_for_url(re.compile(r"/programmes/mums-power/$"))
    teams = page.locator("#teams-title + .card-grid .card__title a")
    # In their order: the form numbered its teams from 1, the admin's default is 0.
    assert teams.all_inner_texts() == ["Midwife Partners", "Peer Mums Network"]
    assert teams.first.get_attribute("href") == "/programmes/mums-power/teams/midwife-partners/"
    assert page.locator("#mechanisms-title ~ .card-grid .card").count() == 0  # no mechanisms yet
    shot(page, artifacts_dir, "home")

    # --- a lead of another programme does not see it
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    outsider = other.new_page()
    log_in(outsider, live_server, lead.username)
    outsider.goto(live_server.url + "/")
    assert programme_names(outsider) == ["Closing the Gap"]
    assert "Mums" not in outsider.content()
    response = outsider.goto(live_server.url + "/programmes/mums-power/")
    assert response.status == 404
    assert outsider.locator("h1").inner_text() == "Page not found"
    assert outsider.goto(live_server.url + "/programmes/mums-power/teams/midwife-partners/").status == 404
    shot(outsider, artifacts_dir, "outsider-404")
    other.close()

    # --- nor does an anonymous visitor
    anonymous = browser.new_context()
    visitor = anonymous.new_page()
    visitor.goto(live_server.url + "/")
    assert programme_names(visitor) == ["Closing the Gap"]
    assert visitor.goto(live_server.url + "/programmes/mums-power/").status == 404
    anonymous.close()
    assert errors == []
    # The one answer that was no success: the form sent back with its error.
    assert failed == [(400, live_server.url + "/programmes/new/")]
