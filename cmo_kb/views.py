"""The programme list (the site's home page) and each programme's home: the programme in brief and
the ways into its knowledge."""

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import render

from cmo_kb.vocabulary import ReviewStatus, user_is_evaluator
from evidence.models import EvidenceExcerpt, ExcerptKind
from mechanisms.models import CMOConfiguration, Effect, EnablingMechanism, WishDimension
from projects.membership import visible_programmes
from projects.models import QualityDomain, Team
from projects.pages import programme_or_404, share_programme
from projects.views import published_counts

PUBLISHED = ReviewStatus.PUBLISHED


def _count_of(queryset):
    """How many rows of ``queryset`` (filtered on programme=OuterRef("pk")) each programme has: a
    correlated subquery, so the programme list stays one query whatever the number of programmes."""
    counted = queryset.order_by().values("programme").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def programme_list(request):
    """The programmes the visitor may see (public ones, those they are a member of; superusers all),
    each with its teams and published configurations counted. 1 query (the programmes with both
    counts as subqueries), + 1 for a signed-in visitor (whether they are an evaluator, who may start
    a programme), besides the session's own."""
    programmes = list(
        visible_programmes(request.user).annotate(
            team_count=_count_of(Team.objects.filter(programme=OuterRef("pk"))),
            published_count=_count_of(CMOConfiguration.objects.published().filter(programme=OuterRef("pk"))),
        ).order_by("name", "pk")
    )
    return render(
        request,
        "pages/programme_list.html",
        {
            "programmes": programmes,
            "may_start_programme": request.user.is_authenticated and user_is_evaluator(request.user),
            "nav_section": "programmes",
        },
    )


def programme_home(request, programme):
    """9 queries: programme, its teams, their counts, its mechanisms (with counts), Wish dimensions,
    quality domains, its published configuration totals, its participant quote total, its programme
    theories."""
    programme = programme_or_404(request, programme)
    teams = share_programme(programme, published_counts(Team.objects.filter(programme=programme)))
    published = Q(configurations__status=PUBLISHED)
    mechanisms = share_programme(programme, list(
        EnablingMechanism.objects.filter(programme=programme).annotate(
            published_count=Count("configurations", filter=published, distinct=True),
            triggered_count=Count(
                "configurations", filter=published & Q(configurations__effect=Effect.TRIGGERED), distinct=True
            ),
            disabled_count=Count(
                "configurations", filter=published & Q(configurations__effect=Effect.DISABLED), distinct=True
            ),
        )
    ))
    totals = CMOConfiguration.objects.published().filter(programme=programme).aggregate(
        configurations=Count("pk"),
        disabled=Count("pk", filter=Q(effect=Effect.DISABLED)),
    )
    totals["quotes"] = EvidenceExcerpt.objects.filter(
        source__programme=programme, kind=ExcerptKind.PARTICIPANT_QUOTE
    ).count()
    from mechanisms.theories import ProgrammeTheory

    theories = list(ProgrammeTheory.objects.filter(programme=programme).only("slug", "name", "description").order_by("name"))
    return render(
        request,
        "pages/home.html",
        {
            "programme": programme,
            "teams": teams,
            "mechanisms": mechanisms,
            "dimensions": list(WishDimension.objects.all()),
            "quality_domains": list(QualityDomain.objects.all()),
            "totals": totals,
            "theories": theories,
            "nav_section": "home",
        },
    )
