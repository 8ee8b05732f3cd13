"""What every page of a programme needs: the programme itself, only if the visitor may see it.

A private programme is not there for a visitor who is no member of it: its pages are a 404, as a
programme that does not exist is, so that its address tells nothing (a 403 would say it exists).
"""

from django.http import Http404

from projects.membership import visible_programmes

# The programme the knowledge base began with: the old addresses (/teams/..., /matrix/...) were its
# pages and now redirect to /programmes/ctg/....
FIRST_PROGRAMME = "ctg"


def visible_programme_ids(request):
    """The ids of the programmes the visitor may see, as a subquery (no query of its own)."""
    return visible_programmes(request.user).values("pk")


def programme_or_404(request, slug):
    """The programme at ``slug`` if the visitor may see it, else Http404: 1 query."""
    programme = visible_programmes(request.user).filter(slug=slug).first()
    if programme is None:
        raise Http404("No programme you may see has this address.")
    return programme


def in_programme(queryset, request, slug, path="programme"):
    """``queryset`` narrowed to the rows of the visible programme at ``slug``, with the programme
    joined (select_related), so that getting one row checks the programme in the same query."""
    return queryset.select_related(path).filter(**{f"{path}__slug": slug, f"{path}__in": visible_programme_ids(request)})


def share_programme(programme, rows):
    """Set ``programme`` as the loaded programme of ``rows`` (teams, mechanisms of that programme),
    so that their get_absolute_url costs no query. Returns the rows."""
    for row in rows:
        row.programme = programme
    return rows
