"""A token acts with its account's rights: evaluators may not obtain a lead's or a superuser's."""

import pytest
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_evaluator_issues_tokens_for_analysts_and_themselves_only(kb, evaluator, lead, analyst, admin_user, evaluator_client):
    for username in ("ana", "eva"):
        response = evaluator_client.post("/api/auth/tokens/", {"username": username}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["token"] == Token.objects.get(user__username=username).key
    for username in ("leo", "root"):
        before = Token.objects.filter(user__username=username).count()
        response = evaluator_client.post("/api/auth/tokens/", {"username": username}, format="json")
        assert response.status_code == 403
        assert f"not for '{username}'" in response.json()["detail"]
        assert "token" not in response.json()
        assert Token.objects.filter(user__username=username).count() == before


def test_superuser_issues_tokens_for_anyone(kb, lead, admin_user):
    from tests.conftest import token_client

    response = token_client(admin_user).post("/api/auth/tokens/", {"username": "leo"}, format="json")
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=lead).key


def test_token_admin_hides_writers_tokens_from_evaluators(client, evaluator, lead, analyst, admin_user):
    lead_key = Token.objects.create(user=lead).key
    root_key = Token.objects.create(user=admin_user).key
    analyst_key = Token.objects.create(user=analyst).key
    client.force_login(evaluator)
    listing = client.get("/admin/authtoken/tokenproxy/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert analyst_key in body
    assert lead_key not in body and root_key not in body
    add = client.get("/admin/authtoken/tokenproxy/add/").content.decode()
    assert ">ana<" in add and ">eva<" in add
    assert ">leo<" not in add and ">root<" not in add
    # Posting a lead's account anyway is refused by the form, and no token is made.
    Token.objects.filter(user=lead).delete()
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": lead.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Token.objects.filter(user=lead).exists()
    # A superuser sees every token.
    client.force_login(admin_user)
    assert analyst_key in client.get("/admin/authtoken/tokenproxy/").content.decode()
