"""Public pages about the funded teams: the list and each team's improvement story."""

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render

from cmo_kb.vocabulary import ReviewStatus
from mechanisms.models import CMOConfiguration, Effect, Influence
from mechanisms.views import THEME_ORDER, attach_evidence, configuration_cards, dimensions_with_poles, group_by_mechanism, wish_profile

from .models import Team, TeamQualityDomain, TeamRelationshipLevel

PUBLISHED = ReviewStatus.PUBLISHED


def published_counts(queryset):
    """Annotate teams with their published configurations, triggered and disabled (no extra query)."""
    published = Q(configurations__status=PUBLISHED)
    return queryset.annotate(
        published_count=Count("configurations", filter=published, distinct=True),
        triggered_count=Count("configurations", filter=published & Q(configurations__effect=Effect.TRIGGERED), distinct=True),
        disabled_count=Count("configurations", filter=published & Q(configurations__effect=Effect.DISABLED), distinct=True),
    )


def team_list(request):
    """1 query: the teams with their published configuration counts."""
    teams = published_counts(Team.objects.all())
    return render(
        request, "projects/team_list.html", {"teams": teams, "nav_section": "teams", "breadcrumbs": [("Teams", None)]}
    )


def team_detail(request, slug):
    """The improvement story. 14 queries whatever the team's size:
    team (with programme), key figures (with evidence), quality domains, relationship levels,
    configurations + 7 prefetches, Wish dimensions + poles."""
    team = get_object_or_404(Team.objects.select_related("programme"), slug=slug)
    key_figures = list(team.key_figures.select_related("evidence"))
    quality_domains = list(
        TeamQualityDomain.objects.filter(team=team).select_related("quality_domain", "evidence").order_by(
            "quality_domain__order"
        )
    )
    relationship_levels = list(
        TeamRelationshipLevel.objects.filter(team=team)
        .select_related("relationship_level", "evidence")
        .order_by("relationship_level__order")
    )
    configurations = attach_evidence(
        list(configuration_cards(CMOConfiguration.objects.published().filter(teams=team)).order_by(THEME_ORDER, "slug"))
    )
    dimensions = dimensions_with_poles()
    profile = wish_profile(configurations, dimensions)
    summary = {
        "total": len(configurations),
        "triggered": sum(1 for c in configurations if c.effect == Effect.TRIGGERED),
        "disabled": sum(1 for c in configurations if c.effect == Effect.DISABLED),
        "enablers": sum(1 for c in configurations if c.influence == Influence.ENABLER),
        "barriers": sum(1 for c in configurations if c.influence == Influence.BARRIER),
        "quotes": len({e["excerpt"].pk for c in configurations for e in c.evidence}),
    }
    return render(
        request,
        "projects/team_detail.html",
        {
            "team": team,
            "key_figures": key_figures,
            "quality_domains": quality_domains,
            "relationship_levels": relationship_levels,
            "groups": group_by_mechanism(configurations),
            "configurations": configurations,
            "profile": profile,
            "profile_has_shifts": any(r["left"] or r["right"] for r in profile),
            "summary": summary,
            "nav_section": "teams",
            "breadcrumbs": [("Teams", "/teams/"), (team.short_name or team.name, None)],
        },
    )
