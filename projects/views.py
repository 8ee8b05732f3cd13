"""Public pages about a programme's funded teams: the list and each team's improvement story; and
the form that starts a programme."""

from django.db.models import Count, F, Q
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from cmo_kb.vocabulary import ReviewStatus
from mechanisms.models import CMOConfiguration, Effect
from mechanisms.models import WishShift
from mechanisms.views import (
    CARDS_PER_GROUP,
    THEME_ORDER,
    attach_evidence,
    cited_excerpt_count,
    configuration_cards,
    dimensions_with_poles,
    effect_summary,
    first_of_each,
    group_by_mechanism,
    wish_profile_counts,
)

from .models import Team, TeamQualityDomain, TeamRelationshipLevel
from .pages import in_programme, programme_or_404, share_programme

PUBLISHED = ReviewStatus.PUBLISHED


def published_counts(queryset):
    """The teams of `queryset` as a list, each with published_count, triggered_count and
    disabled_count: 2 queries (the teams; one GROUP BY over the team links of published
    configurations). A (configuration, team) link is unique, so no COUNT(DISTINCT) over a join of
    every configuration, which cost ~0.5 s at 100k configurations."""
    teams = list(queryset)
    counts = {
        team_id: (total, triggered, disabled)
        for team_id, total, triggered, disabled in CMOConfiguration.teams.through.objects.filter(
            cmoconfiguration__status=PUBLISHED, team__in=queryset.order_by().values("pk")
        )
        .order_by()
        .values("team")
        .annotate(
            total=Count("pk"),
            triggered=Count("pk", filter=Q(cmoconfiguration__effect=Effect.TRIGGERED)),
            disabled=Count("pk", filter=Q(cmoconfiguration__effect=Effect.DISABLED)),
        )
        .values_list("team", "total", "triggered", "disabled")
    }
    for team in teams:
        team.published_count, team.triggered_count, team.disabled_count = counts.get(team.pk, (0, 0, 0))
    return teams


def team_list(request, programme):
    """3 queries: the programme, its teams, their published configuration counts."""
    programme = programme_or_404(request, programme)
    teams = share_programme(programme, published_counts(Team.objects.filter(programme=programme)))
    return render(
        request, "projects/team_list.html",
        {"programme": programme, "teams": teams, "nav_section": "teams",
         "breadcrumbs": [(programme.short_name or programme.name, programme.get_absolute_url()), ("Teams", None)]},
    )


def team_diagram(team, cards, total, list_url):
    """The story's diagram: the first MAX_DRAWN of the configurations the page shows as cards (their
    parts are prefetched), "and K more" for the rest of the team's ``total``, and the chain links
    among those drawn (1 query, none when there are no cards)."""
    from mechanisms.chains import ConfigurationChain
    from mechanisms.diagram import MAX_DRAWN, Drawn, diagram_figure

    if not cards:
        return ""
    drawn = [Drawn.of(c) for c in cards[:MAX_DRAWN]]
    ids = [d.pk for d in drawn]
    links = ConfigurationChain.objects.filter(from_configuration_id__in=ids, to_configuration_id__in=ids).values_list(
        "from_configuration_id", "to_configuration_id")
    return diagram_figure(drawn, list(links), more=total - len(drawn), more_url=list_url,
                          label=f"What worked and what did not for {team.short_name or team.name}, as a diagram",
                          id_prefix="story-diagram")


def team_detail(request, programme, slug):
    """The improvement story. 20 queries whatever the team's size (19 when it has no published
    configuration, so no diagram):
    team (with its programme, which the visitor must be able to see), key figures (with evidence), quality domains, relationship levels,
    the summary (1 aggregate), the excerpts cited, configurations per mechanism (1 aggregate), the
    ids of the first CARDS_PER_GROUP configurations of each mechanism, their cards + 7 prefetches, Wish dimensions + poles,
    the Wish profile (1 aggregate), the chain links among the configurations the diagram draws.

    The first screen tells the story from aggregates; each mechanism shows its first few
    configurations and links to all of them in the configuration list (which pages)."""
    team = in_programme(Team.objects.all(), request, programme).filter(slug=slug).first()
    if team is None:
        raise Http404("No team of this programme has this address.")
    programme = team.programme
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
    published = CMOConfiguration.objects.published().filter(teams=team)
    summary = effect_summary(published)
    summary["quotes"] = cited_excerpt_count(published)
    per_mechanism = dict(published.order_by().values("mechanism").annotate(n=Count("pk")).values_list("mechanism", "n"))
    configurations = attach_evidence(list(
        configuration_cards(first_of_each(published, "mechanism", [THEME_ORDER, F("slug").asc()]))
        .order_by(THEME_ORDER, "slug")
    ))
    groups = []
    list_url = reverse("pages:configuration-list", args=[programme.slug])
    for mechanism, items in group_by_mechanism(configurations):
        count = per_mechanism.get(mechanism.pk if mechanism else None, len(items))
        more_url = f"{list_url}?team={team.slug}" + (f"&mechanism={mechanism.slug}" if mechanism else "")
        groups.append({"mechanism": mechanism, "configurations": items, "count": count,
                       "hidden": count - len(items), "more_url": more_url})
    cmo_diagram = team_diagram(team, configurations, summary["total"], f"{list_url}?team={team.slug}")
    dimensions = dimensions_with_poles()
    profile = wish_profile_counts(
        WishShift.objects.filter(configuration__in=published.order_by().values("pk")), dimensions
    )
    return render(
        request,
        "projects/team_detail.html",
        {
            "programme": programme,
            "team": team,
            "key_figures": key_figures,
            "quality_domains": quality_domains,
            "relationship_levels": relationship_levels,
            "groups": groups,
            "configurations": configurations,
            "cmo_diagram": cmo_diagram,
            "cards_per_group": CARDS_PER_GROUP,
            "profile": profile,
            "profile_has_shifts": any(r["left"] or r["right"] for r in profile),
            "summary": summary,
            "nav_section": "teams",
            "breadcrumbs": [
                (programme.short_name or programme.name, programme.get_absolute_url()),
                ("Teams", reverse("pages:team-list", args=[programme.slug])),
                (team.short_name or team.name, None),
            ],
        },
    )


def programme_new(request):
    """Start a programme (GET: the form; POST: create it). Evaluators only: a visitor who is not
    signed in is sent to sign in, a signed-in one who is no evaluator gets a 403 saying why. A form
    with errors comes back as a 400, each error under its field and named in a summary above.
    The creator becomes the programme's lead (projects/membership.py); the request's user is the
    one acting (mechanisms.publish_lock.ActingUserMiddleware)."""
    from django.contrib.auth.views import redirect_to_login
    from django.db import IntegrityError
    from django.http import HttpResponseNotAllowed
    from django.shortcuts import redirect

    from cmo_kb.vocabulary import user_is_evaluator

    from .forms import ProgrammeForm

    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not user_is_evaluator(request.user):
        return render(request, "pages/forbidden.html", {
            "title": "Only evaluators can start a programme",
            "message": "Starting a programme needs an evaluator or lead evaluator. Ask one to start it and add you as a member.",
        }, status=403)
    form = ProgrammeForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            programme = form.save()
        except IntegrityError:
            pass  # the form names the field (save added the error)
        else:
            return redirect(programme.get_absolute_url())
    return render(
        request,
        "projects/programme_form.html",
        {"form": form, "nav_section": "programmes", "breadcrumbs": [("New programme", None)]},
        status=400 if form.errors else 200,
    )
