"""Blind comparison (issue 13): while a source's coding is blind each coder sees only their own
codings of it, on every door (API, workspace, workbench list, agreement, exports); leads see all,
and only they start or end it."""

import pytest

from evidence.codes import Coding
from tests.agreement.test_agreement import coded  # noqa: F401  (the fixture)


@pytest.fixture
def blind(coded, evaluator, lead):  # noqa: F811
    """ann and bob coded the source; eva codes it too; then the lead starts a blind comparison."""
    coded.code(evaluator, coded.trust, 10, 20)
    coded.code(lead, coded.fear, 0, 10)
    coded.source.coding_blind = True
    coded.source.save()
    coded.eva, coded.leo = evaluator, lead
    return coded


def coders(client, **params):
    response = client.get("/api/codings/", {"source": "agreement-text", **params})
    assert response.status_code == 200, response.content
    return sorted(item["coder"] for item in response.json()["results"])


def test_each_coder_sees_only_their_own_codings_in_the_api(blind, evaluator_client, lead_client, anon_client,
                                                            analyst_client):
    assert coders(evaluator_client) == ["eva"]
    assert coders(lead_client) == ["ann", "ann", "bob", "bob", "eva", "leo"]
    assert coders(anon_client) == [] and coders(analyst_client) == []
    blind.source.coding_blind = False
    blind.source.save()
    assert coders(evaluator_client) == ["ann", "ann", "bob", "bob", "eva", "leo"]
    assert coders(anon_client) == ["ann", "ann", "bob", "bob", "eva", "leo"]


def test_the_workspace_and_the_workbench_list_hide_the_others(blind, client):
    from evidence.workspace import visible_codings

    everything = Coding.objects.filter(excerpt__source=blind.source)
    assert sorted(visible_codings(everything, blind.eva).values_list("coder__username", flat=True)) == ["eva"]
    assert visible_codings(everything, blind.leo).count() == 6
    client.force_login(blind.eva)
    page = client.get("/admin/evidence/coding/", {"q": "agreement"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    client.force_login(blind.leo)
    assert client.get("/admin/evidence/coding/", {"q": "agreement"}).context["cl"].result_count == 6


def test_only_leads_compare_while_it_is_blind(blind, evaluator_client, lead_client):
    params = {"source": "agreement-text", "coders": "ann,bob"}
    refused = evaluator_client.get("/api/agreement/", params)
    assert refused.status_code == 403
    assert "agreement-text is blind" in refused.json()["source"][0]
    assert lead_client.get("/api/agreement/", params).status_code == 200
    blind.source.coding_blind = False
    blind.source.save()
    assert evaluator_client.get("/api/agreement/", params).json()["results"][0]["percent_agreement"] == 90.0


def test_the_workbench_agreement_page_says_why(blind, client):
    client.force_login(blind.eva)
    response = client.get("/admin/evidence/coding/agreement/",
                          {"sources": [blind.source.pk], "coders": ["ann", "bob"]})
    assert response.status_code == 200
    assert response.context["report"] is None
    assert "agreement-text is blind" in str(response.context["form"].errors)


def test_only_a_lead_starts_or_ends_it_whatever_the_door(blind, client):
    from mechanisms.publish_lock import acting_as
    from projects.membership import ProgrammeWriteRefused

    source = blind.source
    source.coding_blind = False
    with acting_as(blind.eva), pytest.raises(ProgrammeWriteRefused, match="Only a lead evaluator"):
        source.save()
    source.refresh_from_db()
    assert source.coding_blind is True
    with acting_as(blind.eva):  # other changes by a writer are not refused
        source.title = "Agreement text, retitled"
        source.save()
    with acting_as(blind.leo):
        source.coding_blind = False
        source.save()
    source.refresh_from_db()
    assert source.coding_blind is False
    # In the workbench the field is read-only for an evaluator, and a lead's tick is kept.
    client.force_login(blind.eva)
    form = client.get(f"/admin/evidence/source/{source.pk}/change/").context["adminform"]
    assert "coding_blind" in form.readonly_fields
    client.force_login(blind.leo)
    form = client.get(f"/admin/evidence/source/{source.pk}/change/").context["adminform"]
    assert "coding_blind" not in form.readonly_fields


def test_exports_leave_out_a_blind_sources_codings(blind):
    from evidence.refi_qda.data import StreamedRows, load_export_data
    from projects.models import Programme

    rows = StreamedRows(load_export_data(programmes=Programme.objects.filter(pk=blind.kb.programme.pk)))
    assert not rows._codings().filter(excerpt__source=blind.source).exists()
    blind.source.coding_blind = False
    blind.source.save()
    assert rows._codings().filter(excerpt__source=blind.source).count() == 6
