"""The migration to programmes as workspaces (projects/0005) keeps every fact of the one-programme
knowledge base and its history: rows written with the schema before it read the same after it, and
every row a programme now owns (and each of its history records) is in `ctg`.

The database is migrated back to the schema before programmes, filled through the historical
models of that state, and migrated forward again.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("projects", "0003_seed_record"),
    ("mechanisms", "0004_configuration_fts_sqlite"),
    ("evidence", "0007_source_url_web_address"),
]
TEXT = "Intro. Patients said: 'I feel in control.' Staff agreed.\n"
QUOTE = "I feel in control."


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _fill(apps, with_programme):
    Programme = apps.get_model("projects", "Programme")
    Team = apps.get_model("projects", "Team")
    Mechanism = apps.get_model("mechanisms", "EnablingMechanism")
    Theme = apps.get_model("mechanisms", "MechanismTheme")
    Context = apps.get_model("mechanisms", "Context")
    OutcomeKind = apps.get_model("mechanisms", "OutcomeKind")
    Outcome = apps.get_model("mechanisms", "Outcome")
    Configuration = apps.get_model("mechanisms", "CMOConfiguration")
    WishDimension = apps.get_model("mechanisms", "WishDimension")
    WishPole = apps.get_model("mechanisms", "WishPole")
    Pair = apps.get_model("mechanisms", "RelationshipPair")
    WishShift = apps.get_model("mechanisms", "WishShift")
    SourceKind = apps.get_model("evidence", "SourceKind")
    Source = apps.get_model("evidence", "Source")
    Role = apps.get_model("evidence", "SpeakerRole")
    Wave = apps.get_model("evidence", "EvaluationWave")
    Excerpt = apps.get_model("evidence", "EvidenceExcerpt")
    Link = apps.get_model("evidence", "EvidenceLink")
    HistoricalContext = apps.get_model("mechanisms", "HistoricalContext")

    programme = Programme.objects.create(slug="ctg", name="Closing the Gap") if with_programme else None
    team = Team.objects.create(programme=programme or Programme.objects.create(slug="ctg", name="Closing the Gap"),
                               slug="shc", name="Shared Haemodialysis Care", short_name="SHC")
    mechanism = Mechanism.objects.create(slug="patient-beliefs", name="Patient beliefs", order=1)
    theme = Theme.objects.create(slug="targeting", name="Targeting", mechanism=mechanism)
    context = Context.objects.create(slug="resigned", name="Resigned to dependence", category="patient")
    HistoricalContext.objects.create(id=context.pk, slug="resigned", name="Resigned", category="patient", order=0,
                                     description="", history_date="2014-06-01T00:00:00Z", history_type="+")
    kind = OutcomeKind.objects.create(slug="relationship-change", name="Relationship change")
    outcome = Outcome.objects.create(slug="self-care", name="Self-care", kind=kind)
    source = Source.objects.create(slug="report", kind=SourceKind.objects.create(slug="report", name="Report"),
                                   programme=team.programme if with_programme else None, title="Report",
                                   full_text=TEXT)
    role = Role.objects.create(slug="patient", name="Patient")
    wave = Wave.objects.create(slug="wave-1", name="Wave 1", number=1)
    start = TEXT.index(QUOTE)
    excerpt = Excerpt.objects.create(slug="q-control", source=source, text=QUOTE, start=start, end=start + len(QUOTE),
                                     team=team, speaker_role=role, wave=wave)
    configuration = Configuration.objects.create(slug="shc-control", title="Control", mechanism=mechanism, theme=theme,
                                                 statement="In C, M leads to O.", status="published")
    configuration.contexts.set([context])
    configuration.outcomes.set([outcome])
    configuration.teams.set([team])
    power = WishDimension.objects.create(slug="power", name="Power")
    agency = WishPole.objects.create(slug="agency", name="Agency", dimension=power, position=1)
    WishShift.objects.create(configuration=configuration, dimension=power, toward=agency,
                             between=Pair.objects.create(slug="clinician-patient", name="Clinician–patient"))
    Link.objects.create(excerpt=excerpt, configuration=configuration, part="outcome", stance="supports")


def _facts(apps):
    Excerpt = apps.get_model("evidence", "EvidenceExcerpt")
    Configuration = apps.get_model("mechanisms", "CMOConfiguration")
    Link = apps.get_model("evidence", "EvidenceLink")
    WishShift = apps.get_model("mechanisms", "WishShift")
    return {
        "excerpts": sorted(Excerpt.objects.values_list("slug", "text", "start", "end", "source__slug", "team__slug",
                                                       "speaker_role__slug", "wave__slug", "wave__number")),
        "configurations": sorted(Configuration.objects.values_list(
            "slug", "title", "status", "statement", "mechanism__slug", "theme__slug")),
        "contexts": sorted(Configuration.objects.values_list("slug", "contexts__slug", "contexts__name")),
        "outcomes": sorted(Configuration.objects.values_list("slug", "outcomes__slug", "outcomes__kind__slug")),
        "links": sorted(Link.objects.values_list("excerpt__slug", "configuration__slug", "part", "stance")),
        "shifts": sorted(WishShift.objects.values_list("configuration__slug", "dimension__slug", "toward__slug",
                                                       "between__slug")),
        "context history": sorted(apps.get_model("mechanisms", "HistoricalContext").objects.values_list(
            "history_id", "slug", "name")),
    }


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_fact_and_puts_it_in_ctg():
    latest = _latest()
    try:
        old_apps = _migrate(BEFORE)
        _fill(old_apps, with_programme=False)
        before = _facts(old_apps)
        new_apps = _migrate(latest)
        after = _facts(new_apps)
        assert after == before
        assert before["excerpts"] == [("q-control", QUOTE, TEXT.index(QUOTE), TEXT.index(QUOTE) + len(QUOTE),
                                       "report", "shc", "patient", "wave-1", 1)]
        Programme = new_apps.get_model("projects", "Programme")
        assert list(Programme.objects.values_list("slug", "is_public")) == [("ctg", True)]
        ctg = Programme.objects.get()
        for app_label, name in [("mechanisms", "EnablingMechanism"), ("mechanisms", "MechanismTheme"),
                                ("mechanisms", "Context"), ("mechanisms", "Outcome"),
                                ("mechanisms", "CMOConfiguration"), ("evidence", "SpeakerRole"),
                                ("evidence", "EvaluationWave"), ("evidence", "Source")]:
            for model_name in (name, "Historical" + name):
                model = new_apps.get_model(app_label, model_name)
                assert set(model.objects.values_list("programme_id", flat=True)) <= {ctg.pk}, model_name
                assert not model.objects.filter(programme__isnull=True).exists(), model_name
        # The history written before the migration is still there, and now in ctg.
        history = new_apps.get_model("mechanisms", "HistoricalContext").objects.order_by("history_date")
        assert [(h.slug, h.name, h.programme_id) for h in history] == [("resigned", "Resigned", ctg.pk)]
    finally:
        _migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_a_knowledge_base_without_a_programme_gets_ctg_made_for_it():
    latest = _latest()
    try:
        old_apps = _migrate(BEFORE)
        Mechanism = old_apps.get_model("mechanisms", "EnablingMechanism")
        Mechanism.objects.create(slug="patient-beliefs", name="Patient beliefs")
        new_apps = _migrate(latest)
        Programme = new_apps.get_model("projects", "Programme")
        assert list(Programme.objects.values_list("slug", "is_public")) == [("ctg", True)]
        mechanism = new_apps.get_model("mechanisms", "EnablingMechanism").objects.get()
        assert (mechanism.slug, mechanism.programme.slug) == ("patient-beliefs", "ctg")
    finally:
        _migrate(latest)
