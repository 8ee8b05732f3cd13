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

from .theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry, Verdict


def theory_diagram(theory, programme):
    """The theory as it stands: the configurations of its latest published version (a refined one as
    the configuration that replaced it; refuted ones left out), with the chain links among them, as
    a diagram (mechanisms/diagram.py). 2 queries (their parts, the links); none without entries."""
    from mechanisms.chains import ConfigurationChain
    from mechanisms.diagram import MAX_DRAWN, Drawn, diagram_figure

    if not theory.shown_versions:
        return ""
    latest = theory.shown_versions[-1]
    standing = []
    for entry in latest.shown_entries:
        if entry.verdict == Verdict.REFUTED:
            continue
        configuration = entry.replaced_by if entry.verdict == Verdict.REFINED and entry.replaced_by else entry.configuration
        if configuration not in standing:
            standing.append(configuration)
    if not standing:
        return ""
    drawn = Drawn.load(standing[:MAX_DRAWN], programme_slug=programme.slug)
    ids = [d.pk for d in drawn]
    links = ConfigurationChain.objects.filter(from_configuration_id__in=ids, to_configuration_id__in=ids).values_list(
        "from_configuration_id", "to_configuration_id")
    return diagram_figure(drawn, list(links), more=len(standing) - len(drawn),
                          label=f"{theory.name}, as version {latest.number} states it", id_prefix="theory-diagram")


def theory_detail(request, programme, slug):
    """5 queries: the programme, the theory, its published versions (with wave and source), their
    entries shown (with both configurations), the entries' evidence; +2 for the diagram of the
    latest version (its configurations' parts, the chain links among them)."""
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
            "cmo_diagram": theory_diagram(theory, programme),
            "nav_section": "home",
            "breadcrumbs": [(programme.short_name or programme.name, programme.get_absolute_url()),
                            ("Programme theories", reverse("pages:programme-home", args=[programme.slug]) + "#theories-title"),
                            (theory.name, None)],
        },
    )
