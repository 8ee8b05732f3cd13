"""Every resource: list, slug detail, its filters with good and bad values, and ?format=csv."""

import csv
import io

import pytest

LISTS = {
    "/api/programmes/": ["ctg"],
    "/api/teams/": ["shc", "pathway"],
    "/api/mechanisms/": ["patient-beliefs", "professional-beliefs"],
    "/api/themes/": ["targeting"],
    "/api/wish-dimensions/": ["power", "valence"],
    "/api/quality-domains/": ["safety", "person-centredness"],
    "/api/relationship-levels/": ["micro"],
    "/api/pathways/": ["a"],
    "/api/contexts/": ["four-hour-target", "resigned-dependence"],
    "/api/outcomes/": ["self-care", "self-care-refused"],
    "/api/outcome-kinds/": ["relationship-change"],
    "/api/relationship-pairs/": ["clinician-patient"],
    "/api/configurations/": ["shc-control", "shc-fear"],
    "/api/sources/": ["small-report"],
    "/api/excerpts/": ["q-control", "f-target", "q-jobs"],
    "/api/speaker-roles/": ["patient", "staff-member"],
    "/api/waves/": [],
}


@pytest.mark.parametrize("url,expected", LISTS.items())
def test_list_and_slug_detail(kb, anon_client, url, expected):
    response = anon_client.get(url)
    assert response.status_code == 200
    assert [item["slug"] for item in response.json()["results"]] == expected
    for slug in expected:
        detail = anon_client.get(f"{url}{slug}/")
        assert detail.status_code == 200 and detail.json()["slug"] == slug
    assert anon_client.get(f"{url}no-such-slug/").status_code == 404


@pytest.mark.parametrize("url,expected", LISTS.items())
def test_every_list_answers_csv(kb, anon_client, url, expected):
    response = anon_client.get(url + "?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert [row["slug"] for row in rows] == expected


def test_csv_of_configurations_is_compact_and_flat(kb, anon_client):
    rows = list(csv.DictReader(io.StringIO(anon_client.get("/api/configurations/?format=csv").content.decode())))
    assert rows[1]["slug"] == "shc-fear"
    assert rows[1]["teams"] == "shc"
    assert rows[1]["mechanism"] == "patient-beliefs"
    assert rows[1]["quality_domains"] == "safety; person-centredness"
    assert rows[1]["wish_shifts"] == "power>dependence (clinician-patient)"
    assert rows[1]["evidence_count"] == "1"
    full = list(csv.DictReader(io.StringIO(anon_client.get("/api/configurations/?format=csv&view=full").content.decode())))
    assert full[1]["mechanism.slug"] == "patient-beliefs" and full[1]["evidence"] == "q-jobs"


def test_csv_pages_carry_a_link_header(kb, anon_client):
    response = anon_client.get("/api/excerpts/?format=csv&page_size=2")
    assert response["Link"].startswith("<http://testserver/api/excerpts/?cursor=")
    assert response["Link"].endswith('>; rel="next"')
    response = anon_client.get("/api/teams/?format=csv&page_size=1")
    assert response["Link"] == '<http://testserver/api/teams/?format=csv&page=2&page_size=1>; rel="next"'


def test_csv_of_a_bad_request_names_the_parameter(kb, anon_client):
    response = anon_client.get("/api/configurations/?format=csv&team=x")
    assert response.status_code == 400
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [{"parameter": "team", "error": "Unknown team 'x'. Accepted: pathway, shc."}]


def test_team_representation(kb, anon_client):
    from evidence.models import EvidenceExcerpt
    from projects.models import KeyFigure, TeamQualityDomain

    TeamQualityDomain.objects.create(team=kb.shc, quality_domain=kb.safety, basis="inferred", evidence=kb.q_jobs)
    KeyFigure.objects.create(team=kb.shc, slug="units", label="dialysis units", value=26, unit="units", display="26",
                             evidence=EvidenceExcerpt.objects.get(slug="q-control"))
    data = anon_client.get("/api/teams/shc/").json()
    assert data["quality_domains"] == [{"quality_domain": "safety", "basis": "inferred", "note": "", "evidence": "q-jobs"}]
    assert data["key_figures"] == [{"slug": "units", "label": "dialysis units", "display": "26", "value": "26.00",
                                    "value_max": None, "unit": "units", "evidence": "q-control"}]
    assert data["configurations_url"] == "/api/configurations/?team=shc"


def test_source_list_leaves_out_the_full_text(kb, anon_client):
    [item] = anon_client.get("/api/sources/").json()["results"]
    assert "full_text" not in item and item["length"] == len(kb.source.full_text)
    assert anon_client.get("/api/sources/small-report/").json()["full_text"] == kb.source.full_text


def test_wish_dimension_has_its_poles(kb, anon_client):
    data = anon_client.get("/api/wish-dimensions/power/").json()
    assert data["poles"] == [
        {"slug": "dependence", "name": "Dependence", "description": "", "position": -1},
        {"slug": "agency", "name": "Agency", "description": "", "position": 1},
    ]


@pytest.mark.parametrize("url,expected", [
    ("/api/teams/?programme=ctg", ["shc", "pathway"]),
    ("/api/teams/?quality_domain=safety", []),
    ("/api/themes/?mechanism=patient-beliefs", ["targeting"]),
    ("/api/themes/?mechanism=professional-beliefs", []),
    ("/api/outcomes/?kind=relationship-change", ["self-care", "self-care-refused"]),
    ("/api/outcomes/?quality_domain=safety", []),
    ("/api/contexts/?category=policy", []),
    ("/api/contexts/?name=four-hour", ["four-hour-target"]),
    ("/api/mechanisms/?name=patient,professional", ["patient-beliefs", "professional-beliefs"]),
    ("/api/sources/?kind=evaluation-report&programme=ctg", ["small-report"]),
    ("/api/sources/?title=small", ["small-report"]),
    ("/api/quality-domains/?name=safe", ["safety"]),
])
def test_vocabulary_filters(kb, anon_client, url, expected):
    response = anon_client.get(url)
    assert response.status_code == 200, response.content
    assert [item["slug"] for item in response.json()["results"]] == expected


@pytest.mark.parametrize("url,param,message", [
    ("/api/teams/?programme=x", "programme", "Unknown programme 'x'. Accepted: ctg."),
    ("/api/themes/?mechanism=x", "mechanism", "Unknown mechanism 'x'. Accepted: patient-beliefs, professional-beliefs."),
    ("/api/outcomes/?kind=x", "kind", "Unknown outcome kind 'x'. Accepted: relationship-change."),
    ("/api/sources/?kind=x", "kind", "Unknown source kind 'x'. Accepted: evaluation-report."),
    ("/api/teams/?page=0", "page", "'0' is not a page number. Accepted: a whole number from 1 to the last page."),
    ("/api/teams/?page_size=x", "page_size", "'x' is not a page size. Accepted: a whole number from 1 to 500."),
])
def test_vocabulary_bad_values(kb, anon_client, url, param, message):
    response = anon_client.get(url)
    assert response.status_code == 400
    assert response.json() == {param: [message]}


def test_a_page_past_the_last_is_404_naming_the_parameter(kb, anon_client):
    # Well-formed, pointing nowhere: a 404 (as for an unknown slug in the path), not a 400.
    response = anon_client.get("/api/teams/?page=9")
    assert response.status_code == 404
    assert response.json() == {"page": ["No such page. Accepted: a page number from 1 to the last page."]}


def test_unknown_parameter_on_a_vocabulary(kb, anon_client):
    response = anon_client.get("/api/mechanisms/?slug=x")
    assert response.status_code == 400
    assert response.json() == {"slug": ["Unknown query parameter. Accepted: cursor, format, name, page, page_size, programme, view."]}


def test_page_size_on_numbered_pages(kb, anon_client):
    body = anon_client.get("/api/teams/?page_size=1").json()
    assert body["count"] == 2 and [t["slug"] for t in body["results"]] == ["shc"]
    assert body["next"] == "http://testserver/api/teams/?page=2&page_size=1"


def test_api_root_lists_every_resource(kb, anon_client):
    root = anon_client.get("/api/").json()
    for name in ["programmes", "teams", "mechanisms", "themes", "wish-dimensions", "quality-domains", "relationship-levels",
                 "pathways", "contexts", "outcomes", "configurations", "sources", "excerpts", "evidence-links", "theories"]:
        assert root[name] == f"http://testserver/api/{name}/"


@pytest.mark.parametrize("url", ["/api/teams/?format=xml", "/api/configurations/?format=xml", "/api/matrix/?rows=team&cols=effect&format=xml"])
def test_unknown_format_is_400(kb, anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 400
    assert response.json() == {"format": ["'xml' is not a format. Accepted: json, api, csv."]}


@pytest.mark.parametrize("q", ['")(&|!', "-", '"', "the", "OR OR", "a" * 500, "naïve café"])
def test_odd_search_strings_never_fail(kb, anon_client, q):
    for url in ("/api/configurations/", "/api/excerpts/"):
        response = anon_client.get(url, {"search": q})
        assert response.status_code == 200, (url, q, response.content)



def _rows_lists():
    from cmo_kb.api_urls import router

    return [(prefix, viewset) for prefix, viewset, _ in router.registry if getattr(viewset, "list_reads_rows", False)]


def test_the_vocabularies_read_rows():
    """Every vocabulary list reads rows, and so do evidence links, codes, codings and chain links (the
    excerpt and configuration lists have rows of their own)."""
    from cmo_kb.api import ValuesRows

    # (Programmes read instances: each says the reader's own role in it, which a plan made once,
    # without a request, cannot.)
    prefixes = sorted(prefix for prefix, viewset in _rows_lists() if ValuesRows.of(viewset.serializer_class) is not None)
    assert prefixes == sorted([
        "frameworks", "concept-mappings", "teams", "wish-dimensions", "mechanisms", "themes", "quality-domains", "relationship-levels", "pathways", "contexts",
        "outcomes", "outcome-kinds", "relationship-pairs", "speaker-roles", "waves", "evidence-links",
        "codes", "codings", "chains",
    ])


@pytest.mark.parametrize("prefix,viewset", _rows_lists())
@pytest.mark.parametrize("query", ["", "format=csv"])
def test_the_list_rows_are_the_serializers_representation(kb, anon_client, prefix, viewset, query):
    """A list read as rows (cmo_kb/api.py ValuesRows) is what its serializer gives the instances the
    view used to read (with their prefetches), key for key and in order; its CSV page likewise."""
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from cmo_kb.renderers import CSVRenderer
    from evidence.models import EvaluationWave

    EvaluationWave.objects.create(programme=kb.programme, slug="wave-2", name="Wave 2", number=2, period="2013")
    EvaluationWave.objects.create(programme=kb.programme, slug="wave-1", name="Wave 1", number=1)
    from mechanisms.models import ConceptMapping, Framework, FrameworkConcept

    npt = Framework.objects.create(slug="npt", name="Normalisation Process Theory")
    buy_in = FrameworkConcept.objects.create(framework=npt, slug="buy-in", name="Buy-in", order=2)
    FrameworkConcept.objects.create(framework=npt, slug="coherence", name="Coherence", order=1)
    ConceptMapping.objects.create(programme=kb.programme, concept=buy_in, mechanism=kb.patient_beliefs, note="Why.")
    ConceptMapping.objects.create(programme=kb.programme, concept=buy_in, context=kb.resigned)
    from mechanisms.chains import ConfigurationChain

    link = ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear, note="Why.")
    link.evidence.add(kb.q_control)
    ConfigurationChain.objects.create(from_configuration=kb.shc_fear, to_configuration=kb.pathway_targets)  # a draft's
    from django.contrib.auth import get_user_model

    from evidence.codes import Code, Coding

    group = Code.objects.create(programme=kb.programme, name="Relationships", codable=False, colour="#2E7D32")
    trust = Code.objects.create(programme=kb.programme, parent=group, name="Trust", order=1)
    coder = get_user_model().objects.create_user("coder-1")
    Coding.objects.create(excerpt=kb.q_control, code=trust, coder=coder)
    response = anon_client.get(f"/api/{prefix}/?page_size=500&{query}")
    assert response.status_code == 200
    view = viewset()
    view.action, view.format_kwarg, view.kwargs = "list", None, {}
    view.request = Request(APIRequestFactory().get(f"/api/{prefix}/"))
    view.request._user = AnonymousUser()
    queryset = view.get_queryset()
    if hasattr(viewset, "cursor_ordering"):
        queryset = queryset.order_by(*viewset.cursor_ordering)
    instances = list(queryset)
    assert instances, f"{prefix}: no rows to compare"
    expected = viewset.serializer_class(instances, many=True, context={"request": view.request}).data
    if query:
        assert response.content == CSVRenderer().render({"results": expected})
        return
    listed = response.json()["results"]
    assert [list(item) for item in listed] == [list(item) for item in expected]
    assert listed == [dict(item) for item in expected]
