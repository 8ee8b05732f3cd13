"""The home page: the programme in brief and the ways into the knowledge base."""

from django.db.models import Count, Q
from django.shortcuts import render

from cmo_kb.vocabulary import ReviewStatus
from evidence.models import EvidenceExcerpt, ExcerptKind
from mechanisms.models import CMOConfiguration, Effect, EnablingMechanism, WishDimension
from projects.models import Programme, QualityDomain, Team
from projects.views import published_counts

PUBLISHED = ReviewStatus.PUBLISHED


def home(request):
    """8 queries: programme, teams, their counts, mechanisms (with counts), Wish dimensions,
    quality domains, published configuration totals, participant quote total."""
    programme = Programme.objects.order_by("pk").first()
    teams = list(published_counts(Team.objects.all()))
    published = Q(configurations__status=PUBLISHED)
    mechanisms = list(
        EnablingMechanism.objects.annotate(
            published_count=Count("configurations", filter=published, distinct=True),
            triggered_count=Count(
                "configurations", filter=published & Q(configurations__effect=Effect.TRIGGERED), distinct=True
            ),
            disabled_count=Count(
                "configurations", filter=published & Q(configurations__effect=Effect.DISABLED), distinct=True
            ),
        )
    )
    totals = CMOConfiguration.objects.published().aggregate(
        configurations=Count("pk"),
        disabled=Count("pk", filter=Q(effect=Effect.DISABLED)),
    )
    totals["quotes"] = EvidenceExcerpt.objects.filter(kind=ExcerptKind.PARTICIPANT_QUOTE).count()
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
            "nav_section": "home",
        },
    )
