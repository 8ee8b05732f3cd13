"""The public page of a programme theory: its timeline, version by version (mechanisms/theories.py).

Public pages show published knowledge only, to evaluators too (they see drafts in the workbench):
published versions, and in each the entries about published configurations (replaced, if refined,
by a published one)."""

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from evidence.models import EvidenceExcerpt
from projects.pages import programme_or_404

from .theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry


def theory_detail(request, programme, slug):
    """5 queries: the programme, the theory, its published versions (with wave and source), their
    entries shown (with both configurations), the entries' evidence."""
    programme = programme_or_404(request, programme)
    entries = (TheoryVersionEntry.objects.filter(TheoryVersionEntry.reader_condition())
               .select_related("configuration", "replaced_by")
               .defer("configuration__search_vector", "configuration__search_text",
                      "replaced_by__search_vector", "replaced_by__search_text")
               .prefetch_related(Prefetch("evidence", queryset=EvidenceExcerpt.objects.defer("search_vector")
                                          .order_by("source_id", "start")))
               .order_by("configuration__slug"))
    versions = (TheoryVersion.objects.published().select_related("prompted_by_wave", "prompted_by_source")
                .defer("prompted_by_source__full_text", "prompted_by_source__outline")
                .prefetch_related(Prefetch("entries", queryset=entries, to_attr="shown_entries"))
                .order_by("number"))
    theory = (ProgrammeTheory.objects.filter(programme=programme, slug=slug)
              .prefetch_related(Prefetch("versions", queryset=versions, to_attr="shown_versions")).first())
    if theory is None:
        raise Http404("This programme has no theory at this address.")
    theory.programme = programme
    for version in theory.shown_versions:
        version.verdict_counts = {}
        for entry in version.shown_entries:
            version.verdict_counts[entry.get_verdict_display()] = version.verdict_counts.get(entry.get_verdict_display(), 0) + 1
    return render(
        request,
        "mechanisms/theory_detail.html",
        {
            "programme": programme,
            "theory": theory,
            "versions": theory.shown_versions,
            "nav_section": "home",
            "breadcrumbs": [(programme.short_name or programme.name, programme.get_absolute_url()),
                            ("Programme theories", reverse("pages:programme-home", args=[programme.slug]) + "#theories-title"),
                            (theory.name, None)],
        },
    )
