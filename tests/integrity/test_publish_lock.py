"""The publish lock (mechanisms/publish_lock.py): what a published configuration shows changes only by
a lead evaluator, on every path; a source's text is fixed once excerpts point into it; verbatim text
is never trimmed.

In the kb fixture shc-control and shc-fear are published, pathway-targets is a draft. Every refusal
is checked for its status, the configurations it names, and that nothing was written.
"""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape

from cmo_kb.vocabulary import ReviewStatus
from evidence.models import EvidenceExcerpt, EvidenceLink, Source
from mechanisms import publish_lock
from mechanisms.models import CMOConfiguration, Context, MechanismTheme, Outcome, WishPole, WishShift
from projects.models import QualityDomain
from tests.conftest import SMALL_SOURCE_TEXT
from tests.curation.conftest import add_inline_row, form_data

SHC_CONTROL = "shc-control (“Shc control”)"
BOTH = "2 published configurations: shc-control (“Shc control”), shc-fear (“Shc fear”)"
TAIL = (
    ". Only a lead evaluator can change what a published configuration shows; ask one to make the change, "
    "or to return the configuration to draft first."
)


def locked(what, shown=SHC_CONTROL):
    noun = shown if shown.startswith("2 ") else f"a published configuration: {shown}"
    return f"{what} is shown by {noun}{TAIL}"


def refused(response, slugs):
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["configurations"] == slugs
    assert "Only a lead evaluator can change what a published configuration shows" in body["detail"]
    return body["detail"]


# --- API ------------------------------------------------------------------------------------------


def test_api_source_text_is_fixed_once_excerpts_point_into_it_for_leads_too(kb, evaluator_client, lead_client):
    for client in (evaluator_client, lead_client):
        response = client.patch("/api/sources/small-report/", {"full_text": "Rewritten."}, format="json")
        assert response.status_code == 422
        assert response.json() == {"full_text": [
            "The full text is verbatim and cannot change: 3 excerpts point into it by character offsets. "
            "Add a new source for a new version of the text."
        ]}
    assert Source.objects.get(slug="small-report").full_text == SMALL_SOURCE_TEXT
    # Without excerpts, a lead may still correct the text.
    bare = Source.objects.create(programme=kb.programme, slug="bare", kind=kb.report, title="Bare", full_text="Draft text.")
    assert lead_client.patch("/api/sources/bare/", {"full_text": "Final text."}, format="json").status_code == 200
    bare.refresh_from_db()
    assert bare.full_text == "Final text."


def test_api_sending_the_unchanged_text_back_keeps_every_offset(kb, evaluator_client):
    text = "\n\n  Title  \n\nI was heard at last.  \n\n"
    source = Source.objects.create(programme=kb.programme, slug="spaced", kind=kb.report, title="Spaced", full_text=text)
    start = text.index("I was")
    quote = EvidenceExcerpt.objects.create(slug="heard", source=source, text="I was heard at last.  \n",
                                           start=start, end=start + 23)
    EvidenceLink.objects.create(excerpt=quote, configuration=kb.shc_control, part="outcome")
    current = evaluator_client.get("/api/sources/spaced/").json()["full_text"]
    assert current == text
    # Unchanged is not a change: an evaluator may send a published configuration's source back as it is.
    response = evaluator_client.patch("/api/sources/spaced/", {"full_text": current}, format="json")
    assert response.status_code == 200
    assert Source.objects.get(slug="spaced").full_text == text
    quote.refresh_from_db()
    assert quote.text == text[quote.start : quote.end]
    # Excerpt text keeps its white space on the way in too.
    response = evaluator_client.post("/api/excerpts/", {
        "slug": "spaced-title", "source": "spaced", "text": "\n\n  Title  \n", "start": 0, "end": 12,
    }, format="json")
    assert response.status_code == 201, response.content
    assert EvidenceExcerpt.objects.get(slug="spaced-title").text == "\n\n  Title  \n"


def test_api_excerpt_cited_by_a_published_configuration(kb, evaluator_client, lead_client):
    new_start = SMALL_SOURCE_TEXT.index("more in control")
    change = {"text": "more in control", "start": new_start, "end": new_start + len("more in control")}
    detail = refused(evaluator_client.patch("/api/excerpts/q-control/", change, format="json"), ["shc-control"])
    assert detail == locked(f"Evidence excerpt “{kb.q_control}”")
    whole = evaluator_client.get("/api/excerpts/q-control/").json()
    put = {k: whole[k] for k in ("slug", "source", "text", "start", "end", "section", "team", "speaker_role",
                                 "attribution", "kind", "wave")} | {"note": "A second look."}
    refused(evaluator_client.put("/api/excerpts/q-control/", put, format="json"), ["shc-control"])
    kb.q_control.refresh_from_db()
    assert (kb.q_control.start, kb.q_control.note) == (SMALL_SOURCE_TEXT.index("I feel"), "")
    # Sent back unchanged, it is not a change.
    assert evaluator_client.put("/api/excerpts/q-control/", put | {"note": ""}, format="json").status_code == 200
    # An excerpt only a draft cites is the evaluator's to change; a lead changes the published one.
    assert evaluator_client.patch("/api/excerpts/f-target/", {"note": "Checked."}, format="json").status_code == 200
    assert lead_client.patch("/api/excerpts/q-control/", change, format="json").status_code == 200
    kb.q_control.refresh_from_db()
    assert kb.q_control.text == "more in control"
    assert kb.q_control.history.first().history_user.username == "leo"


def test_api_delete_vocabulary_a_published_configuration_uses(kb, evaluator_client, lead_client):
    detail = refused(evaluator_client.delete("/api/contexts/resigned-dependence/"), ["shc-control", "shc-fear"])
    assert detail == locked(f"Context “{kb.resigned}”", BOTH)
    refused(evaluator_client.delete("/api/outcomes/self-care/"), ["shc-control"])
    assert Context.objects.filter(slug="resigned-dependence").exists()
    assert Outcome.objects.filter(slug="self-care").exists()
    assert list(kb.shc_control.contexts.values_list("slug", flat=True)) == ["resigned-dependence"]
    # Used by a draft only: the lock does not apply, but a row still in use is not deleted from under
    # any configuration, whoever asks (mechanisms/dependents.py: 409, as in the admin).
    assert evaluator_client.delete("/api/contexts/four-hour-target/").status_code == 409
    assert lead_client.delete("/api/outcomes/self-care-refused/").status_code == 409
    assert Context.objects.filter(slug="four-hour-target").exists() and Outcome.objects.filter(slug="self-care-refused").exists()


@pytest.mark.parametrize(
    "url, change, slugs",
    [
        ("/api/contexts/resigned-dependence/", {"name": "Resigned"}, ["shc-control", "shc-fear"]),
        ("/api/outcomes/self-care/", {"quality_domains": ["safety"]}, ["shc-control"]),  # its m2m
        ("/api/outcome-kinds/relationship-change/", {"name": "Change"}, ["shc-control", "shc-fear"]),
        ("/api/mechanisms/patient-beliefs/", {"short_name": "Patients"}, ["shc-control", "shc-fear"]),
        ("/api/themes/targeting/", {"name": "Aiming"}, ["shc-control"]),
        ("/api/wish-dimensions/power/", {"description": "Who decides."}, ["shc-control", "shc-fear"]),
        ("/api/relationship-pairs/clinician-patient/", {"name": "Nurse–patient"}, ["shc-control", "shc-fear"]),
        ("/api/quality-domains/person-centredness/", {"order": 9}, ["shc-control", "shc-fear"]),
        ("/api/teams/shc/", {"short_name": "Haemo"}, ["shc-control", "shc-fear"]),
        ("/api/speaker-roles/patient/", {"name": "Service user"}, ["shc-control"]),
        ("/api/sources/small-report/", {"title": "Retitled"}, ["shc-control", "shc-fear"]),
        ("/api/configurations/shc-control/", {"title": "Changed"}, ["shc-control"]),
        ("/api/configurations/shc-control/", {"contexts": ["four-hour-target"]}, ["shc-control"]),  # m2m
        ("/api/configurations/shc-fear/", {"wish_shifts": []}, ["shc-fear"]),
        ("/api/configurations/shc-fear/", {"pathways": ["a"]}, ["shc-fear"]),
    ],
)
def test_api_changes_to_what_published_configurations_show(kb, evaluator_client, lead_client, url, change, slugs):
    before = evaluator_client.get(url).json()
    refused(evaluator_client.patch(url, change, format="json"), slugs)
    assert evaluator_client.get(url).json() == before  # nothing written, updated_at included
    assert lead_client.patch(url, change, format="json").status_code == 200


def test_api_unchanged_published_configuration_is_not_a_change(kb, evaluator_client):
    current = evaluator_client.get("/api/configurations/shc-control/").json()
    payload = {
        "title": current["title"], "statement": current["statement"], "teams": ["shc"],
        "contexts": ["resigned-dependence"], "outcomes": ["self-care"], "quality_domains": ["person-centredness"],
        "wish_shifts": [{"dimension": "power", "toward": "agency", "between": "clinician-patient", "note": ""}],
        "pathways": [],
    }
    response = evaluator_client.patch("/api/configurations/shc-control/", payload, format="json")
    assert response.status_code == 200, response.content
    assert WishShift.objects.filter(configuration=kb.shc_control).count() == 1


def test_api_evidence_links_and_deletes_of_published_configurations(kb, evaluator_client, lead_client):
    link = kb.shc_fear.evidence_links.get()
    refused(evaluator_client.patch(f"/api/evidence-links/{link.pk}/", {"stance": "challenges"}, format="json"),
            ["shc-fear"])
    # Moving a draft's link onto a published configuration concerns that one.
    draft_link = kb.pathway_targets.evidence_links.get()
    refused(evaluator_client.patch(f"/api/evidence-links/{draft_link.pk}/", {"configuration": "shc-fear"},
                                   format="json"), ["shc-fear"])
    refused(evaluator_client.delete("/api/configurations/shc-fear/"), ["shc-fear"])
    assert CMOConfiguration.objects.filter(slug="shc-fear").exists()
    assert EvidenceLink.objects.get(pk=draft_link.pk).configuration == kb.pathway_targets
    assert lead_client.delete("/api/configurations/shc-fear/").status_code == 204


# --- Admin ----------------------------------------------------------------------------------------


def test_admin_excerpt_form_refuses_with_the_configurations_and_keeps_what_was_typed(kb, eva_client, leo_client):
    url = reverse("admin:evidence_evidenceexcerpt_change", args=[kb.q_control.pk])
    data = form_data(eva_client.get(url))
    assert eva_client.post(url, data).status_code == 302  # opened and saved unchanged: not a change
    # (that save is a new version: a form opened before it would now be a conflict, so reopen it)
    data = form_data(eva_client.get(url))
    data["attribution"] = "(SHC, a patient)"
    response = eva_client.post(url, data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.non_field_errors() == [locked(f"Evidence excerpt “{kb.q_control}”")]
    assert form["attribution"].value() == "(SHC, a patient)"
    assert EvidenceExcerpt.objects.get(pk=kb.q_control.pk).attribution == "(Shared Haemodialysis Care, patient)"
    lead_data = form_data(leo_client.get(url))
    lead_data["attribution"] = "(SHC, a patient)"
    assert leo_client.post(url, lead_data).status_code == 302
    assert EvidenceExcerpt.objects.get(pk=kb.q_control.pk).attribution == "(SHC, a patient)"


def test_admin_vocabulary_form_and_m2m(kb, eva_client, leo_client):
    url = reverse("admin:mechanisms_outcome_change", args=[kb.self_care.pk])
    data = form_data(eva_client.get(url))
    data["quality_domains"] = [str(kb.safety.pk)]
    response = eva_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [locked(f"Outcome “{kb.self_care}”")]
    assert list(kb.self_care.quality_domains.all()) == []
    assert leo_client.post(url, data).status_code == 302
    assert list(kb.self_care.quality_domains.all()) == [kb.safety]


def test_admin_inlines(kb, eva_client, leo_client):
    # Links seen from the excerpt: adding one to a published configuration, and deleting one.
    url = reverse("admin:evidence_evidenceexcerpt_change", args=[kb.f_target.pk])
    data = add_inline_row(form_data(eva_client.get(url)), "links", configuration=str(kb.shc_fear.pk),
                          part="context", stance="illustrates")
    response = eva_client.post(url, data)
    assert response.status_code == 200
    [formset] = [f.formset for f in response.context["inline_admin_formsets"]]
    assert formset.forms[1].non_field_errors() == [
        locked("Evidence link “f-target illustrates shc-fear (context)”", "shc-fear (“Shc fear”)")
    ]
    assert not kb.shc_fear.evidence_links.filter(excerpt=kb.f_target).exists()
    url = reverse("admin:evidence_evidenceexcerpt_change", args=[kb.q_jobs.pk])
    data = form_data(eva_client.get(url))
    data["links-0-DELETE"] = "on"
    response = eva_client.post(url, data)
    assert response.status_code == 200
    [formset] = [f.formset for f in response.context["inline_admin_formsets"]]
    assert formset.non_form_errors() == [
        "Not deleted: " + locked("Evidence link “q-jobs supports shc-fear (mechanism)”", "shc-fear (“Shc fear”)")
    ]
    assert kb.shc_fear.evidence_links.count() == 1
    # A Wish pole edited inline on its dimension's page.
    url = reverse("admin:mechanisms_wishdimension_change", args=[kb.power.pk])
    data = form_data(eva_client.get(url))
    index = next(i for i in range(2) if data[f"poles-{i}-slug"] == "agency")
    data[f"poles-{index}-name"] = "Autonomy"
    response = eva_client.post(url, data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[index].non_field_errors() == [locked("Wish pole “Power: Agency”")]
    assert WishPole.objects.get(slug="agency").name == "Agency"
    assert leo_client.post(url, data).status_code == 302
    assert WishPole.objects.get(slug="agency").name == "Autonomy"


def test_admin_changelist_edits_and_bulk_delete_report_each_row(kb, eva_client, leo_client):
    url = reverse("admin:mechanisms_context_changelist")
    contexts = list(Context.objects.order_by("order", "name"))
    data = {"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "_save": "Save"}
    for i, context in enumerate(contexts):
        data[f"form-{i}-id"] = str(context.pk)
        data[f"form-{i}-order"] = "5"
    response = eva_client.post(url, data)
    assert response.status_code == 200
    errors = [form.non_field_errors() for form in response.context["cl"].formset.forms]
    assert locked(f"Context “{kb.resigned}”", BOTH) in sum(errors, [])
    assert set(Context.objects.values_list("order", flat=True)) == {0}  # nothing written, not even the draft's
    # Bulk delete of Wish shifts: refused with one line per published configuration's row.
    shifts = WishShift.objects.filter(configuration__in=[kb.shc_control, kb.shc_fear]).order_by("pk")
    response = eva_client.post(reverse("admin:mechanisms_wishshift_changelist"), {
        "action": "delete_selected", "_selected_action": [str(s.pk) for s in shifts], "post": "yes"})
    assert response.status_code == 200
    page = response.content.decode()
    for shift, shown in zip(shifts, [SHC_CONTROL, "shc-fear (“Shc fear”)"]):
        assert escape(locked(f"Wish shift “{shift}”", shown)) in page
    assert WishShift.objects.count() == 2
    response = leo_client.post(reverse("admin:mechanisms_wishshift_changelist"), {
        "action": "delete_selected", "_selected_action": [str(s.pk) for s in shifts], "post": "yes"})
    assert response.status_code == 302
    assert WishShift.objects.count() == 0


def test_admin_history_revert_needs_change_permission_and_obeys_the_lock(kb, evaluator, django_user_model, lead):
    from django.test import Client

    original = kb.shc_control.history.first()  # as published, with its contexts and outcomes
    with publish_lock.acting_as(lead):
        kb.shc_control.title = "Control, clarified"
        kb.shc_control.save()
    url = reverse("admin:mechanisms_cmoconfiguration_simple_history", args=[kb.shc_control.pk, original.history_id])
    eva, leo = Client(), Client()
    eva.force_login(evaluator)
    leo.force_login(lead)
    data = form_data(leo.get(url)) | {"_save": "Revert"}
    response = eva.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        locked("CMO configuration “Control, clarified”", "shc-control (“Control, clarified”)")
    ]
    assert CMOConfiguration.objects.get(pk=kb.shc_control.pk).title == "Control, clarified"
    # Viewing history is not changing it: a view-only account cannot revert at all.
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_cmoconfiguration"]))
    client = Client()
    client.force_login(viewer)
    assert client.get(url).status_code == 200
    assert client.post(url, data).status_code == 403
    # A lead reverts; it stays published and the history records the lead.
    assert leo.post(url, data).status_code == 302
    kb.shc_control.refresh_from_db()
    assert (kb.shc_control.title, kb.shc_control.status) == ("Shc control", ReviewStatus.PUBLISHED)
    assert kb.shc_control.history.first().history_user == lead


# --- The model layer: ORM, shell and management commands --------------------------------------------


def test_orm_changes_obey_the_acting_user(kb, evaluator, lead):
    def refuses(action):
        with publish_lock.acting_as(evaluator), pytest.raises(publish_lock.PublishedKnowledgeLocked) as info:
            with transaction.atomic():
                action()
        return info.value

    def rename():
        kb.targeting.name = "Aiming"
        kb.targeting.save()

    assert refuses(rename).slugs == ["shc-control"]
    assert refuses(lambda: kb.shc_control.teams.add(kb.pathway_team)).slugs == ["shc-control"]
    assert refuses(lambda: kb.resigned.configurations.remove(kb.shc_fear)).slugs == ["shc-fear"]
    assert refuses(lambda: kb.resigned.configurations.clear()).slugs == ["shc-control", "shc-fear"]
    assert refuses(lambda: kb.safety.outcomes.add(kb.self_care)).slugs == ["shc-control"]
    assert refuses(lambda: kb.shc_fear.pathways.add(kb.pathway_a)).slugs == ["shc-fear"]
    assert refuses(lambda: WishShift.objects.filter(configuration=kb.shc_fear).delete()).slugs == ["shc-fear"]
    assert refuses(lambda: CMOConfiguration.objects.filter(slug__startswith="shc").delete()).slugs == ["shc-control"]
    assert MechanismTheme.objects.get(slug="targeting").name == "Targeting"
    assert set(kb.resigned.configurations.values_list("slug", flat=True)) == {"shc-control", "shc-fear"}
    assert WishShift.objects.filter(configuration=kb.shc_fear).count() == 1
    assert CMOConfiguration.objects.filter(slug__startswith="shc").count() == 2
    assert list(kb.safety.outcomes.all()) == []
    # Saving a row unchanged is not a change; a draft's rows are the evaluator's.
    kb.targeting.refresh_from_db()
    with publish_lock.acting_as(evaluator):
        kb.targeting.save()
        kb.pathway_targets.contexts.add(kb.resigned)
        QualityDomain.objects.get(slug="safety").save()
    with publish_lock.acting_as(lead):
        rename()
    assert MechanismTheme.objects.get(slug="targeting").name == "Aiming"


def test_outside_a_request_the_operator_acts_with_lead_rights(kb, tmp_path):
    # A management command or the shell: no request, so no user to refuse.
    kb.resigned.name = "Resigned to dependence"
    kb.resigned.save()
    assert Context.objects.get(slug="resigned-dependence").name == "Resigned to dependence"
    out = tmp_path / "out.qdpx"
    call_command("export_refi_qda", "--output", str(out))
    assert out.exists()
    # ... but not past the verbatim rule.
    kb.source.full_text = kb.source.full_text.upper()
    with pytest.raises(Exception, match="3 excerpts point into it"):
        kb.source.save()
