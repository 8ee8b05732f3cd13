"""URLs of the public pages, mounted at /. Names live in the "pages" namespace.

Every page only reads: anything but GET or HEAD is a 405 (not a page rendered for a POST).
"""

from django.urls import path as django_path
from django.views.decorators.http import require_safe

from cmo_kb import views as home_views
from evidence import views as evidence_views
from mechanisms import views as mechanism_views
from projects import views as team_views

app_name = "pages"


def path(route, view, name):
    return django_path(route, require_safe(view), name=name)


urlpatterns = [
    path("", home_views.home, name="home"),
    path("teams/", team_views.team_list, name="team-list"),
    path("teams/<slug:slug>/", team_views.team_detail, name="team-detail"),
    path("mechanisms/", mechanism_views.mechanism_list, name="mechanism-list"),
    path("mechanisms/<slug:slug>/", mechanism_views.mechanism_detail, name="mechanism-detail"),
    path("wish/", mechanism_views.wish_list, name="wish-list"),
    path("wish/<slug:slug>/", mechanism_views.wish_detail, name="wish-detail"),
    path("quality-domains/", mechanism_views.quality_domain_list, name="quality-domain-list"),
    path("quality-domains/<slug:slug>/", mechanism_views.quality_domain_detail, name="quality-domain-detail"),
    path("matrix/", mechanism_views.matrix, name="matrix"),
    path("configurations/", mechanism_views.configuration_list, name="configuration-list"),
    path("configurations/<slug:slug>/", mechanism_views.configuration_detail, name="configuration-detail"),
    path("search/", evidence_views.search, name="search"),
    path("excerpts/<int:pk>/", evidence_views.excerpt_detail, name="excerpt-detail"),
]
