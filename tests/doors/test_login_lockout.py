"""Brute force: an account is locked after LOGIN_FAILURE_LIMIT wrong passwords, on the admin login and
on the token endpoint, counted in the database (django-axes), with a message saying for how long,
and an administrator unlocks it with a management command."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    # (runs before the user fixtures: their passwords get the fast test hasher, each check costs ms)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def admin_login(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def token(client, username, password):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json")


def test_admin_login_locks_the_account_after_the_failure_limit(evaluator):
    client = Client()
    codes = [admin_login(client, "eva", "wrong").status_code for _ in range(LIMIT - 1)]
    assert codes == [200] * (LIMIT - 1)  # the login form again, with Django's error
    locked = admin_login(client, "eva", "wrong")
    assert locked.status_code == 429
    right = admin_login(Client(), "eva", "pw-eva")
    assert right.status_code == 429
    body = right.content.decode()
    assert "Account locked" in body
    assert f"locked after {LIMIT} failed sign-ins in a row" in body
    assert "Try again in 15 minutes" in body
    assert "axes_reset_username" in body
    assert right["Retry-After"] == "900"
    assert "_auth_user_id" not in Client().session  # and nobody was signed in


def test_below_the_limit_the_right_password_still_works_and_resets_the_count(evaluator):
    client = Client()
    for _ in range(LIMIT - 1):
        admin_login(client, "eva", "wrong")
    assert admin_login(client, "eva", "pw-eva").status_code == 302
    # AXES_RESET_ON_SUCCESS: the count starts again after a successful sign-in
    assert not AccessAttempt.objects.filter(username="eva").exists()


def test_token_endpoint_locks_the_account_with_a_json_429(analyst):
    client = APIClient()
    codes = [token(client, "ana", "wrong").status_code for _ in range(LIMIT)]
    assert codes == [400] * (LIMIT - 1) + [429]
    response = token(APIClient(), "ana", "pw-ana")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    detail = response.json()["detail"]
    assert detail == (
        f"This account is locked after {LIMIT} failed sign-ins in a row. "
        "Try again in 15 minutes, or ask an administrator to unlock it now."
    )
    assert response["Retry-After"] == "900"
    assert "token" not in response.json()


def test_failures_on_either_door_count_together(analyst):
    for _ in range(LIMIT - 1):
        admin_login(Client(), "ana", "wrong")
    assert token(APIClient(), "ana", "wrong").status_code == 429
    assert token(APIClient(), "ana", "pw-ana").status_code == 429


def test_other_accounts_are_not_affected(evaluator, analyst):
    for _ in range(LIMIT):
        token(APIClient(), "ana", "wrong")
    assert token(APIClient(), "ana", "pw-ana").status_code == 429
    # same address, another account
    assert token(APIClient(), "eva", "pw-eva").status_code == 200
    assert admin_login(Client(), "eva", "pw-eva").status_code == 302


def test_axes_reset_username_unlocks_the_account(analyst, evaluator):
    for username in ("ana", "eva"):
        for _ in range(LIMIT):
            token(APIClient(), username, "wrong")
    assert token(APIClient(), "ana", "pw-ana").status_code == 429
    call_command("axes_reset_username", "ana", stdout=open("/dev/null", "w"))
    assert token(APIClient(), "ana", "pw-ana").status_code == 200
    # only the account named
    assert token(APIClient(), "eva", "pw-eva").status_code == 429
    call_command("axes_reset", stdout=open("/dev/null", "w"))
    assert token(APIClient(), "eva", "pw-eva").status_code == 200


def test_the_lock_lifts_after_the_cool_off(analyst, settings):
    for _ in range(LIMIT):
        token(APIClient(), "ana", "wrong")
    assert token(APIClient(), "ana", "pw-ana").status_code == 429
    # as if the cool-off had passed: the failures are older than it
    AccessAttempt.objects.filter(username="ana").update(attempt_time=AccessAttempt.objects.get(username="ana").attempt_time - timedelta(minutes=16))
    assert token(APIClient(), "ana", "pw-ana").status_code == 200


def test_without_a_cool_off_only_an_administrator_unlocks(analyst, settings):
    settings.AXES_COOLOFF_TIME = None
    for _ in range(LIMIT):
        token(APIClient(), "ana", "wrong")
    response = token(APIClient(), "ana", "pw-ana")
    assert response.status_code == 429
    assert response.json()["detail"] == f"This account is locked after {LIMIT} failed sign-ins in a row. Ask an administrator to unlock it."
    assert "Retry-After" not in response


def test_settings_come_from_the_environment(monkeypatch):
    import importlib

    import cmo_kb.settings as settings_module

    monkeypatch.setenv("LOGIN_FAILURE_LIMIT", "7")
    monkeypatch.setenv("LOGIN_COOLOFF_MINUTES", "0")
    reloaded = importlib.reload(settings_module)
    try:
        assert reloaded.AXES_FAILURE_LIMIT == 7
        assert reloaded.AXES_COOLOFF_TIME is None
        monkeypatch.setenv("LOGIN_FAILURE_LIMIT", "0")
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="LOGIN_FAILURE_LIMIT=0 is too small"):
            importlib.reload(settings_module)
    finally:
        monkeypatch.delenv("LOGIN_FAILURE_LIMIT")
        monkeypatch.delenv("LOGIN_COOLOFF_MINUTES")
        importlib.reload(settings_module)
    assert settings_module.AXES_FAILURE_LIMIT == 5
    assert settings_module.AXES_COOLOFF_TIME == timedelta(minutes=15)
