"""Fixtures for the API tests: clients per role (token auth), high throttle rates, a clean cache."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def high_throttle_rates(settings):
    """Rate limits are real in the app; here they are high so tests never flake on them.
    test_throttling.py lowers them on purpose."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "user": "100000/minute"},
    }
    cache.clear()
    yield
    cache.clear()


def _token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=user).key)
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def analyst_client(analyst):
    return _token_client(analyst)


@pytest.fixture
def evaluator_client(evaluator):
    return _token_client(evaluator)


@pytest.fixture
def lead_client(lead):
    return _token_client(lead)
