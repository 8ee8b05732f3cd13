"""A row that configurations use through a many-to-many relation is not deleted from under them, on
any path (mechanisms/dependents.py): the API answers 409 naming them, the ORM raises ProtectedError,
the admin's delete page lists them. Leads too: the publish lock would let a lead through."""

import pytest
from django.db import transaction
from django.db.models import ProtectedError
from django.urls import reverse

from mechanisms.models import CMOConfiguration, Context, Outcome
from projects.models import QualityDomain

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("resource", "attr", "model", "user"), [
    ("contexts", "four_hour", Context, "Pathway targets"),  # a draft's: the publish lock does not apply
    ("outcomes", "self_care", Outcome, "Pathway targets"),
    ("quality-domains", "safety", QualityDomain, "Shc fear"),  # published: the lock lets a lead through
])
def test_api_delete_of_a_used_row_is_a_409_naming_its_users(kb, lead_client, resource, attr, model, user):
    row = getattr(kb, attr)
    response = lead_client.delete(f"/api/{resource}/{row.slug}/")
    assert response.status_code == 409, response.content
    assert f"CMO configuration: {user}" in response.json()["dependents"]
    assert model.objects.filter(pk=row.pk).exists()
    assert kb.pathway_targets.contexts.count() == 1 and kb.shc_fear.quality_domains.count() == 2


def test_api_delete_of_an_unused_row_goes_through(kb, lead_client):
    Context.objects.create(programme=kb.programme, slug="unused", name="Unused")
    assert lead_client.delete("/api/contexts/unused/").status_code == 204
    assert not Context.objects.filter(slug="unused").exists()


def test_orm_and_bulk_deletes_are_refused_too(kb):
    # (each in its own atomic block: Django deletes inside atomic(savepoint=False))
    with pytest.raises(ProtectedError) as refused, transaction.atomic():
        kb.four_hour.delete()
    assert kb.pathway_targets in refused.value.protected_objects
    with pytest.raises(ProtectedError), transaction.atomic():
        QualityDomain.objects.filter(pk=kb.safety.pk).delete()
    assert Context.objects.filter(pk=kb.four_hour.pk).exists()
    assert set(CMOConfiguration.objects.get(pk=kb.pathway_targets.pk).contexts.all()) == {kb.four_hour}


def test_admin_delete_page_lists_the_users(kb, admin_client):
    url = reverse("admin:mechanisms_context_delete", args=[kb.four_hour.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "Pathway targets" in response.content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 200  # refused: the page again
    assert Context.objects.filter(pk=kb.four_hour.pk).exists()
