import pytest
from django.test import Client

from cmo_kb.vocabulary import EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP
from tests.conftest import _make_user


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def elsewhere(kb):
    """A private programme `elsewhere` with its own evaluator (bea) and lead (bob)."""
    from projects.models import Programme

    return Programme.objects.create(slug="elsewhere", name="Elsewhere", is_public=False)


@pytest.fixture
def bea(elsewhere, django_user_model):
    return _make_user(django_user_model, "bea", EVALUATOR_GROUP, is_staff=True, programme=elsewhere)


@pytest.fixture
def bob(elsewhere, django_user_model):
    return _make_user(django_user_model, "bob", LEAD_EVALUATOR_GROUP, is_staff=True, programme=elsewhere)


@pytest.fixture
def clients(kb, evaluator, lead, analyst, bea, bob, admin_user):
    """A signed-in client per role: eva (evaluator of ctg), leo (its lead), ana (analyst, made staff
    to show the admin refuses her anyway), bea and bob (of another programme), root (superuser),
    and an anonymous one."""
    analyst.is_staff = True
    analyst.save()
    users = {"eva": evaluator, "leo": lead, "ana": analyst, "bea": bea, "bob": bob, "root": admin_user}
    made = {name: login(user) for name, user in users.items()}
    made["anonymous"] = Client()
    return made
