"""The Content-Security-Policy header (django-csp, CONTENT_SECURITY_POLICY in cmo_kb/settings.py) and
the API docs pages' nonces; ReDoc's bundle as cmo_kb/api_docs.py serves it. The browser half is
tests/browser/test_csp_e2e.py."""

import gzip
import re

import pytest
from django.contrib.staticfiles import finders

from cmo_kb import api_docs


def policy(response):
    return dict(
        (part.split(" ", 1) + [""])[:2] for part in (p.strip() for p in response["Content-Security-Policy"].split(";"))
    )


def test_public_pages_get_a_strict_policy_without_nonce(db, client):
    response = client.get("/")
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["img-src"] == "'self' data:"
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_api_responses_carry_the_policy(db, anon_client):
    assert policy(anon_client.get("/api/teams/"))["default-src"] == "'self'"


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_inline_code_carries_the_nonce_of_the_header(db, anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 200
    directives = policy(response)
    nonce = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9+/=]+)'", directives["script-src"]).group(1)
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'"
    html = response.content.decode()
    inline = re.findall(r"<(script|style)(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
    assert inline, html
    for tag, attributes in inline:
        assert f'nonce="{nonce}"' in attributes, (tag, attributes)
    # A new nonce on every response.
    assert nonce not in anon_client.get(url)["Content-Security-Policy"]


def test_redoc_gets_the_nonce_as_its_option_for_the_styles_it_injects(db, anon_client):
    response = anon_client.get("/api/redoc/")
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    config = re.search(r'<script id="redoc-config" type="application/json">(.*?)</script>', response.content.decode())
    assert f'"nonce": "{nonce}"' in config.group(1)
    assert '"schema_url": "/api/schema/"' in config.group(1)
    assert '<script src="/api/redoc/redoc.standalone.js" nonce="' in response.content.decode()


def test_redoc_bundle_is_served_without_the_vendor_logo():
    with open(finders.find(api_docs.REDOC_BUNDLE), encoding="utf-8") as handle:
        original = handle.read()
    assert api_docs.REDOC_VENDOR_LOGO in original  # what there is to take out
    body, gzipped, etag = api_docs.redoc_bundle()
    assert b"cdn.redoc.ly" not in body
    assert api_docs.EMPTY_IMAGE.encode() in body
    assert api_docs.REDOC_NONCE_FROM_SCRIPT.encode() in body and api_docs.REDOC_NONCE_DEFAULT.encode() not in body
    assert len(body) == len(original.encode()) - len(api_docs.REDOC_VENDOR_LOGO) + len(api_docs.EMPTY_IMAGE) \
        - len(api_docs.REDOC_NONCE_DEFAULT) + len(api_docs.REDOC_NONCE_FROM_SCRIPT)
    assert gzip.decompress(gzipped) == body


def test_redoc_bundle_view_compresses_and_revalidates(db, client):
    response = client.get("/api/redoc/redoc.standalone.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Content-Encoding"] == "gzip"
    assert response["Vary"] == "Accept-Encoding"
    assert b"cdn.redoc.ly" not in gzip.decompress(response.content)
    again = client.get("/api/redoc/redoc.standalone.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    plain = client.get("/api/redoc/redoc.standalone.js")
    assert "Content-Encoding" not in plain
    assert plain.content == api_docs.redoc_bundle()[0]
    assert client.post("/api/redoc/redoc.standalone.js").status_code == 405
