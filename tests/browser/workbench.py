"""Steps in the workbench (the admin) that several browser tests take."""


def log_in(page, live_server, username):
    """Sign in at the admin's login page with the suite's password for `username` (tests/conftest.py)."""
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def choose(page, select_id, term, label):
    """Pick `label` in the admin's select2 autocomplete for <select id=select_id>, searching `term`."""
    page.click(f"#{select_id} + .select2 .select2-selection")
    search = page.locator(".select2-container--open .select2-search__field").last
    search.fill(term)
    page.locator(".select2-results__option:not(.loading-results)", has_text=label).first.click()
