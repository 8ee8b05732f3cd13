import pytest
from django.test import Client


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def eva_client(evaluator):
    return login(evaluator)


@pytest.fixture
def leo_client(lead):
    return login(lead)


@pytest.fixture
def ana_client(analyst):
    return login(analyst)
