"""/api/excerpts/ and /api/evidence-links/: filters, visibility of links to drafts, bad values.

kb: q-control (shc, patient) -> shc-control; q-jobs (shc, staff-member) -> shc-fear;
f-target (pathway, evaluator finding) -> pathway-targets, a draft.
"""

import pytest

from evidence.models import EvaluationWave


def slugs(response):
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


@pytest.fixture
def waves(kb):
    first = EvaluationWave.objects.create(programme=kb.programme, slug="wave-1", name="Wave 1", number=1)
    EvaluationWave.objects.create(programme=kb.programme, slug="wave-2", name="Wave 2", number=2)
    kb.q_control.wave = first
    kb.q_control.save()
    return kb


def test_excerpts_are_public_in_source_order(kb, anon_client):
    assert slugs(anon_client.get("/api/excerpts/")) == ["q-control", "f-target", "q-jobs"]


def test_excerpt_representation(kb, anon_client):
    data = anon_client.get("/api/excerpts/q-control/").json()
    assert data == {
        "id": kb.q_control.pk, "slug": "q-control", "source": "small-report", "programme": "ctg",
        "text": "I feel more in control of my own dialysis now.", "start": kb.q_control.start, "end": kb.q_control.end,
        "section": "1 Introduction", "team": "shc", "speaker_role": "patient",
        "attribution": "(Shared Haemodialysis Care, patient)", "kind": "participant_quote", "wave": None,
        # No "note": excerpt notes are curators' internal notes (tests/api/test_internal_notes.py).
        "links": [{"id": data["links"][0]["id"], "configuration": "shc-control", "configuration_title": "Shc control",
                   "stance": "supports", "part": "outcome", "note": ""}],
        "created_by": None, "updated_by": None, "created_at": data["created_at"], "updated_at": data["updated_at"],
    }


def test_links_to_drafts_are_for_evaluators_only(kb, anon_client, analyst_client, evaluator_client):
    for client in (anon_client, analyst_client):
        assert client.get("/api/excerpts/f-target/").json()["links"] == []
        assert [link["configuration"] for link in client.get("/api/evidence-links/").json()["results"]] == ["shc-control", "shc-fear"]
    assert [link["configuration"] for link in evaluator_client.get("/api/excerpts/f-target/").json()["links"]] == ["pathway-targets"]
    assert len(evaluator_client.get("/api/evidence-links/").json()["results"]) == 3


@pytest.mark.parametrize("query,expected", [
    ("team=shc", ["q-control", "q-jobs"]),
    ("team=pathway", ["f-target"]),
    ("team=shc,pathway", ["q-control", "f-target", "q-jobs"]),
    ("speaker_role=patient", ["q-control"]),
    ("speaker_role=patient&speaker_role=staff-member", ["q-control", "q-jobs"]),
    ("kind=evaluator_finding", ["f-target"]),
    ("kind=participant_quote", ["q-control", "q-jobs"]),
    ("source=small-report", ["q-control", "f-target", "q-jobs"]),
    ("wave=1", ["q-control"]),
    ("wave=wave-1", ["q-control"]),
    ("wave=2", []),
    ("wave=1,wave-2", ["q-control"]),
    ("section=introduction", ["q-control", "f-target", "q-jobs"]),
    ("section=Targeting", []),
    ("configuration=shc-control", ["q-control"]),
    ("configuration=shc-control,shc-fear", ["q-control", "q-jobs"]),
    ("mechanism=patient-beliefs", ["q-control", "q-jobs"]),
    # professional-beliefs exists, but its only configuration is a draft
    ("mechanism=professional-beliefs", []),
    ("search=control", ["q-control"]),
    ("search=worried jobs", ["q-jobs"]),
    ("team=shc&speaker_role=staff-member", ["q-jobs"]),
    ("mechanism=patient-beliefs&kind=participant_quote&search=control", ["q-control"]),
])
def test_excerpt_filters(waves, anon_client, query, expected):
    assert slugs(anon_client.get(f"/api/excerpts/?{query}")) == expected


def test_id_filter(kb, anon_client):
    assert slugs(anon_client.get(f"/api/excerpts/?id={kb.q_jobs.pk}")) == ["q-jobs"]


@pytest.mark.parametrize("query,expected", [
    ("configuration=pathway-targets", ["f-target"]),
    ("mechanism=professional-beliefs", ["f-target"]),
])
def test_excerpt_filters_through_drafts_for_evaluators(kb, evaluator_client, query, expected):
    assert slugs(evaluator_client.get(f"/api/excerpts/?{query}")) == expected


@pytest.mark.parametrize("query,param,message", [
    ("team=x", "team", "Unknown team 'x'. Accepted: pathway, shc."),
    ("speaker_role=x", "speaker_role", "Unknown speaker role 'x'. Accepted: patient, staff-member."),
    ("kind=quote", "kind", "'quote' is not a valid choice. Accepted: participant_quote, evaluator_finding, figure, literature_quote."),
    ("source=x", "source", "Unknown source 'x'. Accepted: small-report."),
    ("wave=9", "wave", "Unknown wave number '9'. Accepted: numbers 1, 2 or wave slugs."),
    ("wave=wave-9", "wave", "Unknown wave 'wave-9'. Accepted: wave-1, wave-2."),
    ("configuration=x", "configuration", "Unknown configuration 'x'. Accepted: shc-control, shc-fear."),
    # a draft is unknown to anonymous clients: its slug is not revealed, and not answered with an empty 200
    ("configuration=pathway-targets", "configuration", "Unknown configuration 'pathway-targets'. Accepted: shc-control, shc-fear."),
    ("mechanism=x", "mechanism", "Unknown mechanism 'x'. Accepted: patient-beliefs, professional-beliefs."),
    ("id=x", "id", "'x' is not a whole number. Accepted: whole numbers such as 1 or 1,2,3."),
    ("page_size=9999", "page_size", "'9999' is not a page size. Accepted: a whole number from 1 to 500."),
])
def test_excerpt_bad_values(waves, anon_client, query, param, message):
    response = anon_client.get(f"/api/excerpts/?{query}")
    assert response.status_code == 400
    assert response.json() == {param: [message]}


def test_excerpt_search_snippet_and_rank(kb, anon_client):
    [hit] = anon_client.get("/api/excerpts/?search=control").json()["results"]
    assert hit["slug"] == "q-control" and hit["rank"] > 0
    assert "<mark>control</mark>" in hit["snippet"]


def test_excerpt_cursor_pages(kb, grow, anon_client):
    grow(6)
    seen, url = [], "/api/excerpts/?page_size=4"
    while url:
        body = anon_client.get(url).json()
        seen += [r["slug"] for r in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 9
    assert seen[:3] == ["q-control", "f-target", "q-jobs"]


@pytest.mark.parametrize("query,expected", [
    ("configuration=shc-control", [("q-control", "shc-control")]),
    ("excerpt=q-jobs", [("q-jobs", "shc-fear")]),
    ("stance=supports", [("q-control", "shc-control"), ("q-jobs", "shc-fear")]),
    ("stance=challenges", []),
    ("part=mechanism", [("q-jobs", "shc-fear")]),
    ("part=outcome,context&stance=supports", [("q-control", "shc-control")]),
])
def test_evidence_link_filters(kb, anon_client, query, expected):
    response = anon_client.get(f"/api/evidence-links/?{query}")
    assert response.status_code == 200
    assert [(r["excerpt"], r["configuration"]) for r in response.json()["results"]] == expected


@pytest.mark.parametrize("query,param,message", [
    ("configuration=pathway-targets", "configuration", "Unknown configuration 'pathway-targets'. Accepted: shc-control, shc-fear."),
    ("excerpt=x", "excerpt", "Unknown excerpt 'x'. Accepted: f-target, q-control, q-jobs."),
    ("stance=agrees", "stance", "'agrees' is not a valid choice. Accepted: supports, challenges, illustrates."),
    ("part=all", "part", "'all' is not a valid choice. Accepted: context, mechanism, outcome."),
])
def test_evidence_link_bad_values(kb, anon_client, query, param, message):
    response = anon_client.get(f"/api/evidence-links/?{query}")
    assert response.status_code == 400
    assert response.json() == {param: [message]}


def test_evidence_link_detail_by_id(kb, anon_client, evaluator_client):
    draft_link = kb.pathway_targets.evidence_links.get()
    public_link = kb.shc_control.evidence_links.get()
    assert anon_client.get(f"/api/evidence-links/{public_link.pk}/").json()["excerpt"] == "q-control"
    assert anon_client.get(f"/api/evidence-links/{draft_link.pk}/").status_code == 404
    assert evaluator_client.get(f"/api/evidence-links/{draft_link.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["anon_client", "evaluator_client"])
@pytest.mark.parametrize("query", ["", "search=haemodialysis OR control OR target"])
def test_the_list_rows_are_the_serializers_representation(kb, request, who, query):
    """The list reads rows (evidence/api.py ExcerptRows), not instances: the same JSON, key for key,
    as ExcerptSerializer gives each excerpt (its note only for evaluators, links to drafts likewise)."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from evidence.api import ExcerptSerializer, excerpt_queryset
    from evidence.search import search_excerpts

    client = request.getfixturevalue(who)
    listed = client.get(f"/api/excerpts/?page_size=500&{query}").json()["results"]
    assert len(listed) >= 2
    drf_request = Request(APIRequestFactory().get("/api/excerpts/"))
    from django.contrib.auth.models import AnonymousUser, User

    drf_request._user = User.objects.get(username="eva") if who == "evaluator_client" else AnonymousUser()
    queryset = excerpt_queryset(drf_request)
    if query:
        queryset = search_excerpts(queryset, query.split("=", 1)[1])
    by_id = {e.pk: e for e in queryset}
    expected = [ExcerptSerializer(by_id[item["id"]], context={"request": drf_request}).data for item in listed]
    assert [list(item) for item in listed] == [list(item) for item in expected]
    assert listed == [dict(item) for item in expected]
