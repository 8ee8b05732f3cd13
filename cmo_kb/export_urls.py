"""Downloads for QDA tools, mounted at /api/export/ (evidence/export_views.py)."""

from django.urls import path

from evidence.export_views import CodebookExportView, ProjectExportView

urlpatterns = [
    path("qdpx/", ProjectExportView.as_view(), name="export-qdpx"),
    path("qdc/", CodebookExportView.as_view(), name="export-qdc"),
]
