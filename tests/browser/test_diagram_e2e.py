"""The configurations diagram (mechanisms/diagram.py) in a real Chromium: a team story with a chain,
on a phone (390 px) and on a desktop. The page never scrolls sideways (the diagram keeps a legible
width and scrolls inside its own box); the picture is an image named for screen readers, with its
text equivalent a click away; printed, it fits the page and the text equivalent stays on screen.
Screenshots: test-artifacts/diagram-phone.png, diagram-desktop.png, diagram-configuration.png.
"""

import os

import pytest

from tests.pages.builders import fill_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(kb):
    from mechanisms.chains import ConfigurationChain

    ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear)
    return fill_story(kb)


def test_team_story_diagram_on_a_phone_and_a_desktop(live_server, page, site, artifacts_dir):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)  # a CSP refusal shows here
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/programmes/ctg/teams/shc/")
    figure = page.get_by_role("img", name="What worked and what did not for SHC, as a diagram")
    assert figure.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator(".cmo-diagram__scroll")
    # The diagram keeps a legible width: its own box scrolls, the page does not.
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")
    assert page.locator(".diagram__chain").count() == 1
    page.locator("#diagram").screenshot(path=os.path.join(artifacts_dir, "diagram-phone.png"))
    page.get_by_text("Diagram as text").click()
    assert page.get_by_text("Shc control leads on to Shc fear.").is_visible()

    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    assert not box.evaluate("el => el.scrollWidth > el.clientWidth")
    page.locator("#diagram").screenshot(path=os.path.join(artifacts_dir, "diagram-desktop.png"))

    page.emulate_media(media="print")
    assert not page.locator(".cmo-diagram__text").is_visible()
    assert page.evaluate("document.querySelector('.cmo-diagram svg').getBoundingClientRect().width") <= 1280
    page.emulate_media(media="screen")

    page.goto(live_server.url + "/programmes/ctg/configurations/shc-fear/")
    assert page.locator(".diagram__configuration--current").count() == 1
    page.locator(".cmo-diagram").screenshot(path=os.path.join(artifacts_dir, "diagram-configuration.png"))
    assert errors == []
