"""Rate limits for anonymous and token clients (the other API tests run with high rates, see conftest)."""

import pytest
from django.core.exceptions import ImproperlyConfigured


@pytest.fixture
def low_rates(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "3/minute", "user": "5/minute"}}


def test_anonymous_clients_are_throttled(kb, anon_client, low_rates):
    assert [anon_client.get("/api/teams/").status_code for _ in range(3)] == [200, 200, 200]
    response = anon_client.get("/api/configurations/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["detail"].startswith("Request was throttled.")


def test_token_clients_have_their_own_rate(kb, anon_client, analyst_client, evaluator_client, low_rates):
    for _ in range(3):
        anon_client.get("/api/teams/")
    assert anon_client.get("/api/teams/").status_code == 429
    # the analyst is counted by account, not with the anonymous clients of the same address
    assert [analyst_client.get("/api/teams/").status_code for _ in range(5)] == [200] * 5
    assert analyst_client.get("/api/excerpts/").status_code == 429
    # and one account's use does not count against another's
    assert evaluator_client.get("/api/teams/").status_code == 200


def test_the_token_endpoint_is_throttled_too(kb, analyst, low_rates):
    from rest_framework.test import APIClient

    client = APIClient()
    codes = [client.post("/api/auth/token/", {"username": "ana", "password": "wrong"}, format="json").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


def test_rates_come_from_the_environment(monkeypatch):
    from cmo_kb.settings import env_rate

    monkeypatch.setenv("API_THROTTLE_ANON", "10/second")
    assert env_rate("API_THROTTLE_ANON", "120/minute") == "10/second"
    monkeypatch.delenv("API_THROTTLE_ANON")
    assert env_rate("API_THROTTLE_ANON", "120/minute") == "120/minute"
    monkeypatch.setenv("API_THROTTLE_ANON", "lots")
    with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_ANON='lots' is not a rate"):
        env_rate("API_THROTTLE_ANON", "120/minute")
