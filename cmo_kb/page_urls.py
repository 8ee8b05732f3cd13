"""URLs of the public pages, mounted at /. Names live in the "pages" namespace.

`/` lists the programmes the visitor may see. Each programme's knowledge lives under its own
address, /programmes/<programme>/ (its teams, mechanisms, matrix, configurations and search); the
shared frameworks' pages (Wish dimensions, quality domains) and the excerpts are global.

Every page only reads: anything but GET or HEAD is a 405 (not a page rendered for a POST). The one
form, /programmes/new/, takes a POST.

The addresses from before programmes (/teams/..., /mechanisms/..., /matrix/, /configurations/...,
/search/) were Closing the Gap's: they redirect (301, query string kept) to its /programmes/ctg/
pages.
"""

from django.urls import path as django_path
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView

from cmo_kb import views as home_views
from evidence import views as evidence_views
from mechanisms import theory_views
from mechanisms import views as mechanism_views
from projects import views as team_views
from projects.pages import FIRST_PROGRAMME

app_name = "pages"


def path(route, view, name):
    return django_path(route, require_safe(view), name=name)


def moved(route, name):
    """The old address `route` of Closing the Gap's page, redirecting to its programme address."""
    target = f"/programmes/{FIRST_PROGRAMME}/" + route.replace("<slug:slug>", "%(slug)s")
    return path(route, RedirectView.as_view(url=target, query_string=True, permanent=True), name)


PROGRAMME = "programmes/<slug:programme>/"

urlpatterns = [
    path("", home_views.programme_list, name="home"),
    # Before the programme's address, or "new" would be read as a programme's slug.
    django_path("programmes/new/", team_views.programme_new, name="programme-new"),
    path(PROGRAMME, home_views.programme_home, name="programme-home"),
    path(PROGRAMME + "teams/", team_views.team_list, name="team-list"),
    path(PROGRAMME + "teams/<slug:slug>/", team_views.team_detail, name="team-detail"),
    path(PROGRAMME + "mechanisms/", mechanism_views.mechanism_list, name="mechanism-list"),
    path(PROGRAMME + "mechanisms/<slug:slug>/", mechanism_views.mechanism_detail, name="mechanism-detail"),
    path(PROGRAMME + "matrix/", mechanism_views.matrix, name="matrix"),
    path(PROGRAMME + "configurations/", mechanism_views.configuration_list, name="configuration-list"),
    path(PROGRAMME + "configurations/<slug:slug>/", mechanism_views.configuration_detail, name="configuration-detail"),
    path(PROGRAMME + "search/", evidence_views.search, name="search"),
    path(PROGRAMME + "theories/<slug:slug>/", theory_views.theory_detail, name="theory-detail"),
    # The shared frameworks and the evidence: across programmes, counting what the visitor may see.
    path("wish/", mechanism_views.wish_list, name="wish-list"),
    path("wish/<slug:slug>/", mechanism_views.wish_detail, name="wish-detail"),
    path("quality-domains/", mechanism_views.quality_domain_list, name="quality-domain-list"),
    path("quality-domains/<slug:slug>/", mechanism_views.quality_domain_detail, name="quality-domain-detail"),
    path("excerpts/<int:pk>/", evidence_views.excerpt_detail, name="excerpt-detail"),
    # The addresses from before programmes.
    moved("teams/", "moved-team-list"),
    moved("teams/<slug:slug>/", "moved-team-detail"),
    moved("mechanisms/", "moved-mechanism-list"),
    moved("mechanisms/<slug:slug>/", "moved-mechanism-detail"),
    moved("matrix/", "moved-matrix"),
    moved("configurations/", "moved-configuration-list"),
    moved("configurations/<slug:slug>/", "moved-configuration-detail"),
    moved("search/", "moved-search"),
]
