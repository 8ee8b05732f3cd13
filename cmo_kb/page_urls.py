"""URLs of the public pages, mounted at /."""

urlpatterns = []
