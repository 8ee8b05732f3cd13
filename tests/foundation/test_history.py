"""Every change to curated objects is kept, with the user who made it."""

import pytest
from mechanisms.models import CMOConfiguration

pytestmark = pytest.mark.django_db


def test_history_records_the_user_of_a_change(kb, evaluator):
    config = kb.shc_control
    before = config.history.count()
    config.title = "Patients feel in control"
    config._history_user = evaluator
    config.save()
    latest = config.history.latest()
    assert latest.history_user == evaluator
    assert latest.history_type == "~"
    assert latest.title == "Patients feel in control"
    assert config.history.count() == before + 1
    assert config.history.earliest().history_type == "+"


def test_history_records_the_request_user_of_a_web_request(kb, admin_user):
    # The middleware puts the request user on every history row written during the request.
    config = CMOConfiguration.objects.get(slug="shc-fear")
    before = config.history.count()
    from django.test import RequestFactory
    from simple_history.middleware import HistoryRequestMiddleware

    request = RequestFactory().post("/")
    request.user = admin_user

    def change(_request):
        config.title = "Fear of staff cuts"
        config.save()
        return None

    HistoryRequestMiddleware(change)(request)
    assert config.history.count() == before + 1
    assert config.history.latest().history_user == admin_user


def test_history_of_many_to_many_changes_is_kept(kb, evaluator):
    config = kb.shc_control
    config.contexts.add(kb.four_hour)
    m2m_history = config.history.latest().contexts.all()
    assert {row.context_id for row in m2m_history} == {kb.resigned.pk, kb.four_hour.pk}
