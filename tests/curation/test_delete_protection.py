"""Deleting something others depend on is refused, with the list of what depends on it; nothing is deleted."""

from django.urls import reverse

from evidence.models import EvidenceExcerpt
from mechanisms.models import Context, EnablingMechanism
from projects.models import Team


def test_team_with_excerpts_and_configurations_is_not_deleted(kb, leo_client):
    url = reverse("admin:projects_team_delete", args=[kb.shc.pk])
    response = leo_client.get(url)
    page = response.content.decode()
    assert "would require deleting the following protected related objects" in page
    protected = [str(p) for p in response.context["protected"]]
    assert any("I feel more in control of my own dialysis now." in p for p in protected)
    assert any("We were worried our jobs would go." in p for p in protected)
    assert any(p.startswith("CMO configuration: ") and "Shc control" in p for p in protected)
    assert any("Shc fear" in p for p in protected)
    response = leo_client.post(url, {"post": "yes"})
    assert response.status_code == 200  # the same refusal page again, not a redirect
    assert Team.objects.filter(pk=kb.shc.pk).exists()
    assert kb.shc_control.teams.filter(pk=kb.shc.pk).exists()


def test_context_used_by_configurations_is_not_deleted(kb, leo_client):
    url = reverse("admin:mechanisms_context_delete", args=[kb.resigned.pk])
    response = leo_client.get(url)
    assert sorted(str(p) for p in response.context["protected"]) == [
        f'CMO configuration: <a href="/admin/mechanisms/cmoconfiguration/{kb.shc_control.pk}/change/">Shc control</a>'
        " (uses Patients resigned to dependence on nurses)",
        f'CMO configuration: <a href="/admin/mechanisms/cmoconfiguration/{kb.shc_fear.pk}/change/">Shc fear</a>'
        " (uses Patients resigned to dependence on nurses)",
    ]
    leo_client.post(url, {"post": "yes"})
    assert Context.objects.filter(pk=kb.resigned.pk).exists()
    assert kb.shc_control.contexts.count() == 1


def test_bulk_delete_of_mechanisms_in_use_is_refused(kb, leo_client):
    response = leo_client.post(
        "/admin/mechanisms/enablingmechanism/",
        {"action": "delete_selected", "_selected_action": [kb.patient_beliefs.pk, kb.professional_beliefs.pk],
         "post": "yes"},
    )
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in response.content.decode()
    protected = " ".join(str(p) for p in response.context["protected"])
    assert "Shc control" in protected and "Pathway targets" in protected and "Targeting" in protected
    assert EnablingMechanism.objects.count() == 2


def test_excerpt_linked_to_a_configuration_is_not_deleted(kb, leo_client):
    url = reverse("admin:evidence_evidenceexcerpt_delete", args=[kb.q_control.pk])
    response = leo_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "Evidence link" in " ".join(str(p) for p in response.context["protected"])
    assert EvidenceExcerpt.objects.filter(pk=kb.q_control.pk).exists()


def test_unused_rows_are_deleted(kb, leo_client, lead):
    unused = Context.objects.create(programme=kb.programme, slug="unused", name="Unused context")
    response = leo_client.post(reverse("admin:mechanisms_context_delete", args=[unused.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Context.objects.filter(pk=unused.pk).exists()
    assert Context.history.filter(id=unused.pk, history_type="-").get().history_user == lead
