from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "CMO KB workbench"
admin.site.site_title = "CMO KB workbench"
admin.site.index_title = "Curate configurations and their evidence"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Downloads for QDA tools (REFI-QDA .qdpx / .qdc), before the API router so its paths win.
    path("api/export/", include("cmo_kb.export_urls")),
    # REST API for analysts (cmo_kb/api_urls.py).
    path("api/", include("cmo_kb.api_urls")),
    # Public pages for programme staff (cmo_kb/page_urls.py).
    path("", include("cmo_kb.page_urls")),
]

# A 400, 404 or 500 under /api/ is JSON like the API's other errors; elsewhere the site's own pages.
handler400 = "cmo_kb.errors.bad_request"
handler404 = "cmo_kb.errors.not_found"
handler500 = "cmo_kb.errors.server_error"
