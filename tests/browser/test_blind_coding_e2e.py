"""End to end in a real Chromium: a blind comparison (issue 13). Two evaluators have coded the same
source; while its coding is blind each sees only their own codings in the workspace and may not
compare; the lead sees all, reveals them in the workbench, and then the comparison is open to all."""

import os

import pytest

from tests.browser.workbench import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_labels(page, url):
    page.goto(url)
    page.wait_for_selector("#ws-text")
    labels = page.eval_on_selector_all("#ws-text mark[data-tags]", "marks => marks.map(m => m.dataset.tags)")
    return sorted(part for label in labels for part in label.split(" · ") if part.startswith("code:"))


def test_a_blind_comparison_from_coding_to_reveal(live_server, page, artifacts_dir, kb, evaluator, lead,
                                                  django_user_model):
    from cmo_kb.vocabulary import EVALUATOR_GROUP
    from evidence.codes import Code, Coding
    from tests.conftest import _make_user

    ann = _make_user(django_user_model, "ann", EVALUATOR_GROUP, is_staff=True)  # a second evaluator
    trust = Code.objects.create(programme=kb.programme, name="Trust", order=1)
    fear = Code.objects.create(programme=kb.programme, name="Fear", order=2)
    Coding.objects.create(excerpt=kb.q_control, code=trust, coder=evaluator)
    Coding.objects.create(excerpt=kb.q_jobs, code=fear, coder=ann)
    Coding.objects.create(excerpt=kb.q_control, code=trust, coder=ann)
    kb.source.coding_blind = True
    kb.source.save()
    workspace = f"{live_server.url}/admin/evidence/source/{kb.source.pk}/workspace/"
    agreement = f"{live_server.url}/admin/evidence/coding/agreement/?sources={kb.source.pk}&coders=ann&coders=eva"

    log_in(page, live_server, "eva")
    assert code_labels(page, workspace) == ["code:Trust"]  # her own coding only
    page.goto(agreement)
    assert "is blind" in page.inner_text(".errorlist")
    page.screenshot(path=os.path.join(artifacts_dir, "blind-1-evaluator.png"), full_page=True)

    page.context.clear_cookies()
    log_in(page, live_server, "leo")
    assert code_labels(page, workspace) == ["code:Fear", "code:Trust"]
    page.goto(f"{live_server.url}/admin/evidence/source/{kb.source.pk}/change/")
    assert page.is_checked("#id_coding_blind")
    page.uncheck("#id_coding_blind")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    kb.source.refresh_from_db()
    assert kb.source.coding_blind is False

    page.context.clear_cookies()
    log_in(page, live_server, "eva")
    assert code_labels(page, workspace) == ["code:Fear", "code:Trust"]
    page.goto(agreement)
    report = page.inner_text("#content")
    assert "Trust" in report and "is blind" not in report
    page.screenshot(path=os.path.join(artifacts_dir, "blind-2-revealed.png"), full_page=True)
