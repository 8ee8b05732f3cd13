"""Downloads for QDA tools, mounted at /api/export/."""

urlpatterns = []
