"""End to end in a real Chromium: from opening a source's workspace to a configuration with a context, a
mechanism (disabled), an outcome and three evidence links, counting the user's actions.

The source is the corpus's report (fixtures/sources/ctg-evaluation-2014.txt, 190,000 characters). An
action is a click, a drag that selects a passage, a scroll, a choice in a list, a text entry or a key
press of a shortcut; waiting for the page is not one. The issue's goal is at most 15.
"""

import os
from pathlib import Path

import pytest

from tests.browser.workbench import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = (Path(__file__).resolve().parents[2] / "fixtures/sources/ctg-evaluation-2014.txt").read_text(encoding="utf-8")

# The report's Shared Haemodialysis Care configuration (DOMAIN.md): patients resigned to dependence on
# nurses; their beliefs disabled (shared care fears); some refuse self-care.
CONTEXT_PASSAGE = ("users who had become resigned to being dependent on nurses for their care were harder to engage "
                   "with than those who had not")
MECHANISM_PASSAGE = ("'They thought it was about making them do things, that they would be pushed to take care of "
                     "themselves, they were fearful that it would push them to home haemodialysis and some of them "
                     "didn't want to do that.' (Shared Haemodialysis Care, staff member)")
OUTCOME_PASSAGE = ("'One thing I keep hearing over and over again is that they're worried that the nurses will lose their "
                   "jobs so they won't do it.")

LOCATE = """needle => {
    const root = document.getElementById('ws-text');
    const i = root.textContent.indexOf(needle);
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let at = 0, node, first = null, last = null;
    while ((node = walker.nextNode())) {
        const length = node.data.length;
        if (!first && i < at + length) first = [node, i - at];
        if (!last && i + needle.length <= at + length) { last = [node, i + needle.length - at]; break; }
        at += length;
    }
    const a = document.createRange(); a.setStart(first[0], first[1]); a.setEnd(first[0], first[1] + 1);
    const b = document.createRange(); b.setStart(last[0], last[1] - 1); b.setEnd(last[0], last[1]);
    const s = a.getClientRects()[0], e = b.getClientRects()[0];
    const view = document.querySelector('.ws-text-column').getBoundingClientRect();
    return {x1: s.left + 1, y1: (s.top + s.bottom) / 2, x2: e.right - 1, y2: (e.top + e.bottom) / 2,
            visible: s.top >= view.top && e.bottom <= Math.min(view.bottom, window.innerHeight)};
}"""


class Actions:
    """The user's actions, counted as they are made."""

    def __init__(self, page):
        self.page, self.count, self.log = page, 0, []

    def did(self, what):
        self.count += 1
        self.log.append(what)

    def goto(self, url):
        self.page.goto(url)
        self.did(f"open {url}")

    def click(self, selector):
        self.page.click(selector)
        self.did(f"click {selector}")

    def choose(self, selector, label):
        self.page.select_option(selector, label=label)
        self.did(f"choose {label}")

    def type(self, selector, text):
        self.page.fill(selector, text)
        self.did(f"type into {selector}")

    def select_passage(self, needle):
        """Scroll to the passage when it is out of view (one action), then drag across it (one)."""
        where = self.page.evaluate(LOCATE, needle)
        if not where["visible"]:
            # What a scroll wheel over the text does: the passage's line comes to the top of the column.
            self.page.evaluate("""needle => {
                const root = document.getElementById('ws-text');
                const column = document.querySelector('.ws-text-column');
                const i = root.textContent.indexOf(needle);
                const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
                let at = 0, node;
                while ((node = walker.nextNode())) {
                    if (i < at + node.data.length) {
                        const range = document.createRange();
                        range.setStart(node, i - at); range.setEnd(node, i - at + 1);
                        column.scrollTop += range.getBoundingClientRect().top - column.getBoundingClientRect().top - 24;
                        return;
                    }
                    at += node.data.length;
                }
            }""", needle)
            self.did("scroll")
            where = self.page.evaluate(LOCATE, needle)
            assert where["visible"], "the passage does not fit in the text column"
        mouse = self.page.mouse
        mouse.move(where["x1"], where["y1"])
        mouse.down()
        mouse.move(where["x2"], where["y2"], steps=8)
        mouse.up()
        self.did(f"select “{needle[:30]}…”")
        self.page.wait_for_selector("#ws-popover:not([hidden])")


def saved(page):
    # (wait_for_function evaluates a string in the page, which the CSP forbids: a locator waits instead)
    page.wait_for_selector("#ws-save-status:text-is('Draft saved.')")
    page.evaluate("() => { document.getElementById('ws-save-status').textContent = ''; }")


def test_a_configuration_with_context_mechanism_outcome_and_three_links_in_at_most_15_actions(
        live_server, page, artifacts_dir, kb, evaluator):
    from evidence.models import EvidenceExcerpt, Source
    from mechanisms.models import CMOConfiguration

    kb.shc.aliases = ["Shared Haemodialysis Care CtG team", "SHC"]
    kb.shc.save()
    source = Source.objects.create(slug="ctg-report", kind=kb.report, programme=kb.programme,
                                   title="Closing the Gap through Changing Relationships", full_text=TEXT)
    log_in(page, live_server, "eva")
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    user = Actions(page)

    user.goto(f"{live_server.url}/admin/evidence/source/{source.pk}/workspace/")
    assert page.eval_on_selector("#ws-text", "el => el.textContent") == TEXT

    # Three passages, each attached to a part of the configuration (the first attach starts the draft).
    for needle, part in ((CONTEXT_PASSAGE, "context"), (MECHANISM_PASSAGE, "mechanism"), (OUTCOME_PASSAGE, "outcome")):
        user.select_passage(needle)
        user.click(f"#ws-attach-{part}")
        page.wait_for_selector(f"#ws-evidence li.ws-evidence-{part}")
    page.screenshot(path=os.path.join(artifacts_dir, "workspace-1-evidence.png"))

    # The card: title, context, mechanism (disabled), outcome; saved at each step.
    user.type("#ws-title", "Shared care read as a staff-cutting agenda")
    saved(page)
    user.choose("#ws-add-context", "Patients resigned to dependence on nurses")
    saved(page)
    user.choose("#ws-mechanism", kb.patient_beliefs.name)
    saved(page)
    user.click("#ws-effect-disabled")
    saved(page)
    user.choose("#ws-add-outcome", "Some patients refuse self-care")
    saved(page)
    assert page.locator("#ws-problems li").all_inner_texts() == []  # nothing missing for publication
    page.screenshot(path=os.path.join(artifacts_dir, "workspace-2-card.png"), full_page=True)

    print(f"\nWorkspace actions: {user.count}: " + "; ".join(user.log))
    assert user.count <= 15, user.log
    assert violations == []

    configuration = CMOConfiguration.objects.get(title="Shared care read as a staff-cutting agenda")
    assert configuration.status == "draft" and configuration.created_by == evaluator
    assert list(configuration.contexts.all()) == [kb.resigned]
    assert (configuration.mechanism, configuration.effect) == (kb.patient_beliefs, "disabled")
    assert list(configuration.outcomes.all()) == [kb.refusal]
    links = {link.part: link for link in configuration.evidence_links.select_related("excerpt")}
    assert sorted(links) == ["context", "mechanism", "outcome"]
    for part, needle in (("context", CONTEXT_PASSAGE), ("mechanism", MECHANISM_PASSAGE), ("outcome", OUTCOME_PASSAGE)):
        excerpt = links[part].excerpt
        assert links[part].stance == "supports"
        assert source.full_text[excerpt.start:excerpt.end] == excerpt.text == needle
        assert excerpt.start == TEXT.index(needle)
        assert excerpt.section == "4 Factors that play a role in changing relationships"
    mechanism = links["mechanism"].excerpt
    assert (mechanism.kind, mechanism.team, mechanism.speaker_role, mechanism.attribution) == (
        "participant_quote", kb.shc, kb.staff_role, "(Shared Haemodialysis Care, staff member)")
    outcome = links["outcome"].excerpt  # the quote alone: its bracket is printed after the rest of it
    assert outcome.kind == "evaluator_finding" and outcome.attribution == ""
    assert EvidenceExcerpt.objects.filter(source=source).count() == 3
    # The passages are highlighted and labelled with the configuration and part they serve.
    labels = page.eval_on_selector_all("#ws-text mark[data-tags]", "marks => marks.map(m => m.dataset.tags)")
    assert [label.split()[1] for label in labels] == ["C", "M", "O"]


def test_the_keyboard_finds_a_passage_and_attaches_it(live_server, page, kb, evaluator):
    from evidence.models import EvidenceLink

    log_in(page, live_server, "eva")
    page.goto(f"{live_server.url}/admin/evidence/source/{kb.source.pk}/workspace/?configuration={kb.pathway_targets.pk}")
    page.wait_for_selector("#ws-card-body:not([hidden])")
    page.keyboard.press("/")
    page.keyboard.type("four-hour target")
    page.keyboard.press("Escape")  # leaves the find box; the hit stays selected, the popover open
    page.wait_for_selector("#ws-popover:not([hidden])")
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.id") == "ws-attach-context"
    page.keyboard.press("Enter")
    page.wait_for_selector("#ws-evidence li.ws-evidence-context")
    link = EvidenceLink.objects.get(configuration=kb.pathway_targets, part="context")
    assert link.excerpt.text == "four-hour target" and kb.source.full_text[link.excerpt.start:link.excerpt.end] == "four-hour target"
