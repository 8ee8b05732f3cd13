"""An import in the background, in a real Chromium: an evaluator uploads a CMO spreadsheet (.xlsx made
by openpyxl) on the workbench's import page; the dry run is queued (the database tasks backend, as
`make run` has it), its page shows a progress bar at 0 until the worker runs it, then the report row by
row; the evaluator confirms, watches the real run's bar reach done and the report show what was
created, then undoes it. Screenshots go to test-artifacts/import-run-*.png.
"""

import os
import re

import pytest
from django.core.management import call_command

from tests.browser.workbench import log_in
from tests.imports.test_configuration_import import row, xlsx_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"import-run-{name}.png"), full_page=True)


def run_worker():
    """The db_worker of `make run`, once: it runs what is queued and exits."""
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", verbosity=0)


def test_upload_dry_run_progress_confirm_and_undo(live_server, page, artifacts_dir, kb, evaluator, settings, tmp_path):
    from evidence.import_runs import ImportRun
    from mechanisms.models import CMOConfiguration

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    errors, failed = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    workbook = tmp_path / "configurations.xlsx"
    workbook.write_bytes(xlsx_file([row(), row(title="Patients feel safer", slug="patients-feel-safer")]).getvalue())

    log_in(page, live_server, evaluator.username)
    page.goto(live_server.url + "/admin/mechanisms/cmoconfiguration/import/")
    page.select_option("#id_programme", "ctg")
    page.set_input_files("#id_file", str(workbook))
    page.get_by_role("button", name="Check (dry run)").click()
    page.wait_for_url(re.compile(r"/admin/evidence/importrun/\d+/change/$"))
    # Queued: nothing has run it yet; the bar waits at 0 and the page polls.
    assert page.locator("#import-status").inner_text() == "queued"
    assert page.locator("#import-progress").get_attribute("value") == "0"
    shot(page, artifacts_dir, "queued")

    run_worker()
    page.wait_for_selector("#import-report")  # the page reloaded once the run ended
    assert page.locator("#import-status").inner_text() == "done"
    assert page.locator("#import-progress").get_attribute("value") == "100"
    assert page.locator("#import-report-title").inner_text() == "Dry run: what a real import will write"
    report = page.locator("#import-report tbody tr")
    assert report.count() == 2
    assert report.nth(0).locator("th").inner_text() == "configurations.xlsx row 2"
    assert "created CMO configuration: patients-feel-in-control" in report.nth(0).inner_text()
    assert "created CMO configuration: patients-feel-safer" in report.nth(1).inner_text()
    assert not CMOConfiguration.objects.filter(slug__startswith="patients-feel").exists()
    shot(page, artifacts_dir, "dry-run")

    page.locator("#import-confirm").click()
    page.wait_for_url(re.compile(r"/admin/evidence/importrun/\d+/change/$"))
    real = ImportRun.objects.first()
    assert not real.dry_run and page.url.endswith(f"/importrun/{real.pk}/change/")
    assert page.locator("#import-status").inner_text() == "queued"
    run_worker()
    page.wait_for_selector("#import-report", timeout=30000)
    assert page.locator("#import-status").inner_text() == "done"
    assert page.locator("#import-progress").get_attribute("value") == "100"
    assert page.locator("#import-report-title").inner_text() == "Written"
    assert page.get_by_test_id("import-summary").inner_text().startswith("2 CMO configuration created")
    assert set(CMOConfiguration.objects.filter(slug__startswith="patients-feel").values_list("slug", flat=True)) == {
        "patients-feel-in-control", "patients-feel-safer"}
    shot(page, artifacts_dir, "written")

    page.locator("#import-undo").click()
    page.wait_for_selector(".messagelist .success")
    assert f"Import #{real.pk} undone" in page.locator(".messagelist").inner_text()
    assert page.locator("#import-status").inner_text() == "undone"
    assert page.locator("#import-undo").count() == 0
    assert not CMOConfiguration.objects.filter(slug__startswith="patients-feel").exists()
    shot(page, artifacts_dir, "undone")

    # The Imports list shows both runs.
    page.goto(live_server.url + "/admin/evidence/importrun/")
    assert page.locator("#result_list tbody tr").count() == 2
    assert errors == [] and failed == [], (errors, failed)
