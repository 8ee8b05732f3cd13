"""load_ctg: the CtG knowledge base as the report implies it, idempotent reloads, curators' edits kept,
broken fixtures refused with a message that names the problem and nothing written."""

import io
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import models
from django.core.management import call_command
from django.core.management.base import CommandError

from evidence.models import EvaluationWave, EvidenceExcerpt, MeasurementInstrument, Source, SourceKind
from mechanisms.models import (
    CMOConfiguration,
    EnablingMechanism,
    Framework,
    MechanismTheme,
    Pathway,
    WishDimension,
)
from projects.models import KeyFigure, Programme, QualityDomain, RelationshipLevel, SeedRecord, Team, TeamQualityDomain

pytestmark = pytest.mark.django_db

TEAMS = ["camhs", "pathway", "mums-power", "myrecord", "peer-support-workers", "shared-haemodialysis-care", "speaking-up"]


def load(*args):
    out = io.StringIO()
    call_command("load_ctg", *args, stdout=out)
    return out.getvalue()


def totals(output):
    match = re.search(r"(\d+) created, (\d+) updated, (\d+) unchanged, (\d+) conflicts", output)
    return tuple(int(n) for n in match.groups())


def history_rows():
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model.__name__.startswith("Historical")
    }


def row_counts():
    return {model._meta.label: model.objects.count() for model in apps.get_models() if model._meta.app_label in
            ("projects", "mechanisms", "evidence")}


# --- what the report implies ------------------------------------------------------------------


def test_first_load_creates_everything_and_reports_it(ctg):
    created, updated, unchanged, conflicts = totals(ctg)
    assert (updated, unchanged, conflicts) == (0, 0, 0)
    assert created == SeedRecord.objects.count() > 100
    assert re.search(r"projects\.Team\s+7\s+0\s+0\s+0", ctg)


def test_vocabulary_counts_the_report_implies(ctg):
    assert list(Team.objects.values_list("slug", flat=True)) == TEAMS
    assert list(EnablingMechanism.objects.values_list("slug", flat=True)) == [
        "patient-beliefs", "professional-beliefs", "systems-processes", "organisational-culture"]
    assert QualityDomain.objects.count() == 6
    assert list(RelationshipLevel.objects.values_list("slug", flat=True)) == [
        "person-clinician", "person-system", "community-system"]
    assert list(EvaluationWave.objects.values_list("number", flat=True)) == [1, 2, 3]
    assert {i.abbreviation for i in MeasurementInstrument.objects.all()} == {"PAM", "CARE", "PEI", "SRUQ"}

    poles = {d.slug: [(p.slug, p.position) for p in d.poles.order_by("position")] for d in WishDimension.objects.all()}
    assert poles == {
        "power": [("dependence", -1), ("agency", 1)],
        "valence": [("hostile", -1), ("friendly", 1)],
        "intensity": [("low-intensity", -1), ("high-intensity", 1)],
        "formality": [("formal", -1), ("informal", 1)],
    }
    themes = {m.slug: [t.slug for t in m.themes.order_by("order")] for m in EnablingMechanism.objects.all()}
    assert themes == {
        "patient-beliefs": ["targeting", "patient-motivation-to-engage"],
        "professional-beliefs": ["professional-motivation-to-engage"],
        "systems-processes": ["role-of-technology", "tacit-explicit-knowledge", "ability-to-evidence"],
        "organisational-culture": ["new-roles", "organisational-priorities", "wider-relationships"],
    }
    assert MechanismTheme.objects.get(slug="tacit-explicit-knowledge").name == "The balance between tacit and explicit knowledge"
    # The report's worked example team for each RAND pathway (section 3).
    assert {p.letter: p.example_team.slug for p in Pathway.objects.select_related("example_team")} == {
        "A": "mums-power", "B": "camhs", "C": "shared-haemodialysis-care", "D": "pathway"}
    npt = Framework.objects.get(slug="npt")
    assert [c.slug for c in npt.concepts.order_by("order")] == [
        "coherence", "cognitive-participation", "collective-action", "reflexive-monitoring"]
    assert "'relational work'" in npt.concepts.get(slug="cognitive-participation").description
    assert "swap" in npt.concepts.get(slug="cognitive-participation").note
    assert Framework.objects.get(slug="diffusion-of-innovations").concepts.count() == 10


def test_programme_and_source(ctg):
    source = Source.objects.select_related("programme", "kind").get(slug="ctg-evaluation-2014")
    assert (source.programme.slug, source.kind.slug, str(source.date)) == ("ctg", "evaluation-report", "2014-06-01")
    assert len(source.full_text) == 190054
    assert source.authors == "Dr Chih Hoong Sin, Dr Heather Heathfield, Kate Fitzpatrick, Leah Benson"
    programme = source.programme
    assert (programme.funder, programme.start_year, programme.end_year) == ("The Health Foundation", 2010, 2014)
    assert "OPM" in programme.evaluator
    assert len(programme.headline_messages) >= 5


def test_every_team_has_figure_4_and_its_story(ctg):
    for team in Team.objects.all():
        for field in ("objective", "target", "scope", "delivery", "background", "aims", "achievements", "organisation"):
            assert getattr(team, field).strip(), (team.slug, field)
        assert team.aliases, team.slug
    pathway = Team.objects.get(slug="pathway")
    assert pathway.scope == "Two hospital settings: University College Hospital (UCLH) and the Royal London Hospital"
    assert "London Pathway team" in pathway.aliases
    assert Team.objects.get(slug="peer-support-workers").scope.startswith("Nottinghamshire Adult Mental Health")
    shc = Team.objects.get(slug="shared-haemodialysis-care")
    assert {"SHC", "Sharing Haemodialysis Care"} <= set(shc.aliases)
    assert "myRecords" in Team.objects.get(slug="myrecord").aliases
    assert Team.objects.get(slug="speaking-up").background.count("\n- ") == 4  # the four work streams


def test_key_figures_cite_the_excerpt_that_states_them(ctg):
    figures = {f.slug: f for f in KeyFigure.objects.select_related("evidence__source", "team")}
    assert (figures["pathway-bed-days-reduction"].value, figures["pathway-bed-days-reduction"].unit) == (Decimal("30"), "%")
    annual = figures["pathway-annual-savings"]
    assert (annual.value, annual.value_max, annual.display) == (Decimal("200000"), Decimal("500000"), "£200,000–£500,000 pa")
    assert figures["psw-new-posts"].value == 32
    assert figures["shc-dialysis-units"].value == 26
    assert figures["shc-renal-centres"].value == 6
    assert figures["shc-patients"].value == 2000
    for figure in figures.values():
        excerpt = figure.evidence
        assert excerpt.text == excerpt.source.full_text[excerpt.start : excerpt.end], figure.slug
        assert figure.display in excerpt.text, figure.slug
    assert {f.team.slug for f in figures.values()} == set(TEAMS)


def test_stated_domains_and_levels_cite_evidence_inferred_ones_explain(ctg):
    links = list(TeamQualityDomain.objects.select_related("team", "quality_domain", "evidence__source"))
    stated = {(l.team.slug, l.quality_domain.slug) for l in links if l.basis == "stated"}
    assert {("mums-power", "person-centredness"), ("mums-power", "effectiveness"), ("mums-power", "efficiency")} <= stated
    assert {d for t, d in stated if t == "speaking-up"} == set(QualityDomain.objects.values_list("slug", flat=True))
    for link in links:
        assert link.note
        if link.basis == "stated":
            e = link.evidence
            assert e is not None and e.text == e.source.full_text[e.start : e.end]
    for team in Team.objects.all():
        assert team.relationship_levels.exists(), team.slug


def test_every_excerpt_equals_its_source_span(ctg):
    full = Source.objects.get(slug="ctg-evaluation-2014").full_text
    for start, end, text in EvidenceExcerpt.objects.values_list("start", "end", "text"):
        assert full[start:end] == text


def test_seeded_configurations_are_published(ctg):
    assert CMOConfiguration.objects.exists()
    assert not CMOConfiguration.objects.exclude(status="published").exists()


# --- reloading --------------------------------------------------------------------------------


def test_second_load_is_a_no_op(ctg):
    before_rows, before_history = row_counts(), history_rows()
    output = load()
    created, updated, unchanged, conflicts = totals(output)
    assert (created, updated, conflicts) == (0, 0, 0)
    assert unchanged == SeedRecord.objects.count()
    assert f"0 created, 0 updated, {unchanged} unchanged, 0 conflicts" in output
    assert row_counts() == before_rows
    assert history_rows() == before_history


def test_load_writes_history_with_the_change_reason(ctg):
    team = Team.objects.get(slug="camhs")
    assert list(team.history.values_list("history_type", "history_change_reason")) == [("+", "load_ctg")]
    configuration = CMOConfiguration.objects.filter(teams=team).first()
    # One history row per configuration, taken after its teams/contexts/outcomes were set.
    record = configuration.history.get()
    assert (record.history_type, record.history_change_reason) == ("+", "load_ctg")
    assert [t.team_id for t in record.teams.all()] == [team.pk]


def test_curator_edit_survives_a_reload_and_is_reported(ctg):
    team = Team.objects.get(slug="camhs")
    team.objective = "Edited by a curator"
    team.save()
    configuration = CMOConfiguration.objects.order_by("slug").first()
    configuration.contexts.clear()

    output = load()
    assert "conflict: projects.Team camhs: changed since the last load (objective); left as it is" in output
    assert f"conflict: mechanisms.CMOConfiguration {configuration.slug}: changed since the last load (contexts)" in output
    assert totals(output)[1:] == (0, SeedRecord.objects.count() - 2, 2)
    assert Team.objects.get(slug="camhs").objective == "Edited by a curator"
    assert not configuration.contexts.exists()

    # --dry-run --overwrite says what it would do and does nothing.
    output = load("--overwrite", "--dry-run")
    assert "(dry run: nothing written)" in output
    assert Team.objects.get(slug="camhs").objective == "Edited by a curator"

    output = load("--overwrite")
    assert "conflict: projects.Team camhs: changed since the last load (objective); overwritten with the fixture" in output
    team.refresh_from_db()
    assert team.objective == "Collaborative decision making between children/young people and clinicians during consultations"
    assert team.history.first().history_change_reason == "load_ctg"
    assert configuration.contexts.exists()
    assert totals(load()) == (0, 0, SeedRecord.objects.count(), 0)


def test_curator_deletion_is_a_conflict_not_a_silent_recreate(ctg):
    KeyFigure.objects.get(slug="psw-new-posts").delete()
    output = load()
    assert "conflict: projects.KeyFigure psw-new-posts: changed since the last load ((deleted))" in output
    assert not KeyFigure.objects.filter(slug="psw-new-posts").exists()
    load("--overwrite")
    assert KeyFigure.objects.get(slug="psw-new-posts").value == 32


def test_a_fixture_change_updates_a_row_nobody_touched(ctg, fixtures_copy):
    teams_file = fixtures_copy / "ctg" / "teams.yaml"
    text = teams_file.read_text(encoding="utf-8")
    teams_file.write_text(text.replace('target: "General practice patients"', 'target: "General practice patients (all ages)"'), encoding="utf-8")
    output = load()
    assert totals(output)[:2] == (0, 1)
    assert re.search(r"projects\.Team\s+0\s+1\s+6\s+0", output)
    assert Team.objects.get(slug="myrecord").target == "General practice patients (all ages)"
    assert Team.objects.get(slug="myrecord").history.first().history_change_reason == "load_ctg"


def test_dry_run_writes_nothing(ctg, fixtures_copy):
    teams_file = fixtures_copy / "ctg" / "teams.yaml"
    teams_file.write_text(teams_file.read_text(encoding="utf-8").replace('short_name: "CAMHS"', 'short_name: "CAMHS-SDM"'), encoding="utf-8")
    before = history_rows()
    output = load("--dry-run")
    assert "0 created, 1 updated" in output and "(dry run: nothing written)" in output
    assert Team.objects.get(slug="camhs").short_name == "CAMHS"
    assert history_rows() == before


# --- broken fixtures --------------------------------------------------------------------------


def broken(fixtures_copy, yaml_text):
    (fixtures_copy / "ctg" / "zz-broken.yaml").write_text(yaml_text, encoding="utf-8")
    before = row_counts(), history_rows()
    with pytest.raises(CommandError) as caught:
        load()
    assert (row_counts(), history_rows()) == before, "a broken fixture must write nothing"
    message = str(caught.value)
    assert "nothing was written" in message
    return message


def test_excerpt_text_not_equal_to_source_span_is_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
excerpts:
  - slug: q-test-01
    source: ctg-evaluation-2014
    start: 0
    text: "Closing the Gap"
    kind: participant_quote
""")
    assert "ctg/zz-broken.yaml › excerpts › q-test-01 › text: does not equal the source between 0 and 15" in message
    assert "The text occurs at offset 2." in message


def test_unknown_slug_is_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
excerpts:
  - slug: q-test-01
    source: ctg-evaluation-2014
    start: 2
    text: "Closing the Gap"
    team: no-such-team
    kind: figure
""")
    assert "ctg/zz-broken.yaml › excerpts › q-test-01 › team: unknown teams slug 'no-such-team'." in message


def test_duplicate_slug_across_files_is_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
source_kinds:
  - slug: evaluation-report
    name: Another evaluation report
""")
    assert "ctg/zz-broken.yaml › source_kinds › evaluation-report: duplicate slug 'evaluation-report': also defined in fixtures/ctg/vocabulary.yaml." in message


def test_unknown_key_bad_choice_and_missing_field_are_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
configurations:
  - slug: test-configuration
    title: A test
    effect: fired
    influence: enabler
    confidence: high
    colour: blue
    evidence:
      - {excerpt: fig-pathway-01, stance: supports}
""")
    assert "configurations › test-configuration › colour: unknown key" in message
    assert "configurations › test-configuration › effect: 'fired' is not a valid choice; expected one of triggered, disabled." in message
    assert "configurations › test-configuration › statement: required." in message
    assert "configurations › test-configuration › evidence[1].part: required." in message


def test_a_failure_while_writing_rolls_everything_back(ctg, fixtures_copy):
    # Passes validation (fixtures are consistent among themselves) but collides with a curator's row
    # in the database after the new source kind has already been written.
    EvaluationWave.objects.create(programme=Programme.objects.get(slug="ctg"), slug="curators-wave", number=9, name="A curator's wave")
    message = broken(fixtures_copy, """
source_kinds:
  - slug: test-kind
    name: Test kind
vocabularies:
  waves:
    - slug: wave-9
      number: 9
      name: Ninth wave
""")
    assert "zz-broken.yaml › waves › wave-9: could not be written" in message
    assert not SourceKind.objects.filter(slug="test-kind").exists()


def test_the_programme_theory_the_report_describes(ctg):
    """fixtures/ctg/theories.yaml: RAND Europe's framework, then OPM's four enabling mechanisms."""
    from mechanisms.theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry

    assert re.search(r"mechanisms\.ProgrammeTheory\s+1\s+0\s+0\s+0", ctg)
    assert list(ProgrammeTheory.objects.values_list("programme__slug", "slug")) == [("ctg", "changing-relationships")]
    assert list(TheoryVersion.objects.order_by("number").values_list("number", "prompted_by_wave__number", "status")) == [
        (1, None, "published"), (2, 3, "published")]
    assert list(TheoryVersionEntry.objects.order_by("version__number").values_list("version__number").annotate(
        n=models.Count("pk"))) == [(1, 2), (2, 7)]
    assert TheoryVersionEntry.evidence.through.objects.count() == 16
    assert EvidenceExcerpt.objects.filter(slug__startswith="f-theory-").count() == 6
