"""Programme theories and their refinement (issue 14): a theory's versions, each dated and prompted by a
wave or a source, with a verdict on each configuration. The rules hold on every path (the model, the
workbench, the fixture loader); readers see published versions and the configurations they may see; the
page shows the timeline; load_ctg records Closing the Gap's two versions, idempotently."""

import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from cmo_kb.vocabulary import EVALUATOR_GROUP, ReviewStatus
from evidence.models import EvaluationWave, EvidenceExcerpt, Source
from mechanisms.models import CMOConfiguration
from mechanisms.theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry
from projects.membership import ProgrammeWriteRefused
from projects.models import Programme
from tests.conftest import _make_user, token_client


@pytest.fixture
def theory(kb):
    """ctg's theory: version 1 (published, prompted by wave 1 and the report) says shc-fear is new and
    pathway-targets (a draft) is new; version 2 (published) refines shc-fear into shc-control, with
    evidence; version 3 is a draft that refutes shc-control."""
    wave = EvaluationWave.objects.create(programme=kb.programme, slug="wave-1", name="Wave 1", number=1, period="2011")
    theory = ProgrammeTheory.objects.create(programme=kb.programme, slug="initial", name="How dialysis care changes",
                                            description="From dependence to self-care.")
    v1 = TheoryVersion.objects.create(theory=theory, number=1, label="Initial programme theory", date=date(2011, 1, 1),
                                      prompted_by_wave=wave, prompted_by_source=kb.source, summary="Fear disables.",
                                      status=ReviewStatus.PUBLISHED)
    TheoryVersionEntry.objects.create(version=v1, configuration=kb.shc_fear, verdict="new", note="Stated at the outset.")
    TheoryVersionEntry.objects.create(version=v1, configuration=kb.pathway_targets, verdict="new")
    v2 = TheoryVersion.objects.create(theory=theory, number=2, label="Refined after wave 1", date=date(2012, 3, 1),
                                      prompted_by_wave=wave, summary="Control enables.", status=ReviewStatus.PUBLISHED)
    refined = TheoryVersionEntry.objects.create(version=v2, configuration=kb.shc_fear, verdict="refined",
                                                replaced_by=kb.shc_control, note="Patients took control once trained.")
    refined.evidence.set([kb.q_control, kb.q_jobs])
    v3 = TheoryVersion.objects.create(theory=theory, number=3, label="Draft third version", status=ReviewStatus.DRAFT)
    TheoryVersionEntry.objects.create(version=v3, configuration=kb.shc_control, verdict="refuted", note="Not yet.")
    return theory


@pytest.fixture
def other(kb):
    """A second public programme with its own configuration, excerpt and wave."""
    programme = Programme.objects.create(slug="elsewhere", name="Elsewhere", is_public=True)
    configuration = CMOConfiguration.objects.create(programme=programme, slug="stranger", title="Stranger",
                                                    statement="s", status=ReviewStatus.PUBLISHED)
    source = Source.objects.create(slug="elsewhere-report", kind=kb.source.kind, programme=programme, title="R",
                                   full_text="Far away.")
    excerpt = EvidenceExcerpt.objects.create(slug="far", source=source, text="Far", start=0, end=3)
    wave = EvaluationWave.objects.create(programme=programme, slug="wave-9", name="Wave 9", number=9)
    return type("Other", (), {"programme": programme, "configuration": configuration, "excerpt": excerpt, "wave": wave})


# --- the model's rules ------------------------------------------------------------------------------


def test_replaced_by_is_required_when_refined_and_refused_otherwise(theory, kb):
    version = theory.versions.get(number=1)
    with pytest.raises(ValidationError) as refused:
        TheoryVersionEntry.objects.create(version=version, configuration=kb.shc_control, verdict="refined")
    assert refused.value.message_dict == {"replaced_by": ["A refined configuration names the configuration that replaces it."]}
    with pytest.raises(ValidationError) as refused:
        TheoryVersionEntry.objects.create(version=version, configuration=kb.shc_control, verdict="supported",
                                          replaced_by=kb.shc_fear)
    assert refused.value.message_dict == {"replaced_by": ["Only a refined configuration is replaced; this one is supported."]}
    with pytest.raises(ValidationError, match="cannot replace itself"):
        TheoryVersionEntry.objects.create(version=version, configuration=kb.shc_control, verdict="refined",
                                          replaced_by=kb.shc_control)
    # The database holds the rule too, for a write that skips save() (a queryset update).
    with pytest.raises(IntegrityError), transaction.atomic():
        TheoryVersionEntry.objects.filter(version=version, configuration=kb.shc_fear).update(verdict="refined")
    assert version.entries.count() == 2


def test_a_configuration_appears_once_per_version(theory, kb):
    version = theory.versions.get(number=1)
    with pytest.raises(ValidationError) as refused:
        TheoryVersionEntry.objects.create(version=version, configuration=kb.shc_fear, verdict="supported")
    assert refused.value.message_dict == {"configuration": ["Configuration 'shc-fear' is already in this version."]}
    # ...but in the next version again, with another verdict.
    assert theory.versions.get(number=2).entries.get(configuration=kb.shc_fear).verdict == "refined"


def test_everything_stays_in_the_theorys_programme(theory, kb, other):
    version = theory.versions.get(number=1)
    with pytest.raises(ValidationError) as refused:
        TheoryVersionEntry.objects.create(version=version, configuration=other.configuration, verdict="new")
    assert refused.value.message_dict == {"configuration": [
        "Configuration 'stranger' is of another programme than the theory ('ctg')."]}
    with pytest.raises(ValidationError, match="'stranger' is of another programme"):
        TheoryVersionEntry.objects.create(version=version, configuration=kb.shc_control, verdict="refined",
                                          replaced_by=other.configuration)
    with pytest.raises(ValidationError) as refused:
        TheoryVersion.objects.create(theory=theory, number=4, label="x", prompted_by_wave=other.wave,
                                     prompted_by_source=other.excerpt.source)
    assert sorted(refused.value.message_dict) == ["prompted_by_source", "prompted_by_wave"]
    assert "Evaluation wave 'wave-9' is of another programme than the theory ('ctg')." in refused.value.message_dict["prompted_by_wave"]
    entry = version.entries.get(configuration=kb.shc_fear)
    with pytest.raises(ValidationError, match="another programme than 'ctg': far"), transaction.atomic():
        entry.evidence.add(other.excerpt)
    with pytest.raises(ValidationError, match="another programme than the theory"), transaction.atomic():
        other.excerpt.theory_entries.add(entry)
    assert list(entry.evidence.all()) == []


def test_only_the_programmes_writers_change_a_theory_and_history_keeps_each_version(theory, kb, django_user_model):
    from mechanisms.publish_lock import acting_as

    outsider = _make_user(django_user_model, "bea", EVALUATOR_GROUP, programme=Programme.objects.create(
        slug="second", name="Second"))
    version = theory.versions.get(number=2)
    with acting_as(outsider), pytest.raises(ProgrammeWriteRefused):
        version.summary = "Taken over"
        version.save()
    with acting_as(outsider), pytest.raises(ProgrammeWriteRefused), transaction.atomic():
        version.entries.get().evidence.clear()
    version.refresh_from_db()
    assert version.summary == "Control enables."
    version.summary = "Control enables, once trained."
    version.save()
    assert [h.summary for h in version.history.order_by("history_id")] == ["Control enables.", "Control enables, once trained."]
    entry = version.entries.get()
    # Created, then its evidence set: two records, the second with both excerpts.
    assert entry.history.count() == 2
    assert sorted(entry.history.latest().evidence.values_list("evidenceexcerpt__slug", flat=True)) == ["q-control", "q-jobs"]


def test_a_published_version_changes_only_by_a_lead(theory, kb, evaluator, lead):
    """What readers were told a theory said is locked as a published configuration is: an evaluator
    drafts (a draft version and its entries are theirs to change) but neither changes, deletes nor
    publishes a version, nor touches a published version's entries or evidence."""
    from mechanisms.publish_lock import acting_as

    published, draft = theory.versions.get(number=2), theory.versions.get(number=3)
    entry = published.entries.get()
    with acting_as(evaluator):
        for attempt in (lambda: published.save(), lambda: entry.save(), lambda: entry.evidence.remove(kb.q_jobs),
                        lambda: published.delete()):
            with pytest.raises(ProgrammeWriteRefused, match="is published: only a lead evaluator of 'ctg'"), \
                    transaction.atomic():
                attempt()
        draft.summary = "Still drafting."
        draft.save()
        draft_entry = draft.entries.get()
        draft_entry.note = "Refuted by wave 2?"
        draft_entry.save()
        draft.status = ReviewStatus.PUBLISHED
        with pytest.raises(ProgrammeWriteRefused), transaction.atomic():
            draft.save()  # publishing is a lead's
    assert sorted(entry.evidence.values_list("slug", flat=True)) == ["q-control", "q-jobs"]
    assert TheoryVersion.objects.get(pk=draft.pk).status == ReviewStatus.DRAFT
    with acting_as(lead):
        draft.save()
        published.summary = "Control enables, once trained."
        published.save()
    assert TheoryVersion.objects.get(pk=draft.pk).status == ReviewStatus.PUBLISHED


def test_a_configuration_cited_by_a_theory_is_not_deleted_from_under_it(theory, kb):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError), transaction.atomic():
        kb.shc_fear.delete()
    assert CMOConfiguration.objects.filter(slug="shc-fear").exists()


# --- the API, per role -------------------------------------------------------------------------------

V1_PUBLIC = {"number": 1, "label": "Initial programme theory", "date": "2011-01-01", "status": "published",
             "prompted_by": {"wave": "wave-1", "source": "small-report"}, "summary": "Fear disables.",
             "configurations": [{"configuration": "shc-fear", "verdict": "new", "replaced_by": None,
                                 "note": "Stated at the outset.", "evidence": []}]}
V2 = {"number": 2, "label": "Refined after wave 1", "date": "2012-03-01", "status": "published",
      "prompted_by": {"wave": "wave-1", "source": None}, "summary": "Control enables.",
      "configurations": [{"configuration": "shc-fear", "verdict": "refined", "replaced_by": "shc-control",
                          "note": "Patients took control once trained.", "evidence": ["q-control", "q-jobs"]}]}
V1_WRITERS = {**V1_PUBLIC, "configurations": [
    {"configuration": "pathway-targets", "verdict": "new", "replaced_by": None, "note": "", "evidence": []},
    *V1_PUBLIC["configurations"]]}
V3 = {"number": 3, "label": "Draft third version", "date": None, "status": "draft",
      "prompted_by": {"wave": None, "source": None}, "summary": "",
      "configurations": [{"configuration": "shc-control", "verdict": "refuted", "replaced_by": None,
                          "note": "Not yet.", "evidence": []}]}


def _versions(client, url="/api/theories/initial/"):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()["versions"]


def test_readers_see_published_versions_and_the_configurations_they_may_see(theory, anon_client, analyst_client):
    for client in (anon_client, analyst_client):
        assert _versions(client) == [V1_PUBLIC, V2]
    body = anon_client.get("/api/theories/").json()
    assert body["count"] == 1
    item = body["results"][0]
    assert {k: item[k] for k in ("slug", "programme", "name", "description")} == {
        "slug": "initial", "programme": "ctg", "name": "How dialysis care changes", "description": "From dependence to self-care."}
    assert item["versions"] == [V1_PUBLIC, V2]


def test_an_evaluator_of_another_programme_reads_as_a_reader(theory, django_user_model):
    outsider = _make_user(django_user_model, "bea", EVALUATOR_GROUP, programme=Programme.objects.create(
        slug="second", name="Second"))
    assert _versions(token_client(outsider)) == [V1_PUBLIC, V2]


def test_the_programmes_evaluators_and_leads_see_drafts_too(theory, evaluator_client, lead_client):
    for client in (evaluator_client, lead_client):
        assert _versions(client) == [V1_WRITERS, V2, V3]


def test_a_private_programmes_theory_is_its_members_only(theory, kb, anon_client, evaluator_client, django_user_model):
    hidden = Programme.objects.create(slug="hidden", name="Hidden", is_public=False)
    ProgrammeTheory.objects.create(programme=hidden, slug="initial", name="A private theory")
    assert [t["programme"] for t in anon_client.get("/api/theories/").json()["results"]] == ["ctg"]
    # To a non-member the private programme does not exist: an unknown value of ?programme=.
    response = anon_client.get("/api/theories/initial/?programme=hidden")
    assert (response.status_code, response.json()) == (400, {"programme": ["Unknown programme 'hidden'. Accepted: ctg."]})
    member = _make_user(django_user_model, "hal", EVALUATOR_GROUP, programme=hidden)
    from tests.conftest import join

    join(member, kb.programme, "analyst")
    client = token_client(member)
    # Two visible programmes share the slug: a 409 naming them, until ?programme= says which.
    response = client.get("/api/theories/initial/")
    assert response.status_code == 409
    assert response.json() == {"programme": [
        "Several programmes have a programme theory 'initial' (ctg, hidden): say which with ?programme=."]}
    assert client.get("/api/theories/initial/?programme=hidden").json()["name"] == "A private theory"
    assert client.get("/api/theories/initial/?programme=ctg").json()["versions"] == [V1_PUBLIC, V2]


def test_the_list_reads_a_fixed_number_of_queries(theory, kb, anon_client, django_assert_num_queries):
    def grow(n):
        for i in range(n):
            t = ProgrammeTheory.objects.create(programme=kb.programme, slug=f"more-{i}", name=f"More {i}")
            v = TheoryVersion.objects.create(theory=t, number=1, label="One", status=ReviewStatus.PUBLISHED)
            TheoryVersionEntry.objects.create(version=v, configuration=kb.shc_control, verdict="new").evidence.add(kb.q_control)

    # Expect 5 queries, however many theories:
    # * count  * theories (with programme and users)  * versions (with wave and source)
    # * entries (with both configurations)  * the entries' evidence
    # (who may see what is a subquery of each, no query of its own)
    anon_client.get("/api/theories/")
    with django_assert_num_queries(5):
        anon_client.get("/api/theories/")
    grow(4)
    with django_assert_num_queries(5):
        assert anon_client.get("/api/theories/").json()["count"] == 5


def test_evaluators_write_a_theorys_own_fields_and_bad_input_names_the_field(theory, kb, evaluator_client, analyst_client):
    assert analyst_client.post("/api/theories/", {"slug": "x", "name": "X"}, format="json").status_code == 403
    response = evaluator_client.post("/api/theories/", {"slug": "second-theory", "name": "Second theory"}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["programme"], response.json()["versions"]) == ("ctg", [])
    response = evaluator_client.post("/api/theories/", {"slug": "third", "name": 3}, format="json")
    assert (response.status_code, response.json()) == (400, {"name": ["Not a valid string: send text (a JSON string), not a number."]})
    response = evaluator_client.post("/api/theories/", {"slug": "initial", "name": "Again"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"slug": ["This programme already has a programme theory with this slug."]}
    # Versions are read-only here (the workbench edits them): sent anyway, they change nothing.
    response = evaluator_client.patch("/api/theories/initial/", {"description": "Refined.", "versions": []}, format="json")
    assert response.status_code == 200
    assert response.json()["description"] == "Refined." and len(response.json()["versions"]) == 3


# --- the workbench -------------------------------------------------------------------------------------


def test_the_workbench_shows_a_rule_as_an_error_on_its_field(theory, kb, lead):
    from django.test import Client

    client = Client()
    client.force_login(lead)
    version = theory.versions.get(number=1)
    response = client.post("/admin/mechanisms/theoryversionentry/add/", {
        "version": version.pk, "configuration": kb.shc_control.pk, "verdict": "supported",
        "replaced_by": kb.shc_fear.pk, "note": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "replaced_by": ["Only a refined configuration is replaced; this one is supported."]}
    page = client.get(f"/admin/mechanisms/theoryversion/{version.pk}/change/")
    assert page.status_code == 200 and b"Stated at the outset." in page.content


# --- the page --------------------------------------------------------------------------------------------


def test_the_theory_page_shows_the_timeline_of_published_versions(theory, kb, client):
    response = client.get("/programmes/ctg/theories/initial/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Version 1: Initial programme theory" in page and "Version 2: Refined after wave 1" in page
    assert "Draft third version" not in page and "Pathway targets" not in page  # drafts stay unseen
    assert '<time datetime="2011-01-01">January 2011</time>' in page
    assert "prompted by" in page and "Wave 1 (2011)" in page and "<cite class=\"timeline__source\">A small report</cite>" in page
    assert "Fear disables." in page and "Patients took control once trained." in page
    assert '<a href="/programmes/ctg/configurations/shc-fear/">Shc fear</a>' in page
    assert '<a class="verdict__replacement" href="/programmes/ctg/configurations/shc-control/">Shc control</a>' in page
    assert "<q>I feel more in control of my own dialysis now.</q>" in page
    assert f'href="/excerpts/{kb.q_control.pk}/"' in page
    assert "(1 refined)" in page and "(1 new)" in page
    # The theory as it stands (version 2): shc-fear refined into shc-control, drawn as a diagram.
    standing = page.split('id="theory-now-title"')[1].split("</section>")[0]
    assert 'role="img"' in standing and "Patients take on self-care" in standing
    assert "Some patients refuse self-care" not in standing  # the refined configuration's outcome
    assert "<script>" not in page and "style=" not in page  # CSP: no inline script or style
    home = client.get("/programmes/ctg/").content.decode()
    assert '<a href="/programmes/ctg/theories/initial/">How dialysis care changes</a>' in home
    assert client.get("/programmes/ctg/theories/no-such-theory/").status_code == 404


def test_the_theory_page_costs_a_fixed_number_of_queries(theory, kb, client, django_assert_num_queries):
    # Expect 7 queries: the programme, the theory, its published versions, their entries, their
    # evidence; the diagram of the latest version: its configurations' parts, the chain links among them.
    with django_assert_num_queries(7):
        client.get("/programmes/ctg/theories/initial/")
    for number in (4, 5, 6):
        v = TheoryVersion.objects.create(theory=theory, number=number, label=f"V{number}", status=ReviewStatus.PUBLISHED)
        TheoryVersionEntry.objects.create(version=v, configuration=kb.shc_control, verdict="supported").evidence.add(kb.q_control)
        TheoryVersionEntry.objects.create(version=v, configuration=kb.shc_fear, verdict="supported")
    with django_assert_num_queries(7):
        client.get("/programmes/ctg/theories/initial/")


# --- Closing the Gap, through load_ctg --------------------------------------------------------------------


def _load():
    out = io.StringIO()
    call_command("load_ctg", stdout=out)
    return out.getvalue()


def _state():
    return sorted(
        (e.version.theory.slug, e.version.number, e.version.label, str(e.version.date), e.version.prompted_by_wave_id,
         e.version.prompted_by_source_id, e.configuration.slug, e.verdict, e.replaced_by_id, e.note,
         tuple(sorted(e.evidence.values_list("slug", flat=True))))
        for e in TheoryVersionEntry.objects.select_related("version__theory", "configuration"))


@pytest.mark.django_db
def test_load_ctg_records_rand_and_opm_as_two_versions_idempotently(anon_client):
    _load()
    theory = ProgrammeTheory.objects.get(programme__slug="ctg", slug="changing-relationships")
    first, second = theory.versions.order_by("number")
    assert (first.label, first.date, first.prompted_by_wave, first.status) == (
        "Initial programme theory: RAND Europe's framework", date(2010, 1, 1), None, "published")
    assert (second.label, second.date, second.prompted_by_wave.slug, second.prompted_by_source.slug) == (
        "Refined programme theory: OPM's four enabling mechanisms", date(2014, 6, 1), "wave-3", "ctg-evaluation-2014")
    assert "go through pathway B, followed by pathway C" in first.summary
    assert "four 'enabling mechanisms'" in second.summary
    verdicts = {(v.number, e.configuration.slug): e.verdict for v in (first, second) for e in v.entries.all()}
    assert verdicts == {
        (1, "mrt-quality-evidence-persuades"): "new",
        (1, "mrt-relationship-change-does-not-ripple-to-quality"): "new",
        (2, "mrt-quality-evidence-persuades"): "supported",
        (2, "mrt-relationship-change-does-not-ripple-to-quality"): "supported",
        (2, "mrt-efficiency-focus-loses-relationships"): "new",
        (2, "mrt-modelling-makes-change-tangible"): "new",
        (2, "mrt-perceived-costs-deter-professionals"): "new",
        (2, "mrt-technology-as-substitute-fails"): "new",
        (2, "mrt-aligned-priorities-enable"): "new",
    }
    # Every verdict cites evidence, and every excerpt it cites is the report's words (verbatim).
    report = Source.objects.get(slug="ctg-evaluation-2014").full_text
    for entry in TheoryVersionEntry.objects.all():
        excerpts = list(entry.evidence.all())
        assert excerpts, entry
        for excerpt in excerpts:
            assert report[excerpt.start:excerpt.end] == excerpt.text
    rand = EvidenceExcerpt.objects.get(slug="f-theory-rand-linkages")
    assert rand.text.startswith("RAND Europe proposed the following conceptual model (Figure 5)")
    assert "(ie dotted red arrow marked 'C')." in rand.text
    # Counts, then a second load: the same rows, nothing written.
    counts = (ProgrammeTheory.objects.count(), TheoryVersion.objects.count(), TheoryVersionEntry.objects.count(),
              TheoryVersionEntry.evidence.through.objects.count())
    assert counts == (1, 2, 9, 16)
    before, history = _state(), (TheoryVersion.history.count(), TheoryVersionEntry.history.count())
    again = _load()
    assert "mechanisms.ProgrammeTheory" in again and "0 created, 0 updated" in again
    assert _state() == before
    assert (TheoryVersion.history.count(), TheoryVersionEntry.history.count()) == history
    # The API shows what was loaded.
    versions = anon_client.get("/api/theories/changing-relationships/").json()["versions"]
    assert [v["prompted_by"] for v in versions] == [{"wave": None, "source": None},
                                                    {"wave": "wave-3", "source": "ctg-evaluation-2014"}]
    assert versions[0]["configurations"][1]["evidence"] == ["f-theory-neither-c-nor-d", "f-theory-implicit-b-then-c"]



@pytest.mark.django_db
def test_a_fixture_that_breaks_the_refined_rule_is_refused_naming_the_field(fixtures_copy):
    path = fixtures_copy / "ctg" / "theories.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    - configuration: mrt-efficiency-focus-loses-relationships\n      verdict: new",
                                 "    - configuration: mrt-efficiency-focus-loses-relationships\n      verdict: refined"),
                    encoding="utf-8")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as refused:
        _load()
    assert ("ctg/theories.yaml › theories › changing-relationships › versions[2].entries[2].replaced_by: "
            "required when the verdict is refined.") in str(refused.value)
    assert not ProgrammeTheory.objects.exists()
