"""Roles are groups made by a data migration; demo accounts only by create_demo_users."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def _login_request():
    # django-axes (first in AUTHENTICATION_BACKENDS) refuses to check a password without a request.
    return RequestFactory().post("/admin/login/")


def test_role_groups_exist_with_their_permissions():
    evaluator = Group.objects.get(name="Evaluator")
    lead = Group.objects.get(name="Lead evaluator")
    analyst = Group.objects.get(name="Analyst")
    evaluator_perms = set(evaluator.permissions.values_list("codename", flat=True))
    lead_perms = set(lead.permissions.values_list("codename", flat=True))
    analyst_perms = set(analyst.permissions.values_list("codename", flat=True))
    assert {"add_cmoconfiguration", "change_cmoconfiguration", "add_evidenceexcerpt"} <= evaluator_perms
    assert "publish_cmoconfiguration" not in evaluator_perms
    assert lead_perms == evaluator_perms | {"publish_cmoconfiguration"}
    assert analyst_perms == set()


def test_no_accounts_exist_until_create_demo_users_runs():
    assert get_user_model().objects.count() == 0


def test_create_demo_users_makes_one_account_per_role(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    call_command("create_demo_users", stdout=open("/dev/null", "w"))
    users = {u.username: u for u in get_user_model().objects.all()}
    assert set(users) == {"admin", "lead", "evaluator", "analyst"}
    assert users["admin"].is_superuser
    assert [g.name for g in users["lead"].groups.all()] == ["Lead evaluator"]
    assert [g.name for g in users["evaluator"].groups.all()] == ["Evaluator"]
    assert [g.name for g in users["analyst"].groups.all()] == ["Analyst"]
    assert not users["analyst"].is_staff
    assert authenticate(_login_request(), username="lead", password="demo") == users["lead"]


def test_create_demo_users_honours_demo_password_and_is_idempotent(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "s3cret-try-out")
    call_command("create_demo_users", stdout=open("/dev/null", "w"))
    call_command("create_demo_users", stdout=open("/dev/null", "w"))
    assert get_user_model().objects.count() == 4
    assert authenticate(_login_request(), username="evaluator", password="s3cret-try-out") is not None
    assert authenticate(_login_request(), username="evaluator", password="demo") is None


def test_an_analyst_marked_as_staff_still_sees_nothing_in_the_admin(client, kb, analyst):
    analyst.is_staff = True
    analyst.save()
    client.force_login(analyst)
    assert client.get("/admin/mechanisms/cmoconfiguration/").status_code == 403
    assert client.get(f"/admin/mechanisms/cmoconfiguration/{kb.pathway_targets.pk}/change/").status_code in (302, 403)
    assert "pathway-targets" not in client.get("/admin/").content.decode()
