"""The public pages in a real Chromium: every page type loads, a matrix cell drills down to the
quote in its source, a search runs from a programme's home page, the keyboard reaches the search box with a
visible focus ring, and the pages print without their navigation. Screenshots of every page go to
test-artifacts/pages-*.png.
"""

import os
import re

import pytest

from tests.pages.builders import fill_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"pages-{name}.png"), full_page=True)


@pytest.fixture
def site(kb):
    return fill_story(kb)


def page_types(kb):
    """(name, path, the page's h1) for every page type."""
    return [
        ("programmes", "/", "Programmes"),
        ("home", "/programmes/ctg/", "Closing the Gap"),
        ("teams", "/programmes/ctg/teams/", "The teams"),
        ("team", "/programmes/ctg/teams/shc/", "Shared Haemodialysis Care"),
        ("mechanisms", "/programmes/ctg/mechanisms/", "Enabling mechanisms"),
        ("mechanism", "/programmes/ctg/mechanisms/patient-beliefs/", "Changes to patient beliefs, attitudes and behaviours"),
        ("wish-dimensions", "/wish/", "Relationship dimensions"),
        ("wish-dimension", "/wish/power/", "Power"),
        ("quality-domains", "/quality-domains/", "Quality domains"),
        ("quality-domain", "/quality-domains/person-centredness/", "Person-centredness"),
        ("matrix", "/programmes/ctg/matrix/", "Mechanisms in context"),
        ("configurations", "/programmes/ctg/configurations/?team=shc", "Configurations"),
        ("configuration", "/programmes/ctg/configurations/shc-fear/", "Shc fear"),
        ("search", "/programmes/ctg/search/?q=nurses+OR+control", "Search the evidence"),
        ("excerpt", f"/excerpts/{kb.q_jobs.pk}/", "Quotation in context"),
    ]


def test_every_page_type_loads_in_chromium(live_server, page, site, artifacts_dir):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    for name, path, heading in page_types(site):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        h1 = page.locator("h1").first
        if name == "excerpt":  # its h1 is for screen readers; the quote itself leads the page
            assert h1.text_content() == "Participant quote in context"
        else:
            assert h1.inner_text() == heading, path
        # The stylesheet is served by the app itself (no CDN): the header is painted in the brand colour.
        assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor") == "rgb(29, 79, 110)"
        shot(page, artifacts_dir, name)
    assert errors == []
    # A phone-sized team story: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/programmes/ctg/teams/shc/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, artifacts_dir, "team-phone")


def test_team_story_shows_wish_chart_and_quotes_link_to_source(live_server, page, site, artifacts_dir):
    page.goto(live_server.url + "/programmes/ctg/teams/shc/")
    chart = page.get_by_role("img", name=re.compile("Shifts along Wish"))
    assert chart.is_visible()
    bars = page.locator(".chart__bar")
    assert bars.count() == 2  # power: one toward dependence, one toward agency
    table = page.locator("#wish-table")
    assert "Agency: 1" in table.inner_text()
    page.locator("#cmo-shc-fear").get_by_role("link", name=re.compile("See it in the report")).click()
    page.wait_for_url(re.compile(r"/excerpts/\d+/$"))
    assert page.locator("mark#quote").inner_text() == "We were worried our jobs would go."


def test_drill_down_from_a_matrix_cell_to_the_quote_in_context(live_server, page, site, artifacts_dir):
    page.goto(live_server.url + "/programmes/ctg/matrix/")
    cell = page.get_by_role("link", name=re.compile("configurations for SHC and Patient"))
    words = re.sub(r"\s+", " ", cell.text_content()).strip()
    assert words.startswith("2 1 triggered1 disabled") or words.startswith("2 1 triggered 1 disabled"), words
    cell.click()
    page.wait_for_url(re.compile(r"/programmes/ctg/configurations/\?team=shc&mechanism=patient-beliefs$"))
    assert page.locator("h2#results-title").inner_text().startswith("2 configurations for team")
    assert page.locator("article.cmo").count() == 2
    shot(page, artifacts_dir, "drilldown-1-configurations")
    page.get_by_role("link", name="Shc fear").click()
    page.wait_for_url(re.compile(r"/programmes/ctg/configurations/shc-fear/$"))
    assert "Disabled" in page.locator(".page-header .cmo__badges").inner_text()
    shot(page, artifacts_dir, "drilldown-2-configuration")
    page.get_by_role("link", name=re.compile("See it in the report")).first.click()
    page.wait_for_url(re.compile(r"/excerpts/\d+/$"))
    mark = page.locator("mark#quote")
    assert mark.inner_text() == "We were worried our jobs would go."
    assert mark.is_visible()
    shot(page, artifacts_dir, "drilldown-3-excerpt")


def test_matrix_columns_switch_with_labelled_controls(live_server, page, site, artifacts_dir):
    page.goto(live_server.url + "/programmes/ctg/matrix/")
    page.get_by_label("Columns").select_option("wish_dimension")
    page.get_by_role("button", name="Show matrix").click()
    page.wait_for_url(re.compile(r"cols=wish_dimension"))
    assert page.locator("table.matrix caption").inner_text().startswith("Team (rows) × Wish dimension (columns)")
    page.get_by_role("link", name=re.compile("configurations for SHC and Power")).click()
    page.wait_for_url(re.compile(r"/programmes/ctg/configurations/\?team=shc&wish_dimension=power$"))
    assert page.locator("article.cmo").count() == 2
    shot(page, artifacts_dir, "matrix-wish")


def test_search_from_the_home_page_with_highlighted_matches_and_a_filter(live_server, page, site, artifacts_dir):
    page.goto(live_server.url + "/programmes/ctg/")
    page.get_by_label("Search quotes and configurations").fill("jobs")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/programmes/ctg/search/\?q=jobs$"))
    marks = page.locator(".result__snippet mark")
    assert marks.first.inner_text().lower() == "jobs"
    assert "We were worried our jobs would go." in page.locator(".results").first.inner_text()
    shot(page, artifacts_dir, "search-results")
    page.get_by_label("Team").select_option("pathway")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"team=pathway"))
    assert "No quotes or excerpts match." in page.content()


def test_keyboard_reaches_the_search_box_with_a_visible_focus(live_server, page, site, artifacts_dir):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # From the top, Tab reaches the header's search box after the brand link, the programme's name
    # and the navigation.
    page.goto(live_server.url + "/programmes/ctg/")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "header-q":
            break
    assert page.evaluate("document.activeElement.id") == "header-q"
    # Onward, the page's own search box.
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "home-q":
            break
    assert page.evaluate("document.activeElement.id") == "home-q"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    shot(page, artifacts_dir, "keyboard-focus")


def test_team_story_prints_without_navigation(live_server, page, site, artifacts_dir):
    page.goto(live_server.url + "/programmes/ctg/teams/shc/")
    page.emulate_media(media="print")
    assert page.locator(".site-nav").is_hidden()
    assert page.locator(".toc").is_hidden()
    assert page.locator("#cmo-shc-control").is_visible()
    shot(page, artifacts_dir, "team-print")
