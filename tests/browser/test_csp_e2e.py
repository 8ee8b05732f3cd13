"""The Content-Security-Policy in a real Chromium: the public pages, the admin, Swagger UI and ReDoc
render under it with no violation and without asking any other origin for anything (ReDoc's bundle
would fetch its vendor's logo from cdn.redoc.ly; cmo_kb/api_docs.py serves it without)."""

import os
from urllib.parse import urlsplit

import pytest

from tests.pages.builders import fill_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Watch:
    """Everything that would show a page broke under the CSP: violation events, console errors, page
    errors, and any request to another origin."""

    def __init__(self, page, origin):
        self.problems = []
        self.page = page
        def on_console(msg):
            # The admin's pages link no icon, so Chromium's own /favicon.ico probe 404s: not a CSP matter.
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
                self.problems.append(f"console: {msg.text} ({msg.location.get('url')})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))

        def on_request(request):
            parts = urlsplit(request.url)
            if parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" != origin:
                self.problems.append(f"foreign request: {request.url}")

        page.on("request", on_request)
        page.on("response", lambda r: self.problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
        # securitypolicyviolation fires on the document for every blocked load, inline script or style.
        page.add_init_script(
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', e =>"
            " window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"
        )

    def goto(self, url):
        response = self.page.goto(url)
        assert response.status == 200, url
        assert "'self'" in response.headers["content-security-policy"], url
        return response

    def violations(self):
        return self.page.evaluate("window.__cspViolations")


def shot(page, artifacts_dir, name, full_page=True):
    page.screenshot(path=os.path.join(artifacts_dir, f"csp-{name}.png"), full_page=full_page)


def test_public_pages_and_admin_render_under_the_csp(live_server, page, kb, evaluator, artifacts_dir):
    site = fill_story(kb)
    watch = Watch(page, live_server.url)
    for path in ["/", "/programmes/ctg/", "/programmes/ctg/teams/shc/", "/programmes/ctg/matrix/", "/programmes/ctg/configurations/shc-fear/", "/programmes/ctg/search/?q=nurses",
                 f"/excerpts/{site.q_jobs.pk}/"]:
        watch.goto(live_server.url + path)
        assert watch.violations() == [], path
        # The app's own stylesheet applied (a blocked stylesheet would leave the header unpainted).
        assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor") == "rgb(29, 79, 110)"
    watch.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", evaluator.username)
    page.fill("#id_password", "pw-" + evaluator.username)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    assert watch.violations() == []
    for path in ["/programmes/new/", "/admin/", "/admin/mechanisms/cmoconfiguration/",
                 f"/admin/mechanisms/cmoconfiguration/{site.shc_fear.pk}/change/",
                 f"/admin/mechanisms/cmoconfiguration/{site.shc_fear.pk}/history/",
                 f"/admin/evidence/source/{site.source.pk}/code/"]:
        watch.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert watch.violations() == [], path
    shot(page, artifacts_dir, "admin-change-form")
    assert watch.problems == []


def test_swagger_ui_renders_under_the_csp(live_server, page, db, artifacts_dir):
    watch = Watch(page, live_server.url)
    response = watch.goto(live_server.url + "/api/docs/")
    assert "'nonce-" in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title")
    assert "CMO KB API" in page.locator(".swagger-ui .info .title").inner_text()
    # Every resource's tag is there (they start closed: SWAGGER_UI_SETTINGS docExpansion "none");
    # open one, then one of its operations, and see its parameters.
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert {"auth", "configurations", "excerpts", "export", "matrix", "wish-dimensions"} <= {t.split()[0] for t in tags if t}, tags
    page.locator(".opblock-tag", has_text="configurations").first.click()
    page.locator(".opblock-summary-path", has_text="/api/configurations/").first.click()
    page.wait_for_selector(".opblock.is-open .parameters")
    page.wait_for_load_state("networkidle")
    shot(page, artifacts_dir, "swagger")
    assert watch.violations() == []
    assert watch.problems == []


def test_redoc_renders_under_the_csp_and_fetches_no_vendor_logo(live_server, page, db, artifacts_dir):
    watch = Watch(page, live_server.url)
    response = watch.goto(live_server.url + "/api/redoc/")
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    page.wait_for_selector("h1", timeout=30000)
    assert "CMO KB API" in page.locator("h1").first.inner_text()
    # ReDoc's side menu lists the operations, and its footer has no image from elsewhere.
    assert page.locator("[role=menuitem]").count() > 20
    page.wait_for_load_state("networkidle")
    footer_images = page.evaluate("[...document.querySelectorAll('img')].map(i => i.src)")
    assert all(src.startswith(("data:", live_server.url)) for src in footer_images), footer_images
    shot(page, artifacts_dir, "redoc", full_page=False)  # the whole ReDoc page is too tall to capture
    assert watch.violations() == []
    assert watch.problems == []
