"""Public pages about the evidence: a quote in its place in the source, and search."""

from django.shortcuts import get_object_or_404, render
from django.utils.html import escape
from django.utils.safestring import mark_safe

from cmo_kb.vocabulary import ReviewStatus

from .models import EvidenceExcerpt, EvidenceLink

PUBLISHED = ReviewStatus.PUBLISHED
# How much of the source to show either side of a quote, before snapping to a paragraph break.
CONTEXT_CHARS = 1400


def _paragraph_start(text, position, limit):
    """Start of the paragraph at or before `position`, no further back than `limit`."""
    cut = text.rfind("\n\n", limit, position)
    return cut + 2 if cut != -1 else limit


def _paragraph_end(text, position, limit):
    cut = text.find("\n\n", position, limit)
    return cut if cut != -1 else limit


def source_window(excerpt, chars=CONTEXT_CHARS):
    """The source text around an excerpt, cut at paragraph breaks, with the excerpt marked.

    Returns (html, starts_at_beginning, ends_at_end). The text is escaped here and shown with
    white-space: pre-wrap, so the source's own line breaks survive."""
    full = excerpt.source.full_text
    lo = _paragraph_start(full, max(0, excerpt.start - 200), max(0, excerpt.start - chars))
    hi = _paragraph_end(full, min(len(full), excerpt.end + 200), min(len(full), excerpt.end + chars))
    before, quote, after = full[lo : excerpt.start], full[excerpt.start : excerpt.end], full[excerpt.end : hi]
    html = (
        f"{escape(before.lstrip())}"
        f'<mark id="quote" class="quote-mark">{escape(quote)}</mark>'
        f"{escape(after.rstrip())}"
    )
    return mark_safe(html), lo == 0, hi == len(full)


def excerpt_detail(request, pk):
    """5 queries: the excerpt (with source, team, role, wave), its published links (with
    configuration and mechanism), the previous and next excerpts in the same source, and the
    key figures it states."""
    excerpt = get_object_or_404(
        EvidenceExcerpt.objects.select_related("source", "source__kind", "team", "speaker_role", "wave"), pk=pk
    )
    links = list(
        EvidenceLink.objects.filter(excerpt=excerpt, configuration__status=PUBLISHED)
        .select_related("configuration", "configuration__mechanism", "configuration__theme")
        .order_by("configuration__slug", "part")
    )
    configurations = {}
    for link in links:
        entry = configurations.setdefault(link.configuration_id, {"configuration": link.configuration, "links": []})
        entry["links"].append(link)
    neighbours = EvidenceExcerpt.objects.filter(source_id=excerpt.source_id).only("pk", "slug", "start", "text")
    previous = neighbours.filter(start__lt=excerpt.start).order_by("-start").first()
    following = neighbours.filter(start__gt=excerpt.start).order_by("start").first()
    window, at_beginning, at_end = source_window(excerpt)
    crumbs = [("Evidence", "/search/")]
    if excerpt.team_id:
        crumbs = [("Teams", "/teams/"), (str(excerpt.team), excerpt.team.get_absolute_url())]
    return render(
        request,
        "evidence/excerpt_detail.html",
        {
            "excerpt": excerpt,
            "section_path": [part.strip() for part in excerpt.section.replace(">", "›").split("›") if part.strip()],
            "configurations": list(configurations.values()),
            "key_figures": list(excerpt.key_figures.select_related("team")),
            "previous": previous,
            "following": following,
            "window": window,
            "at_beginning": at_beginning,
            "at_end": at_end,
            "nav_section": "evidence",
            "breadcrumbs": crumbs + [("Quote in context" if excerpt.kind == "participant_quote" else "Excerpt in context", None)],
        },
    )


def search(request):  # placeholder until evidence/search.py lands
    return render(request, "evidence/search.html", {"q": request.GET.get("q", "")})
