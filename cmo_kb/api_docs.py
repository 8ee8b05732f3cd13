"""Swagger UI (/api/docs/) and ReDoc (/api/redoc/) under the site's Content-Security-Policy.

Both pages come from drf-spectacular-sidecar's static files. Their inline <style>/<script> blocks carry
the request's CSP nonce (templates/api/); ReDoc gets the nonce as its `nonce` option too, so the
styles it injects at run time (styled-components) carry it. ReDoc's bundle hard-codes its vendor's
logo, https://cdn.redoc.ly/redoc/logo-mini.svg, in the side menu's "API docs by Redocly" footer, with
no option to turn it off: /api/redoc/redoc.standalone.js serves the sidecar's bundle with that URL
replaced by an empty inline image, so the page fetches nothing from another origin. The same bundle
injects two <style> elements while it loads, before Redoc.init can pass the nonce: its webpack
runtime's nonce (`__webpack_require__.nc`, minified `r.nc=void 0`) is taken from the nonce of the
<script> element that loads it instead.
"""

import gzip
import hashlib
import json
from functools import lru_cache

from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_VENDOR_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# An image of no size: the footer keeps its text link and loads nothing.
EMPTY_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='0' height='0'/%3E"
REDOC_NONCE_DEFAULT = "r.nc=void 0"
REDOC_NONCE_FROM_SCRIPT = "r.nc=(document.currentScript||{}).nonce||void 0"


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI with the CSP nonce on its inline style and initialisation script."""

    template_name = "api/swagger_ui.html"


class RedocView(SpectacularRedocView):
    """ReDoc without Google Fonts, with the CSP nonce, from the logo-free bundle below."""

    template_name = "api/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        options = json.loads(response.data["settings"] or "{}")
        options["nonce"] = str(request.csp_nonce)
        response.data.update(
            redoc_standalone=reverse("api:redoc-bundle"),
            redoc_config={"schema_url": response.data["schema_url"], "options": options},
        )
        return response


@lru_cache(maxsize=1)
def redoc_bundle():
    """(body, gzipped body, ETag) of ReDoc's bundle without the vendor logo; read once per process."""
    path = finders.find(REDOC_BUNDLE)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for needle in (REDOC_VENDOR_LOGO, REDOC_NONCE_DEFAULT):
        if text.count(needle) != 1:
            # A new sidecar release changed the bundle: fail loudly rather than load from a CDN.
            raise ImproperlyConfigured(f"{REDOC_BUNDLE} no longer contains {needle!r} once; update cmo_kb/api_docs.py.")
    text = text.replace(REDOC_VENDOR_LOGO, EMPTY_IMAGE).replace(REDOC_NONCE_DEFAULT, REDOC_NONCE_FROM_SCRIPT)
    body = text.encode("utf-8")
    etag = '"%s"' % hashlib.sha256(body).hexdigest()[:32]
    return body, gzip.compress(body, compresslevel=6, mtime=0), etag


@require_safe
def redoc_bundle_view(request):
    body, gzipped, etag = redoc_bundle()
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(gzipped, content_type="text/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=86400"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
