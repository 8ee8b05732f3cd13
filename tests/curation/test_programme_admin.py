"""The admin per programme (issue 11): who sees and who writes what, role by role and programme by programme.

Two programmes: `ctg` (public, the `kb` fixture's) and `second`, private, whose own vocabulary
clashes with ctg's slugs (its own `patient-beliefs` mechanism, `resigned-dependence` context,
`self-care` outcome, `patient` speaker role). The people:

    eva   evaluator of ctg            leo   lead evaluator of ctg
    bea   evaluator of second         bob   lead evaluator of second
    ana   analyst of both (staff here, to show that even so the admin gives them nothing)
    root  superuser: a lead everywhere

What each may do in each programme (ACCESS): write (evaluator), lead (publish, change the programme
and its members), read (a public programme they are no member of), or nothing at all (a private
programme they are no member of: its rows do not exist for them).
"""

from datetime import date
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.db.models import Q
from django.urls import reverse

from cmo_kb.vocabulary import ANALYST_GROUP, EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP, ReviewStatus
from evidence.models import EvaluationWave, EvidenceExcerpt, EvidenceLink, Source, SpeakerRole
from mechanisms.models import (
    CMOConfiguration,
    ConceptMapping,
    ConfigurationPathway,
    Context,
    EnablingMechanism,
    Framework,
    FrameworkConcept,
    MechanismTheme,
    Outcome,
    WishShift,
)
from projects.models import KeyFigure, Programme, ProgrammeMembership, Team, TeamQualityDomain, TeamRelationshipLevel
from tests.conftest import SMALL_SOURCE_TEXT, _make_user, join

from .conftest import add_inline_row, form_data, login

READ, WRITE, LEAD = "read", "write", "lead"
PEOPLE = ("eva", "leo", "bea", "bob", "root")
ACCESS = {
    ("eva", "ctg"): WRITE, ("eva", "second"): None,
    ("leo", "ctg"): LEAD, ("leo", "second"): None,
    ("bea", "ctg"): READ, ("bea", "second"): WRITE,
    ("bob", "ctg"): READ, ("bob", "second"): LEAD,
    ("root", "ctg"): LEAD, ("root", "second"): LEAD,
}
MEMBER_OF = {"eva": ["ctg"], "leo": ["ctg"], "bea": ["second"], "bob": ["second"], "root": ["ctg", "second"]}


def sees(person):
    return [p for p in ("ctg", "second") if ACCESS[person, p]]


def writes(person):
    return [p for p in ("ctg", "second") if ACCESS[person, p] in (WRITE, LEAD)]


@pytest.fixture
def second(kb):
    """The private programme `second`, a copy in miniature of ctg with the same slugs for its terms."""
    ns = SimpleNamespace(ctg=kb.programme)
    p = ns.programme = Programme.objects.create(slug="second", name="Second programme", is_public=False)
    mine = {"programme": p}
    ns.team = Team.objects.create(**mine, slug="second-team", name="Second team", short_name="Second")
    ns.mechanism = EnablingMechanism.objects.create(**mine, slug="patient-beliefs", name="Patient beliefs, again",
                                                    short_name="Patient")
    ns.theme = MechanismTheme.objects.create(**mine, mechanism=ns.mechanism, slug="targeting", name="Targeting again")
    ns.context = Context.objects.create(**mine, slug="resigned-dependence", name="Resigned, in the second programme")
    ns.spare_context = Context.objects.create(**mine, slug="spare", name="A spare context of second")
    ns.outcome = Outcome.objects.create(**mine, slug="self-care", name="Self-care, again", kind=kb.relationship_kind)
    ns.role = SpeakerRole.objects.create(**mine, slug="patient", name="Patient")
    ns.wave = EvaluationWave.objects.create(**mine, slug="wave-1", name="Wave 1", number=1)
    ns.source = Source.objects.create(**mine, slug="second-report", kind=kb.report, title="The second report",
                                      date=date(2020, 1, 1), full_text=SMALL_SOURCE_TEXT)
    needle = "I feel more in control of my own dialysis now."
    start = SMALL_SOURCE_TEXT.index(needle)
    ns.excerpt = EvidenceExcerpt.objects.create(slug="second-q-control", source=ns.source, text=needle, start=start,
                                                end=start + len(needle), team=ns.team, speaker_role=ns.role)

    def configuration(slug, status):
        c = CMOConfiguration.objects.create(**mine, slug=slug, title=slug.replace("-", " ").capitalize(),
                                            mechanism=ns.mechanism, statement="In C, M leads to O.", status=status)
        c.teams.set([ns.team])
        c.contexts.set([ns.context])
        c.outcomes.set([ns.outcome])
        EvidenceLink.objects.create(excerpt=ns.excerpt, configuration=c, part="outcome")
        return c

    ns.published = configuration("second-published", ReviewStatus.PUBLISHED)
    ns.draft = configuration("second-draft", ReviewStatus.DRAFT)
    WishShift.objects.create(configuration=ns.published, dimension=kb.power, toward=kb.agency,
                             between=kb.clinician_patient)
    ConfigurationPathway.objects.create(configuration=ns.published, pathway=kb.pathway_a)
    ConfigurationPathway.objects.create(configuration=kb.shc_control, pathway=kb.pathway_a)
    ns.link = ns.published.evidence_links.get()
    framework = Framework.objects.create(slug="npt", name="Normalisation process theory")
    ns.concept = FrameworkConcept.objects.create(framework=framework, slug="coherence", name="Coherence")
    ns.mapping = ConceptMapping.objects.create(**mine, concept=ns.concept, mechanism=ns.mechanism)
    ConceptMapping.objects.create(programme=kb.programme, concept=ns.concept, mechanism=kb.patient_beliefs)
    for programme, team in ((p, ns.team), (kb.programme, kb.shc)):
        TeamQualityDomain.objects.create(team=team, quality_domain=kb.safety)
        KeyFigure.objects.create(team=team, slug=f"{team.slug}-figure", label="Bed days", display="10%",
                                 evidence=ns.excerpt if programme == p else kb.q_control)
        TeamRelationshipLevel.objects.create(team=team, relationship_level=kb.micro)
    EvaluationWave.objects.create(programme=kb.programme, slug="wave-1", name="Wave 1", number=1)
    ns.ctg_spare = Context.objects.create(programme=kb.programme, slug="spare", name="A spare context of ctg")
    from mechanisms.chains import ConfigurationChain

    ConfigurationChain.objects.create(from_configuration=ns.published, to_configuration=ns.draft)
    ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear)

    # A programme theory in each programme, with a published and a draft version, each version with an
    # entry (mechanisms/theories.py): readers see published versions about published configurations.
    from mechanisms.theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry

    for programme, published, draft in ((p, ns.published, ns.draft), (kb.programme, kb.shc_control, kb.pathway_targets)):
        theory = ProgrammeTheory.objects.create(programme=programme, slug="theory", name=f"Theory of {programme.slug}")
        for number, status in ((1, ReviewStatus.PUBLISHED), (2, ReviewStatus.DRAFT)):
            version = TheoryVersion.objects.create(theory=theory, number=number, label=f"Version {number}", status=status)
            TheoryVersionEntry.objects.create(version=version, configuration=published, verdict="new")
        TheoryVersionEntry.objects.create(version=theory.versions.get(number=1), configuration=draft, verdict="new")

    # A code, a coding, a memo and a relation in each programme (evidence/codes.py).
    from evidence.codes import Code, Coding, Memo, Relation

    for programme, excerpt in ((p, ns.excerpt), (kb.programme, kb.q_control)):
        code = Code.objects.create(programme=programme, name=f"Control in {programme.slug}")
        Coding.objects.create(excerpt=excerpt, code=code)
        Memo.objects.create(programme=programme, name=f"Memo of {programme.slug}").codes.add(code)
        Relation.objects.create(programme=programme, origin_code=code, target_excerpt=excerpt)
    return ns


@pytest.fixture
def people(kb, second, evaluator, lead, admin_user, django_user_model):
    bea = _make_user(django_user_model, "bea", EVALUATOR_GROUP, is_staff=True, programme=second.programme)
    bob = _make_user(django_user_model, "bob", LEAD_EVALUATOR_GROUP, is_staff=True, programme=second.programme)
    ana = _make_user(django_user_model, "ana", ANALYST_GROUP, is_staff=True)
    join(ana, second.programme, "analyst")
    users = {"eva": evaluator, "leo": lead, "bea": bea, "bob": bob, "ana": ana, "root": admin_user}
    return SimpleNamespace(users=users, clients={name: login(user) for name, user in users.items()})


def programme_models():
    return sorted((m for m in admin.site._registry if getattr(m, "programme_path", None)), key=lambda m: m._meta.label)


def changelist_url(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def in_programmes(model, slugs):
    return {**({"pk__in": Programme.objects.filter(slug__in=slugs)} if model is Programme
               else {f"{model.programme_path}__slug__in": slugs})}


def expected_rows(model, person):
    """The rows `person` must find on the changelist of `model`, from ACCESS alone."""
    from django.db.models import Q

    if model is ProgrammeMembership:
        return set(model.objects.filter(programme__slug__in=MEMBER_OF[person]).values_list("pk", flat=True))
    rows = model.objects.filter(**in_programmes(model, sees(person)))
    if model is CMOConfiguration:
        rows = rows.filter(Q(status=ReviewStatus.PUBLISHED) | Q(programme__slug__in=writes(person)))
    elif model.programme_path == "configuration__programme":
        rows = rows.filter(Q(configuration__status=ReviewStatus.PUBLISHED)
                           | Q(configuration__programme__slug__in=writes(person)))
    elif hasattr(model, "reader_condition"):  # a theory version and its entries: drafts are the writers'
        rows = rows.filter(model.reader_condition() | Q(**{f"{model.programme_path}__slug__in": writes(person)}))
    return set(rows.values_list("pk", flat=True))


# --- what each sees -------------------------------------------------------------------------------


@pytest.mark.parametrize("person", PEOPLE)
def test_every_changelist_shows_the_rows_of_the_programmes_the_person_sees(people, person):
    client = people.clients[person]
    for model in programme_models():
        response = client.get(changelist_url(model))
        assert response.status_code == 200, model
        shown = {obj.pk for obj in response.context["cl"].result_list}
        assert shown == expected_rows(model, person), model
        assert shown, f"{model._meta.label}: nothing to see, the test would prove nothing"
        # The programme filter offers the programmes the person sees, no other.
        if model is not Programme:
            spec = next(s for s in response.context["cl"].filter_specs if getattr(s, "parameter_name", None) == "programme")
            assert [slug for slug, _ in spec.lookup_choices] == sorted(sees(person), key={"ctg": 0, "second": 1}.get)


def test_a_private_programme_is_absent_for_non_members_and_clashing_slugs_are_two_rows(people, second, kb):
    page = people.clients["eva"].get(changelist_url(Context)).content.decode()
    assert "Patients resigned to dependence on nurses" in page and "Resigned, in the second programme" not in page
    contexts = people.clients["bea"].get(changelist_url(Context)).context["cl"].result_list
    assert sorted((c.programme.slug, c.slug) for c in contexts if c.slug == "resigned-dependence") == [
        ("ctg", "resigned-dependence"), ("second", "resigned-dependence")]
    # Filtering by the private programme's slug finds nothing for a non-member (not even an error).
    response = people.clients["eva"].get(changelist_url(Context), {"programme": "second"})
    assert response.status_code == 200 and list(response.context["cl"].result_list) == []
    response = people.clients["bea"].get(changelist_url(Context), {"programme": "second"})
    assert {c.pk for c in response.context["cl"].result_list} == {second.context.pk, second.spare_context.pk}


def test_related_filters_offer_only_what_the_person_sees_named_by_programme_when_they_clash(people, second, kb):
    def mechanism_choices(person):
        response = people.clients[person].get(changelist_url(CMOConfiguration))
        spec = next(s for s in response.context["cl"].filter_specs if getattr(s, "field_path", None) == "mechanism")
        return sorted(label for _, label in spec.lookup_choices)

    assert mechanism_choices("eva") == [
        "Changes to health professional beliefs, attitudes and behaviours",
        "Changes to patient beliefs, attitudes and behaviours",
    ]
    assert mechanism_choices("root") == [
        "Changes to health professional beliefs, attitudes and behaviours (ctg)",
        "Changes to patient beliefs, attitudes and behaviours (ctg)",
        "Patient beliefs, again (second)",
    ]
    response = people.clients["eva"].get(changelist_url(EvidenceExcerpt))
    sources = next(s for s in response.context["cl"].filter_specs
                   if getattr(s, "parameter_name", None) == "source__id__exact")
    assert [title for _, title in sources.lookup_choices] == ["A small report"]


def test_an_analyst_gets_nothing_from_the_admin_even_as_staff(people, second, kb):
    client = people.clients["ana"]
    assert client.get("/admin/").context["app_list"] == []
    for url in [changelist_url(CMOConfiguration), change_url(second.published), change_url(kb.shc_control),
                changelist_url(Programme), change_url(second.programme)]:
        assert client.get(url).status_code == 403, url


# --- what each may change, row by row ---------------------------------------------------------------


def representatives(kb, second):
    """(row, programme slug, published?) for every programme model: a row of each programme, and for
    configurations and what belongs to them a published and a draft one."""
    chosen = []
    for model in programme_models():
        for slug in ("ctg", "second"):
            rows = model.objects.filter(**in_programmes(model, [slug])).order_by("pk")
            if model.programme_path == "from_configuration__programme":
                # A chain link: True with both ends published (readers see it), "partly" with one (the
                # publish lock holds it, but it is its writers' only), False with neither.
                ends = [Q(from_configuration__status=ReviewStatus.PUBLISHED), Q(to_configuration__status=ReviewStatus.PUBLISHED)]
                for published, status_rows in ((True, rows.filter(ends[0] & ends[1])),
                                               ("partly", rows.filter(ends[0] | ends[1]).exclude(ends[0] & ends[1])),
                                               (False, rows.exclude(ends[0] | ends[1]))):
                    if status_rows.exists():
                        chosen.append((status_rows.first(), slug, published))
            elif hasattr(model, "reader_condition"):
                # A theory version or entry: True when readers see it (published, about published
                # configurations), False when it is its writers' only.
                for published, status_rows in ((True, rows.filter(model.reader_condition())),
                                               (False, rows.exclude(model.reader_condition()))):
                    if status_rows.exists():
                        chosen.append((status_rows.first(), slug, published))
            elif model is CMOConfiguration or model.programme_path == "configuration__programme":
                status = "status" if model is CMOConfiguration else "configuration__status"
                for published in (True, False):
                    status_rows = rows.filter(**{status: ReviewStatus.PUBLISHED}) if published \
                        else rows.exclude(**{status: ReviewStatus.PUBLISHED})
                    if status_rows.exists():
                        chosen.append((status_rows.first(), slug, published))
            else:
                chosen.append((rows.first(), slug, None))
    return chosen


@pytest.mark.parametrize("person", PEOPLE)
def test_change_and_delete_only_where_the_person_writes_view_only_where_they_read(people, kb, second, person):
    client = people.clients[person]
    for obj, slug, published in representatives(kb, second):
        access = ACCESS[person, slug]
        model = type(obj)
        if published in (False, "partly") and access == READ:
            access = None  # drafts are the writers'
        if model is ProgrammeMembership and slug not in MEMBER_OF[person]:
            access = None  # who the members are is for the members to know
        response = client.get(change_url(obj))
        if access is None:
            # As for a row that does not exist: back to the index, saying so; nothing of the row shown.
            assert response.status_code == 302 and response["Location"] == "/admin/", (model, slug)
            assert client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_history",
                                      args=[obj.pk])).status_code == 404
            continue
        assert response.status_code == 200, (model, slug)
        may_change = may_delete = access in (WRITE, LEAD)
        if model in (Programme, ProgrammeMembership):
            may_change = may_delete = access == LEAD  # a programme and its members: its leads
        if published and model is CMOConfiguration:
            may_change = may_delete = access == LEAD  # the publish lock, per programme
        if published and model.programme_path in ("configuration__programme", "from_configuration__programme"):
            # The lock makes a published configuration's rows read-only for evaluators; their delete
            # page lists the lock's refusal (tests/integrity/test_publish_lock.py).
            may_change = access == LEAD
        assert (response.context["has_change_permission"], response.context["has_delete_permission"]) == (
            may_change, may_delete), (model, slug, person)
        delete = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_delete", args=[obj.pk]))
        assert delete.status_code == (200 if may_delete else 403), (model, slug)


def test_a_reader_posting_a_change_is_refused_and_nothing_changes(people, kb):
    client = people.clients["bea"]
    url = change_url(kb.resigned)
    data = form_data(client.get(url)) | {"name": "Taken over"}
    assert client.post(url, data).status_code == 403
    kb.resigned.refresh_from_db()
    assert kb.resigned.name == "Patients resigned to dependence on nurses"


# --- forms: the programme and its choices -------------------------------------------------------------


def test_the_programme_choice_offers_only_the_programmes_the_person_writes_in(people, second, kb):
    for person, expected in (("eva", ["ctg"]), ("bea", ["second"]), ("root", ["ctg", "second"])):
        form = people.clients[person].get(reverse("admin:mechanisms_context_add")).context["adminform"].form
        assert sorted(form.fields["programme"].queryset.values_list("slug", flat=True)) == expected, person


def test_adding_a_row_to_a_programme_one_only_reads_is_a_form_error(people, kb):
    client = people.clients["bea"]
    response = client.post(reverse("admin:mechanisms_context_add"),
                           {"programme": kb.programme.pk, "slug": "intruder", "name": "Intruder", "order": "0"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "programme": [f"Select a valid choice: {kb.programme.pk} is not a programme you write in."]
    }
    assert not Context.objects.filter(slug="intruder").exists()


def test_choices_of_another_programme_are_errors_on_their_fields(people, second, kb):
    url = reverse("admin:mechanisms_cmoconfiguration_add")
    base = {
        "title": "Crossed", "slug": "crossed", "statement": "In C, M leads to O.", "effect": "triggered",
        "influence": "enabler", "confidence": "medium",
    }
    for prefix in ("wish_shifts", "evidence_links", "configurationpathway_set"):
        base.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    # eva writes in ctg only: a context of second is not even a choice.
    response = people.clients["eva"].post(url, base | {"programme": kb.programme.pk, "mechanism": kb.patient_beliefs.pk,
                                                        "contexts": [second.context.pk]})
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["contexts"]
    assert errors["contexts"] == [f"Select a valid choice: {second.context.pk} is not one of the contexts of its programme."]
    # root writes in both: the programme is the mechanism's (ctg), so second's context is refused by name.
    response = people.clients["root"].post(url, base | {"mechanism": kb.patient_beliefs.pk,
                                                         "contexts": [kb.resigned.pk, second.context.pk],
                                                         "outcomes": [second.outcome.pk]})
    errors = response.context["adminform"].form.errors
    assert errors == {
        "contexts": ["Context of another programme than 'ctg': resigned-dependence."],
        "outcomes": ["Outcome of another programme than 'ctg': self-care."],
    }
    # ...and a theme of second on a configuration of ctg, by the model's own rule.
    response = people.clients["root"].post(url, base | {"programme": kb.programme.pk, "mechanism": kb.patient_beliefs.pk,
                                                         "theme": second.theme.pk})
    assert list(response.context["adminform"].form.errors) == ["theme"]
    assert not CMOConfiguration.objects.filter(slug="crossed").exists()


def test_an_excerpt_takes_team_role_and_wave_of_its_sources_programme(people, second, kb):
    url = reverse("admin:evidence_evidenceexcerpt_add")
    text = "Introduction."
    data = {"slug": "crossed-excerpt", "kind": "participant_quote", "source": kb.source.pk, "start": "0",
            "end": str(len(text)), "text": text, "team": second.team.pk, "speaker_role": second.role.pk,
            "wave": second.wave.pk, "links-TOTAL_FORMS": "0", "links-INITIAL_FORMS": "0"}
    response = people.clients["root"].post(url, data)
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"team", "speaker_role", "wave"}
    assert not EvidenceExcerpt.objects.filter(slug="crossed-excerpt").exists()
    # The same with second's source is fine (for one who writes there).
    response = people.clients["bea"].post(url, data | {"source": second.source.pk})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert EvidenceExcerpt.objects.get(slug="crossed-excerpt").source == second.source


def test_autocompletes_offer_the_rows_of_the_programme_the_form_writes_in(people, second, kb):
    def autocomplete(person, **extra):
        params = {"app_label": "mechanisms", "model_name": "cmoconfiguration", "field_name": "contexts", "term": ""}
        response = people.clients[person].get("/admin/autocomplete/", params | extra)
        assert response.status_code == 200
        return sorted(int(r["id"]) for r in response.json()["results"])

    ctg = sorted(Context.objects.filter(programme=kb.programme).values_list("pk", flat=True))
    mine = sorted(Context.objects.filter(programme=second.programme).values_list("pk", flat=True))
    assert autocomplete("eva") == ctg
    assert autocomplete("eva", programme=second.programme.pk) == []  # not hers to see, let alone write in
    assert autocomplete("bea") == mine  # she reads ctg, and writes in second only
    assert autocomplete("root") == sorted(ctg + mine)
    assert autocomplete("root", programme=second.programme.pk) == mine
    # The configuration's page asks for its own programme's rows.
    page = people.clients["root"].get(change_url(second.draft)).content.decode()
    assert f'data-ajax--url="/admin/autocomplete/?programme={second.programme.pk}"' in page


# --- inlines ----------------------------------------------------------------------------------------------


def test_inline_rows_take_choices_of_the_parents_programme(people, second, kb):
    client = people.clients["root"]
    url = change_url(kb.pathway_targets)
    data = add_inline_row(form_data(client.get(url)), "evidence_links", excerpt=str(second.excerpt.pk), part="context",
                          stance="supports", note="")
    response = client.post(url, data)
    assert response.status_code == 200
    link_formset = next(f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "evidence_links")
    assert link_formset.errors[-1] == {
        "excerpt": [f"Select a valid choice: {second.excerpt.pk} is not one of the evidence excerpts of its programme."]
    }
    assert kb.pathway_targets.evidence_links.count() == 1


def test_inlines_are_read_only_for_readers(people, kb, second):
    response = people.clients["bea"].get(change_url(kb.shc_control))
    assert response.status_code == 200
    for inline in response.context["inline_admin_formsets"]:
        assert (inline.has_add_permission, inline.has_change_permission, inline.has_delete_permission) == (
            False, False, False), inline.formset.prefix
    # Her own programme's draft: every inline hers to edit.
    response = people.clients["bea"].get(change_url(second.draft))
    assert all(i.has_add_permission and i.has_change_permission for i in response.context["inline_admin_formsets"])


def test_an_evaluator_adds_an_inline_row_in_her_programme(people, second):
    client = people.clients["bea"]
    url = change_url(second.draft)
    data = add_inline_row(form_data(client.get(url)), "evidence_links", excerpt=str(second.excerpt.pk), part="context",
                          stance="illustrates", note="")
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert sorted(second.draft.evidence_links.values_list("part", flat=True)) == ["context", "outcome"]


# --- list-editable rows, bulk actions ----------------------------------------------------------------------


def changelist_data(response, changes):
    """The POST of the changelist's editable rows as rendered, with `changes` {pk: {field: value}}."""
    formset = response.context["cl"].formset
    data = {"form-TOTAL_FORMS": str(len(formset.forms)), "form-INITIAL_FORMS": str(len(formset.forms)),
            "_save": "Save"}
    for form in formset.forms:
        for name, field in form.fields.items():
            value = form[name].value()
            data[form.add_prefix(name)] = "" if value is None else str(getattr(value, "pk", value))
            if field.show_hidden_initial:
                data[form.add_initial_prefix(name)] = data[form.add_prefix(name)]
        data.update({form.add_prefix(k): v for k, v in changes.get(form.instance.pk, {}).items()})
    return data


def test_list_editable_rows_of_a_programme_one_only_reads_are_refused_naming_it(people, kb, second):
    client = people.clients["bea"]
    url = changelist_url(Context)
    response = client.get(url)
    data = changelist_data(response, {kb.resigned.pk: {"order": "7"}, second.spare_context.pk: {"order": "8"}})
    response = client.post(url, data)
    assert response.status_code == 200
    errors = [e for form in response.context["cl"].formset.forms for e in form.non_field_errors()]
    assert errors == ["Not saved: Context “Patients resigned to dependence on nurses” is in the programme 'ctg', "
                      "where you do not write."]
    assert (Context.objects.get(pk=kb.resigned.pk).order, Context.objects.get(pk=second.spare_context.pk).order) == (0, 0)
    # Her own row alone is saved.
    data = changelist_data(client.get(url), {second.spare_context.pk: {"order": "8"}})
    assert client.post(url, data).status_code == 302
    assert Context.objects.get(pk=second.spare_context.pk).order == 8


def test_bulk_workflow_actions_are_refused_per_programme_and_nothing_half_done(people, kb, second, django_user_model):
    from mechanisms import workflow

    # Lead in second, evaluator in ctg.
    mixed = _make_user(django_user_model, "mia", LEAD_EVALUATOR_GROUP, is_staff=True, programme=second.programme)
    join(mixed, kb.programme, "evaluator")
    workflow.submit_for_review(kb.pathway_targets, mixed)
    workflow.submit_for_review(second.draft, mixed)
    client = login(mixed)
    url = changelist_url(CMOConfiguration)
    response = client.post(url, {"action": "publish_action",
                                 "_selected_action": [kb.pathway_targets.pk, second.draft.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "No configuration was published: you may not do it in the programme:<ul><li>ctg (only its lead evaluators "
        "publish and unpublish): Pathway targets.</li></ul>"
    ]
    assert (CMOConfiguration.objects.get(pk=kb.pathway_targets.pk).status,
            CMOConfiguration.objects.get(pk=second.draft.pk).status) == (ReviewStatus.IN_REVIEW, ReviewStatus.IN_REVIEW)
    response = client.post(url, {"action": "publish_action", "_selected_action": [second.draft.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 configuration(s) published: Second draft."]
    assert CMOConfiguration.objects.get(pk=second.draft.pk).status == ReviewStatus.PUBLISHED

    # bob leads second and reads ctg: he sees ctg's published configurations but returns none to draft.
    response = people.clients["bob"].post(url, {"action": "return_to_draft_action",
                                                "_selected_action": [kb.shc_control.pk, second.published.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "No configuration was returned to draft: you may not do it in the programme:<ul><li>ctg (only its lead "
        "evaluators publish and unpublish): Shc control.</li></ul>"
    ]
    assert set(CMOConfiguration.objects.filter(pk__in=[kb.shc_control.pk, second.published.pk])
               .values_list("status", flat=True)) == {ReviewStatus.PUBLISHED}
    # Rows of a programme one does not see cannot even be selected: eva's submit of second's row moves nothing.
    second.draft.status = ReviewStatus.DRAFT
    second.draft.save()
    response = people.clients["eva"].post(url, {"action": "submit_for_review_action",
                                                "_selected_action": [second.draft.pk]}, follow=True)
    assert CMOConfiguration.objects.get(pk=second.draft.pk).status == ReviewStatus.DRAFT


def test_bulk_delete_refuses_rows_of_a_programme_one_only_reads_and_deletes_nothing(people, kb, second):
    client = people.clients["bea"]
    url = changelist_url(Context)
    selected = [second.spare_context.pk, kb.four_hour.pk]
    response = client.post(url, {"action": "delete_selected", "_selected_action": selected})
    assert response.status_code == 200
    assert "Context “A&amp;E four-hour waiting target” is in the programme &#x27;ctg&#x27;, where you do not write." in (
        response.content.decode())
    client.post(url, {"action": "delete_selected", "_selected_action": selected, "post": "yes"})
    assert Context.objects.filter(pk__in=selected).count() == 2
    # Her own programme's alone: deleted.
    client.post(url, {"action": "delete_selected", "_selected_action": [second.spare_context.pk], "post": "yes"})
    assert not Context.objects.filter(pk=second.spare_context.pk).exists()


# --- history ------------------------------------------------------------------------------------------------


def history_url(obj, version):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[obj.pk, version.history_id])


def test_history_of_a_private_row_does_not_exist_for_non_members(people, second):
    version = second.context.history.first()
    for person in ("eva", "leo"):
        client = people.clients[person]
        assert client.get(reverse("admin:mechanisms_context_history", args=[second.context.pk])).status_code == 404
        assert client.get(history_url(second.context, version)).status_code == 404
        assert client.post(history_url(second.context, version), {"name": "x"}).status_code == 404
    assert people.clients["bea"].get(history_url(second.context, version)).status_code == 200


def test_a_reader_sees_history_but_cannot_revert(people, kb):
    context = Context.objects.get(programme=kb.programme, slug="spare")
    original = context.history.earliest()
    context.name = "Renamed spare"
    context.save()
    client = people.clients["bea"]
    response = client.get(history_url(context, original))
    assert response.status_code == 200 and response.context["revert_disabled"] is True
    data = form_data(people.clients["leo"].get(history_url(context, original))) | {"_save": "Revert"}
    assert client.post(history_url(context, original), data).status_code == 403
    assert Context.objects.get(pk=context.pk).name == "Renamed spare"
    # Its writer reverts.
    assert people.clients["eva"].post(history_url(context, original), data).status_code == 302
    assert Context.objects.get(pk=context.pk).name == "A spare context of ctg"


def test_a_revert_that_moves_a_row_between_programmes_needs_both(people, kb, second, django_user_model):
    team = Team.objects.create(programme=kb.programme, slug="wanderer", name="Wanderer", short_name="Wanderer")
    in_ctg = team.history.earliest()
    team.programme = second.programme
    team.save()  # moved to second (by the operator)
    url = history_url(team, in_ctg)
    # bea writes in second, not in ctg where the old version would put it back.
    bea = people.clients["bea"]
    response = bea.get(url)
    assert response.status_code == 200 and response.context["revert_disabled"] is True
    data = form_data(people.clients["root"].get(url)) | {"_save": "Revert"}
    assert bea.post(url, data).status_code == 403
    # eva writes in ctg but does not even see the row now that it is second's.
    assert people.clients["eva"].get(url).status_code == 404
    assert Team.objects.get(pk=team.pk).programme == second.programme
    # One who writes in both moves it back.
    both = _make_user(django_user_model, "both", EVALUATOR_GROUP, is_staff=True)
    join(both, second.programme, "evaluator")
    response = login(both).post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert Team.objects.get(pk=team.pk).programme == kb.programme


# --- the programme and its members --------------------------------------------------------------------------


def members_inline(response):
    return next((f for f in response.context["inline_admin_formsets"] if f.formset.model is ProgrammeMembership), None)


def test_the_programme_page_has_is_public_frameworks_and_members_for_its_members(people, kb):
    response = people.clients["leo"].get(change_url(kb.programme))
    form = response.context["adminform"].form
    assert {"is_public", "frameworks", "name", "slug"} <= set(form.fields)
    inline = members_inline(response)
    assert inline.has_add_permission and inline.has_change_permission and inline.has_delete_permission
    assert sorted((f.instance.user.username, f.instance.role) for f in inline.formset.forms if f.instance.pk) == [
        ("ana", "analyst"), ("eva", "evaluator"), ("leo", "lead")]
    # An evaluator of the programme sees its members, read-only.
    inline = members_inline(people.clients["eva"].get(change_url(kb.programme)))
    assert (inline.has_add_permission, inline.has_change_permission, inline.has_delete_permission) == (False, False, False)
    # A reader of a public programme does not see who its members are.
    assert members_inline(people.clients["bea"].get(change_url(kb.programme))) is None


def test_only_a_lead_changes_the_members(people, kb, second):
    url = change_url(kb.programme)
    # eva (an evaluator of ctg) posting a new member: refused, nothing added.
    data = form_data(people.clients["leo"].get(url))
    data = add_inline_row(data, "memberships", user=str(people.users["bea"].pk), role="evaluator")
    assert people.clients["eva"].post(url, data).status_code == 403
    # bob leads second, not ctg.
    assert people.clients["bob"].post(url, data).status_code == 403
    assert not ProgrammeMembership.objects.filter(programme=kb.programme, user=people.users["bea"]).exists()
    # leo leads ctg: bea joins as an evaluator, and then writes there.
    response = people.clients["leo"].post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert ProgrammeMembership.objects.get(programme=kb.programme, user=people.users["bea"]).role == "evaluator"
    response = people.clients["bea"].get(change_url(kb.resigned))
    assert response.context["has_change_permission"] is True
    # leo does not see second, let alone its members.
    assert people.clients["leo"].get(change_url(second.programme)).status_code == 302


def test_the_membership_admin_adds_members_only_where_one_leads(people, kb, second):
    url = reverse("admin:projects_programmemembership_add")
    assert people.clients["eva"].get(url).status_code == 403  # leads nothing
    response = people.clients["bob"].post(url, {"programme": kb.programme.pk, "user": people.users["bea"].pk,
                                                "role": "lead"})
    assert list(response.context["adminform"].form.errors) == ["programme"]
    assert not ProgrammeMembership.objects.filter(programme=kb.programme, user=people.users["bea"]).exists()
    response = people.clients["bob"].post(url, {"programme": second.programme.pk, "user": people.users["eva"].pk,
                                                "role": "analyst"})
    assert response.status_code == 302
    assert ProgrammeMembership.objects.get(programme=second.programme, user=people.users["eva"]).role == "analyst"
    # Now eva, an analyst of second, sees it (read only) in the admin.
    assert people.clients["eva"].get(change_url(second.published)).status_code == 200


def test_whoever_creates_a_programme_leads_it(people, kb):
    data = {"name": "Third programme", "slug": "third", "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0", "memberships-0-user": str(people.users["eva"].pk),
            "memberships-0-role": "evaluator"}
    response = people.clients["bea"].post(reverse("admin:projects_programme_add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    third = Programme.objects.get(slug="third")
    assert third.is_public is False
    assert dict(third.memberships.values_list("user__username", "role")) == {"bea": "lead", "eva": "evaluator"}
    # Listing oneself is refused with a reason (one becomes its lead anyway).
    data = {"name": "Fourth", "slug": "fourth", "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": str(people.users["bea"].pk), "memberships-0-role": "evaluator"}
    response = people.clients["bea"].post(reverse("admin:projects_programme_add"), data)
    assert response.status_code == 200
    assert members_inline(response).formset.errors == [{"user": [
        "You become the lead evaluator of a programme you create: leave yourself out of its members here."]}]
    assert not Programme.objects.filter(slug="fourth").exists()


# --- the coding page, and refusals from the model layer --------------------------------------------------------


def test_the_coding_page_of_a_private_source_does_not_exist_for_non_members(people, second, kb):
    url = reverse("admin:evidence_source_code", args=[second.source.pk])
    assert people.clients["eva"].get(url).status_code == 404
    assert people.clients["bea"].get(url).context["can_add_excerpt"] is True
    response = people.clients["bea"].get(reverse("admin:evidence_source_code", args=[kb.source.pk]))
    assert response.status_code == 200 and response.context["can_add_excerpt"] is False


def test_a_refusal_of_the_model_layer_is_a_message_and_writes_nothing(people, second, kb, monkeypatch):
    """Should a form let a cross-programme choice through, the model layer's refusal (a ValidationError
    from the many-to-many guard) comes back as a message, with nothing written: not a 500."""
    from projects import programme_admin

    monkeypatch.setattr(programme_admin, "check_same_programme", lambda form: None)
    monkeypatch.setattr(programme_admin, "narrow_choices", lambda *args, **kwargs: None)
    client = people.clients["root"]
    url = change_url(kb.pathway_targets)
    data = form_data(client.get(url)) | {"title": "Half written?", "outcomes": [str(second.outcome.pk)]}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == url
    message = [str(m) for m in client.get(url).context["messages"]]
    assert message == ["Nothing was saved: Outcomes of another programme than 'ctg': self-care."]
    kb.pathway_targets.refresh_from_db()
    assert kb.pathway_targets.title == "Pathway targets"
    assert list(kb.pathway_targets.outcomes.all()) == [kb.self_care]


def test_the_excerpt_autocomplete_and_the_coding_pages_add_form_keep_to_the_sources_programme(people, second, kb):
    params = {"app_label": "evidence", "model_name": "evidencelink", "field_name": "excerpt", "term": ""}
    url = "/admin/evidence/evidenceexcerpt/autocomplete/"
    found = people.clients["root"].get(url, params | {"programme": second.programme.pk}).json()["results"]
    assert [r["id"] for r in found] == [str(second.excerpt.pk)]
    found = people.clients["eva"].get(url, params).json()["results"]
    assert sorted(int(r["id"]) for r in found) == sorted(
        EvidenceExcerpt.objects.filter(source__programme=kb.programme).values_list("pk", flat=True))
    # The coding page opens the add form with the source: its team and speaker role choices are that source's programme's.
    response = people.clients["root"].get(reverse("admin:evidence_evidenceexcerpt_add"),
                                          {"source": second.source.pk, "start": "0", "end": "13"})
    form = response.context["adminform"].form
    assert list(form.fields["speaker_role"].queryset) == [second.role]
    assert list(form.fields["team"].queryset) == [second.team]


def test_a_theme_slug_is_unique_in_its_programme_on_the_mechanisms_page_too(people, second, kb):
    client = people.clients["bea"]
    url = change_url(second.mechanism)
    data = form_data(client.get(url))
    # "targeting" is second's theme already (ctg has one too: that one does not count).
    data = add_inline_row(data, "themes", name="Targeting twice", slug="targeting", order="2", description="")
    response = client.post(url, data)
    assert response.status_code == 200
    themes = next(f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "themes")
    assert themes.errors[-1] == {"slug": ["Mechanism theme with this slug already exists in this programme."]}
    data = add_inline_row(form_data(client.get(url)), "themes", name="Timing", slug="timing", order="2", description="")
    data = add_inline_row(data, "themes", name="Timing again", slug="timing", order="3", description="")
    response = client.post(url, data)
    assert response.status_code == 200
    assert MechanismTheme.objects.filter(programme=second.programme).count() == 1
    data = add_inline_row(form_data(client.get(url)), "themes", name="Timing", slug="timing", order="2", description="")
    assert client.post(url, data).status_code == 302
    assert MechanismTheme.objects.get(programme=second.programme, slug="timing").mechanism == second.mechanism


def test_a_new_row_of_one_who_writes_in_one_programme_is_of_that_programme(people, second, kb):
    form = people.clients["bea"].get(reverse("admin:mechanisms_cmoconfiguration_add")).context["adminform"].form
    assert form.initial["programme"] == second.programme.pk
    assert list(form.fields["mechanism"].queryset) == [second.mechanism]
    form = people.clients["root"].get(reverse("admin:mechanisms_cmoconfiguration_add")).context["adminform"].form
    assert "programme" not in form.initial  # root writes everywhere: to be chosen
    assert set(form.fields["mechanism"].queryset) == set(EnablingMechanism.objects.all())
