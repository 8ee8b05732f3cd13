"""Who may use the admin and what each role may do there: evaluator, lead evaluator, analyst, anonymous."""

import pytest
from django.test import Client
from django.urls import reverse

from cmo_kb.vocabulary import ReviewStatus
from mechanisms.models import CMOConfiguration

from .conftest import add_inline_row, form_data

CONFIG_CHANGELIST = "/admin/mechanisms/cmoconfiguration/"


def change_url(configuration):
    return reverse("admin:mechanisms_cmoconfiguration_change", args=[configuration.pk])


def workflow_url(configuration, action):
    return reverse("admin:mechanisms_cmoconfiguration_workflow", args=[configuration.pk, action])


def status_of(configuration):
    return CMOConfiguration.objects.values_list("status", flat=True).get(pk=configuration.pk)


# --- who gets in


@pytest.mark.parametrize("url", ["/admin/", CONFIG_CHANGELIST, "/admin/evidence/source/1/code/"])
def test_anonymous_visitors_are_sent_to_the_login_page(db, client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_analysts_cannot_log_in_to_the_admin(analyst):
    client = Client()
    response = client.post("/admin/login/", {"username": "ana", "password": "pw-ana"})
    assert response.status_code == 200
    assert "Please enter the correct username and password for a staff account" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_an_analyst_session_is_refused_everywhere_in_the_admin(kb, ana_client):
    for url in ["/admin/", CONFIG_CHANGELIST, f"/admin/evidence/source/{kb.source.pk}/code/",
                change_url(kb.shc_control)]:
        response = ana_client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/")
    response = ana_client.post(workflow_url(kb.pathway_targets, "submit_for_review"))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert status_of(kb.pathway_targets) == ReviewStatus.DRAFT


@pytest.mark.parametrize("username", ["eva", "leo"])
def test_evaluators_and_leads_log_in(kb, evaluator, lead, username):
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": "pw-" + username},
                           follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/admin/"
    assert "CMO configurations" in response.content.decode()


# --- the review buttons and bulk actions


def test_evaluator_sees_submit_but_no_publish_button(kb, eva_client):
    page = eva_client.get(change_url(kb.pathway_targets)).content.decode()
    assert "review-submit_for_review" in page
    assert "review-publish" not in page


def test_lead_sees_publish_once_in_review(kb, eva_client, leo_client):
    eva_client.post(workflow_url(kb.pathway_targets, "submit_for_review"))
    page = leo_client.get(change_url(kb.pathway_targets)).content.decode()
    assert "review-publish" in page and "review-return_to_draft" in page


def test_evaluator_submits_with_the_button(kb, eva_client, evaluator):
    response = eva_client.post(workflow_url(kb.pathway_targets, "submit_for_review"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(kb.pathway_targets)
    assert "“Pathway targets” is now in review." in [str(m) for m in response.context["messages"]]
    assert status_of(kb.pathway_targets) == ReviewStatus.IN_REVIEW


def test_evaluator_posting_publish_is_refused_with_a_message(kb, eva_client):
    eva_client.post(workflow_url(kb.pathway_targets, "submit_for_review"), follow=True)
    response = eva_client.post(workflow_url(kb.pathway_targets, "publish"), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "“Pathway targets” was not published: only lead evaluators of 'ctg' can publish."
    ]
    assert status_of(kb.pathway_targets) == ReviewStatus.IN_REVIEW


def test_lead_publish_button_refused_with_what_is_missing(kb, evaluator, lead, leo_client):
    from mechanisms import workflow

    workflow.submit_for_review(kb.pathway_targets, evaluator)
    kb.pathway_targets.contexts.clear()  # taken apart while in review
    kb.pathway_targets.evidence_links.all().delete()
    response = leo_client.post(workflow_url(kb.pathway_targets, "publish"), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "“Pathway targets” was not published: it has no context; it has no evidence link."
    ]
    assert status_of(kb.pathway_targets) == ReviewStatus.IN_REVIEW


def test_workflow_urls_refuse_get_and_unknown_actions(kb, leo_client):
    assert leo_client.get(workflow_url(kb.pathway_targets, "publish")).status_code == 405
    assert leo_client.post(workflow_url(kb.pathway_targets, "delete_everything")).status_code == 403


def test_bulk_actions_offered_per_role(kb, eva_client, leo_client):
    eva_actions = [a for a, _ in eva_client.get(CONFIG_CHANGELIST).context["action_form"].fields["action"].choices]
    leo_actions = [a for a, _ in leo_client.get(CONFIG_CHANGELIST).context["action_form"].fields["action"].choices]
    assert "publish_action" not in eva_actions
    assert {"submit_for_review_action", "return_to_draft_action"} <= set(eva_actions)
    assert {"submit_for_review_action", "publish_action", "return_to_draft_action"} <= set(leo_actions)


def test_evaluator_cannot_run_the_publish_action_by_posting_it(kb, evaluator, eva_client):
    from mechanisms import workflow

    workflow.submit_for_review(kb.pathway_targets, evaluator)
    response = eva_client.post(
        CONFIG_CHANGELIST, {"action": "publish_action", "_selected_action": [kb.pathway_targets.pk]}, follow=True
    )
    assert response.status_code == 200
    assert status_of(kb.pathway_targets) == ReviewStatus.IN_REVIEW


def test_bulk_submit_and_publish_report_failures(kb, eva_client, leo_client):
    bare = CMOConfiguration.objects.create(programme=kb.programme, slug="bare", title="Bare", statement="In C, M leads to O.")
    response = eva_client.post(
        CONFIG_CHANGELIST,
        {"action": "submit_for_review_action", "_selected_action": [bare.pk, kb.pathway_targets.pk, kb.shc_control.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "1 configuration(s) submitted for review: Pathway targets.",
        "2 configuration(s) not submitted for review:<ul><li>Bare: it has no mechanism; it has no context; "
        "it has no outcome; it has no evidence link.</li><li>Shc control: it is published; only configurations "
        "that are a draft can be submitted for review.</li></ul>",
    ]
    response = leo_client.post(
        CONFIG_CHANGELIST,
        {"action": "publish_action", "_selected_action": [bare.pk, kb.pathway_targets.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "1 configuration(s) published: Pathway targets.",
        "1 configuration(s) not published:<ul><li>Bare: it is a draft; only configurations that are in review "
        "can be published.</li></ul>",
    ]
    assert status_of(bare) == ReviewStatus.DRAFT
    assert status_of(kb.pathway_targets) == ReviewStatus.PUBLISHED


# --- status never moves through the form


def new_configuration_data(kb, **extra):
    data = {
        "title": "New one", "slug": "new-one", "statement": "In C, M leads to O.", "teams": [kb.shc.pk],
        "contexts": [kb.resigned.pk], "mechanism": kb.patient_beliefs.pk, "effect": "triggered",
        "outcomes": [kb.self_care.pk], "influence": "enabler", "confidence": "medium",
    }
    for prefix in ("wish_shifts", "evidence_links", "configurationpathway_set"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    data.update(extra)
    return data


def test_evaluator_adds_a_configuration_as_a_draft_even_when_posting_published(kb, evaluator, eva_client):
    data = new_configuration_data(kb, status="published")
    add_inline_row(data, "evidence_links", excerpt=kb.q_control.pk, part="outcome", stance="supports")
    response = eva_client.post("/admin/mechanisms/cmoconfiguration/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    new = CMOConfiguration.objects.get(slug="new-one")
    assert new.status == ReviewStatus.DRAFT
    assert (new.created_by, new.updated_by) == (evaluator, evaluator)
    link = new.evidence_links.get()
    assert (link.excerpt, link.part, link.created_by) == (kb.q_control, "outcome", evaluator)


def test_editing_cannot_change_the_status(kb, eva_client):
    data = form_data(eva_client.get(change_url(kb.pathway_targets)))
    data.update(status="published", title="Pathway targets, renamed")
    response = eva_client.post(change_url(kb.pathway_targets), data)
    assert response.status_code == 302
    kb.pathway_targets.refresh_from_db()
    assert (kb.pathway_targets.title, kb.pathway_targets.status) == ("Pathway targets, renamed", ReviewStatus.DRAFT)


def test_published_configurations_are_read_only_for_evaluators(kb, eva_client):
    response = eva_client.get(change_url(kb.shc_control))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in page
    assert "Published: only a lead evaluator can change it or return it to draft." in page
    data = form_data(response) if response.context.get("adminform") else {}
    response = eva_client.post(change_url(kb.shc_control), data | {"title": "Hijacked"})
    assert response.status_code == 403
    kb.shc_control.refresh_from_db()
    assert kb.shc_control.title == "Shc control"
    assert eva_client.post(reverse("admin:mechanisms_cmoconfiguration_delete", args=[kb.shc_control.pk]),
                           {"post": "yes"}).status_code == 403
    assert CMOConfiguration.objects.filter(pk=kb.shc_control.pk).exists()


def test_evidence_links_of_published_configurations_are_locked_for_evaluators(kb, eva_client, leo_client):
    link = kb.shc_control.evidence_links.get()
    url = reverse("admin:evidence_evidencelink_change", args=[link.pk])
    assert eva_client.post(url, {"excerpt": kb.q_jobs.pk, "configuration": kb.shc_control.pk,
                                 "stance": "challenges", "part": "outcome"}).status_code == 403
    response = eva_client.post("/admin/evidence/evidencelink/add/", {
        "excerpt": kb.q_jobs.pk, "configuration": kb.shc_control.pk, "stance": "supports", "part": "context"})
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Evidence link “q-jobs supports shc-control (context)” is shown by a published configuration: "
        "shc-control (“Shc control”). Only a lead evaluator can change what a published configuration shows; "
        "ask one to make the change, or to return the configuration to draft first."
    ]
    assert kb.shc_control.evidence_links.count() == 1
    response = leo_client.post("/admin/evidence/evidencelink/add/", {
        "excerpt": kb.q_jobs.pk, "configuration": kb.shc_control.pk, "stance": "supports", "part": "context"})
    assert response.status_code == 302
    assert kb.shc_control.evidence_links.count() == 2


def test_lead_edits_a_published_configuration(kb, leo_client, lead):
    data = form_data(leo_client.get(change_url(kb.shc_control)))
    data["title"] = "Control, clarified"
    assert leo_client.post(change_url(kb.shc_control), data).status_code == 302
    kb.shc_control.refresh_from_db()
    assert (kb.shc_control.title, kb.shc_control.status, kb.shc_control.updated_by) == (
        "Control, clarified", ReviewStatus.PUBLISHED, lead
    )
