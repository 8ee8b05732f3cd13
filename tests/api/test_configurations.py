"""/api/configurations/: the expanded representation, every filter, combinations and bad values.

On the kb fixture (tests/conftest.py) anonymous clients see shc-control and shc-fear; evaluators
also see the draft pathway-targets.
"""

import pytest

from mechanisms.models import ConfigurationPathway, WishShift


def slugs(response):
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


def test_expanded_configuration_in_one_response(kb, anon_client):
    response = anon_client.get("/api/configurations/shc-fear/")
    assert response.status_code == 200
    data = response.json()
    assert data["teams"] == [{"slug": "shc", "name": "Shared Haemodialysis Care", "short_name": "SHC"}]
    assert data["contexts"] == [{"slug": "resigned-dependence", "name": "Patients resigned to dependence on nurses", "category": ""}]
    assert data["mechanism"] == {"slug": "patient-beliefs", "name": "Changes to patient beliefs, attitudes and behaviours"}
    assert data["theme"] is None
    assert (data["effect"], data["influence"], data["status"]) == ("disabled", "barrier", "published")
    assert data["outcomes"] == [{"slug": "self-care-refused", "name": "Some patients refuse self-care", "kind": "relationship-change"}]
    assert data["wish_shifts"] == [
        {"dimension": "power", "toward": "dependence", "toward_position": -1, "between": "clinician-patient", "note": ""}
    ]
    assert data["quality_domains"] == ["safety", "person-centredness"]
    assert data["has_evidence"] is True
    [evidence] = data["evidence"]
    assert evidence == {
        "id": evidence["id"], "excerpt": "q-jobs", "text": "We were worried our jobs would go.",
        "attribution": "(Shared Haemodialysis Care, staff member)", "kind": "participant_quote", "team": "shc",
        "speaker_role": "staff-member", "source": "small-report", "section": "1 Introduction",
        "start": kb.q_jobs.start, "end": kb.q_jobs.end, "stance": "supports", "part": "mechanism", "note": "",
        "relevance": "", "rigour": "", "appraisal_note": "",
    }
    assert data["evidence_profile"] == {
        "links": 1, "supporting": 1, "challenging": 0, "illustrating": 0, "sources": 1, "teams": 1,
        "speaker_roles": 1, "participant_quotes": 1, "evaluator_findings": 0, "hypothesis": False,
    }
    assert (data["methodological_limitations"], data["assessed_confidence"]) == ("", "")  # not assessed
    assert "rank" not in data and "snippet" not in data


def test_compact_view(kb, anon_client):
    data = anon_client.get("/api/configurations/shc-control/?view=compact").json()
    assert data["teams"] == ["shc"] and data["mechanism"] == "patient-beliefs" and data["theme"] == "targeting"
    assert data["wish_shifts"] == ["power>agency (clinician-patient)"]
    assert data["evidence_count"] == 1 and "evidence" not in data
    bad = anon_client.get("/api/configurations/?view=tiny")
    assert bad.status_code == 400 and bad.json() == {"view": ["'tiny' is not a view. Accepted: full, compact."]}


def test_pathways_in_order(kb, anon_client):
    from mechanisms.models import Pathway

    d = Pathway.objects.create(slug="d", letter="D", name="Quality to relationships")
    ConfigurationPathway.objects.create(configuration=kb.shc_control, pathway=d, order=1)
    ConfigurationPathway.objects.create(configuration=kb.shc_control, pathway=kb.pathway_a, order=2)
    assert anon_client.get("/api/configurations/shc-control/").json()["pathways"] == ["d", "a"]


@pytest.mark.parametrize("query,expected", [
    ("", ["shc-control", "shc-fear"]),
    ("team=shc", ["shc-control", "shc-fear"]),
    ("team=pathway", []),
    ("mechanism=patient-beliefs", ["shc-control", "shc-fear"]),
    ("mechanism=professional-beliefs", []),
    ("theme=targeting", ["shc-control"]),
    ("effect=triggered", ["shc-control"]),
    ("effect=disabled", ["shc-fear"]),
    ("effect=triggered,disabled", ["shc-control", "shc-fear"]),
    ("influence=barrier", ["shc-fear"]),
    ("barrier_or_enabler=enabler", ["shc-control"]),
    ("context=resigned-dependence", ["shc-control", "shc-fear"]),
    ("outcome=self-care", ["shc-control"]),
    ("outcome=self-care,self-care-refused", ["shc-control", "shc-fear"]),
    ("outcome=self-care&outcome=self-care-refused", ["shc-control", "shc-fear"]),
    ("outcome_kind=relationship-change", ["shc-control", "shc-fear"]),
    ("wish_dimension=power", ["shc-control", "shc-fear"]),
    ("wish_dimension=valence", []),
    ("wish_direction=agency", ["shc-control"]),
    ("wish_direction=dependence", ["shc-fear"]),
    ("wish_between=clinician-patient", ["shc-control", "shc-fear"]),
    ("quality_domain=safety", ["shc-fear"]),
    ("quality_domain=person-centredness", ["shc-control", "shc-fear"]),
    ("pathway=a", []),
    ("relationship_level=micro", []),
    ("status=published", ["shc-control", "shc-fear"]),
    ("confidence=medium", ["shc-control", "shc-fear"]),
    ("confidence=high", []),
    ("has_evidence=true", ["shc-control", "shc-fear"]),
    ("has_evidence=false", []),
    ("slug=fear", ["shc-fear"]),
    ("search=resigned", ["shc-control", "shc-fear"]),
    ("search=refuse", ["shc-fear"]),
    ("updated_since=2000-01-01", ["shc-control", "shc-fear"]),
    ("updated_since=2999-01-01T00:00:00Z", []),
    # combinations: AND across filters
    ("team=shc&effect=disabled", ["shc-fear"]),
    ("mechanism=patient-beliefs&quality_domain=safety&influence=barrier", ["shc-fear"]),
    ("team=shc&effect=triggered&wish_direction=dependence", []),
    ("search=resigned&effect=triggered", ["shc-control"]),
])
def test_filters_for_anonymous(kb, anon_client, query, expected):
    assert sorted(slugs(anon_client.get(f"/api/configurations/?{query}"))) == expected


@pytest.mark.parametrize("query,expected", [
    ("", ["pathway-targets", "shc-control", "shc-fear"]),
    ("team=pathway", ["pathway-targets"]),
    ("team=pathway,shc", ["pathway-targets", "shc-control", "shc-fear"]),
    ("status=draft", ["pathway-targets"]),
    ("status=draft,published", ["pathway-targets", "shc-control", "shc-fear"]),
    ("status=in_review", []),
    ("mechanism=professional-beliefs", ["pathway-targets"]),
    ("context=four-hour-target", ["pathway-targets"]),
    ("search=waiting", ["pathway-targets"]),
    ("has_evidence=yes&effect=triggered", ["pathway-targets", "shc-control"]),
])
def test_filters_for_evaluators(kb, evaluator_client, query, expected):
    assert sorted(slugs(evaluator_client.get(f"/api/configurations/?{query}"))) == expected


def test_id_filter_drills_down_from_a_matrix_cell(kb, anon_client):
    ids = f"{kb.shc_control.pk},{kb.shc_fear.pk},{kb.pathway_targets.pk}"
    # the draft's id is simply not among what an anonymous client can see
    assert slugs(anon_client.get(f"/api/configurations/?id={ids}")) == ["shc-control", "shc-fear"]


def test_wish_filters_hold_for_the_same_shift(kb, anon_client, django_assert_num_queries):
    from mechanisms.models import RelationshipPair

    staff = RelationshipPair.objects.create(slug="staff-staff", name="Staff–staff")
    # shc-fear: power toward dependence (clinician-patient) and valence toward friendly (staff-staff)
    WishShift.objects.create(configuration=kb.shc_fear, dimension=kb.valence, toward=kb.friendly, between=staff)
    assert slugs(anon_client.get("/api/configurations/?wish_dimension=valence&wish_between=staff-staff")) == ["shc-fear"]
    # power and staff-staff are both on shc-fear, but not on one shift
    assert slugs(anon_client.get("/api/configurations/?wish_dimension=power&wish_between=staff-staff")) == []
    assert slugs(anon_client.get("/api/configurations/?wish_direction=friendly,agency")) == ["shc-control", "shc-fear"]


def test_has_evidence_false_finds_hypotheses(kb, evaluator_client):
    kb.shc_fear.evidence_links.all().delete()
    assert slugs(evaluator_client.get("/api/configurations/?has_evidence=false")) == ["shc-fear"]
    assert evaluator_client.get("/api/configurations/shc-fear/").json()["has_evidence"] is False


def test_search_results_are_ranked_with_snippets(kb, anon_client):
    results = anon_client.get("/api/configurations/?search=refuse").json()["results"]
    assert [r["slug"] for r in results] == ["shc-fear"]
    assert results[0]["rank"] > 0
    assert "<mark>" in results[0]["snippet"]


# --- bad values: a 400 naming the parameter and what it accepts -------------------------------

@pytest.mark.parametrize("query,param,message", [
    ("team=nope", "team", "Unknown team 'nope'. Accepted: pathway, shc."),
    ("team=shc,nope,zilch", "team", "Unknown team 'nope', 'zilch'. Accepted: pathway, shc."),
    ("mechanism=x", "mechanism", "Unknown mechanism 'x'. Accepted: patient-beliefs, professional-beliefs."),
    ("theme=x", "theme", "Unknown theme 'x'. Accepted: targeting."),
    ("context=x", "context", "Unknown context 'x'. Accepted: four-hour-target, resigned-dependence."),
    ("outcome=x", "outcome", "Unknown outcome 'x'. Accepted: self-care, self-care-refused."),
    ("outcome_kind=x", "outcome_kind", "Unknown outcome kind 'x'. Accepted: relationship-change."),
    ("wish_dimension=x", "wish_dimension", "Unknown Wish dimension 'x'. Accepted: power, valence."),
    ("wish_direction=x", "wish_direction", "Unknown Wish pole 'x'. Accepted: agency, dependence, friendly, hostile."),
    ("wish_between=x", "wish_between", "Unknown relationship pair 'x'. Accepted: clinician-patient."),
    ("quality_domain=x", "quality_domain", "Unknown quality domain 'x'. Accepted: person-centredness, safety."),
    ("pathway=x", "pathway", "Unknown pathway 'x'. Accepted: a."),
    ("relationship_level=x", "relationship_level", "Unknown relationship level 'x'. Accepted: micro."),
    ("effect=fired", "effect", "'fired' is not a valid choice. Accepted: triggered, disabled."),
    ("influence=both", "influence", "'both' is not a valid choice. Accepted: enabler, barrier."),
    ("barrier_or_enabler=x", "barrier_or_enabler", "'x' is not a valid choice. Accepted: enabler, barrier."),
    ("status=gone", "status", "'gone' is not a valid choice. Accepted: draft, in_review, published."),
    ("confidence=sure", "confidence", "'sure' is not a valid choice. Accepted: high, medium, low."),
    ("has_evidence=maybe", "has_evidence", "'maybe' is not a boolean. Accepted: true or false (also 1/0, yes/no)."),
    ("id=seven", "id", "'seven' is not a whole number. Accepted: whole numbers such as 1 or 1,2,3."),
    ("id=1.5", "id", "'1.5' is not a whole number. Accepted: whole numbers such as 1 or 1,2,3."),
    ("id=-3", "id", "'-3' is negative. Accepted: whole numbers of 0 or more."),
    ("updated_since=last-week", "updated_since",
     "'last-week' is not a date or date-time. Accepted: ISO 8601, e.g. 2014-06-01 or 2014-06-01T12:00:00Z."),
    ("page_size=0", "page_size", "'0' is not a page size. Accepted: a whole number from 1 to 500."),
    ("page_size=501", "page_size", "'501' is not a page size. Accepted: a whole number from 1 to 500."),
    ("page_size=ten", "page_size", "'ten' is not a page size. Accepted: a whole number from 1 to 500."),
])
def test_bad_values_are_400_naming_the_parameter(kb, anon_client, query, param, message):
    response = anon_client.get(f"/api/configurations/?{query}")
    assert response.status_code == 400
    assert response.json() == {param: [message]}


def test_unknown_parameter_is_400_listing_the_accepted_ones(kb, anon_client):
    response = anon_client.get("/api/configurations/?teams=shc")
    assert response.status_code == 400
    [message] = response.json()["teams"]
    assert message.startswith("Unknown query parameter. Accepted: assessed_confidence, barrier_or_enabler, concept, confidence, context, cursor,")
    assert "team," in message and "wish_direction" in message and "min_sources," in message and "has_challenging," in message


def test_a_cursor_no_page_gave_is_404_naming_the_parameter(kb, anon_client):
    response = anon_client.get("/api/configurations/?cursor=garbage")
    assert response.status_code == 404
    assert response.json() == {"cursor": ["Invalid cursor. Accepted: the `next` or `previous` link of a page."]}


def test_drafts_are_refused_to_non_evaluators(kb, anon_client, analyst_client):
    for client in (anon_client, analyst_client):
        response = client.get("/api/configurations/?status=draft")
        assert response.status_code == 403
        assert response.json() == {"status": ["Only evaluators can see draft and in-review configurations. Accepted here: published."]}
        assert client.get("/api/configurations/pathway-targets/").status_code == 404


def test_cursor_pages_walk_every_configuration_once(kb, grow, anon_client):
    grow(7)
    seen, url = [], "/api/configurations/?page_size=4&view=compact"
    while url:
        body = anon_client.get(url).json()
        seen += [r["slug"] for r in body["results"]]
        url = body["next"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 9


def test_cursor_pages_of_search_results_by_rank(kb, grow, anon_client):
    grow(5)
    seen, url = [], "/api/configurations/?search=extra&page_size=2"
    while url:
        body = anon_client.get(url).json()
        seen += [(r["rank"], r["slug"]) for r in body["results"]]
        url = body["next"]
    assert len(seen) == 5 and len({s for _, s in seen}) == 5
    assert [r for r, _ in seen] == sorted((r for r, _ in seen), reverse=True)


@pytest.mark.parametrize("who", ["anon_client", "evaluator_client"])
@pytest.mark.parametrize("query", ["", "view=compact", "search=haemodialysis OR control OR fear OR extra",
                                   "view=compact&search=haemodialysis OR control OR extra"])
def test_the_list_rows_are_the_serializers_representation(kb, grow, request, who, query):
    """The list reads rows (mechanisms/api.py ConfigurationRows), not instances: the same JSON, key
    for key and in order, as ConfigurationSerializer (CompactConfigurationSerializer with
    view=compact) gives each configuration: notes only for evaluators, drafts likewise, rank and
    snippet only with a search."""
    from django.contrib.auth.models import AnonymousUser, User
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from evidence.search import search_configurations
    from mechanisms.api import CompactConfigurationSerializer, ConfigurationSerializer, configuration_queryset

    grow(3)
    # a second shift on one dimension: a tie the id settles
    from mechanisms.models import RelationshipPair

    staff = RelationshipPair.objects.create(slug="staff-staff", name="Staff–staff")
    WishShift.objects.create(configuration=kb.shc_fear, dimension=kb.power, toward=kb.agency, between=staff, note="again")
    client = request.getfixturevalue(who)
    listed = client.get(f"/api/configurations/?page_size=500&{query}").json()["results"]
    assert len(listed) >= 4
    view = "compact" if "view=compact" in query else "full"
    drf_request = Request(APIRequestFactory().get("/api/configurations/"))
    drf_request._user = User.objects.get(username="eva") if who == "evaluator_client" else AnonymousUser()
    queryset = configuration_queryset(drf_request, view)
    search = dict(part.split("=", 1) for part in query.split("&") if part).get("search")
    if search:
        queryset = search_configurations(queryset, search)
    by_id = {c.pk: c for c in queryset}
    serializer = CompactConfigurationSerializer if view == "compact" else ConfigurationSerializer
    expected = [serializer(by_id[item["id"]], context={"request": drf_request}).data for item in listed]
    assert [list(item) for item in listed] == [list(item) for item in expected]
    assert listed == [dict(item) for item in expected]
    assert ("notes" in listed[0]) == (who == "evaluator_client")
    assert ("rank" in listed[0]) == bool(search)


def test_the_csv_page_is_the_serializers_rows(kb, grow, evaluator_client):
    """?format=csv flattens the same rows (compact by default)."""
    import csv
    import io

    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from cmo_kb.renderers import CSVRenderer
    from django.contrib.auth.models import User
    from mechanisms.api import CompactConfigurationSerializer, configuration_queryset

    grow(3)
    response = evaluator_client.get("/api/configurations/?format=csv&page_size=500")
    assert response.status_code == 200
    drf_request = Request(APIRequestFactory().get("/api/configurations/"))
    drf_request._user = User.objects.get(username="eva")
    rows = CompactConfigurationSerializer(configuration_queryset(drf_request, "compact").order_by("slug"), many=True,
                                          context={"request": drf_request}).data
    assert response.content == CSVRenderer().render({"results": rows})
    assert len(list(csv.reader(io.StringIO(response.content.decode())))) == len(rows) + 1
