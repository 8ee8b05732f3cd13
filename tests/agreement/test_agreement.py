"""Inter-coder agreement (issue 13): the figures against cases worked by hand and against the
krippendorff package's own reliability-data path, and GET /api/agreement/ per role."""

import krippendorff
import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence.agreement import Comparison, cohen_kappa, compare, disagreements, figures, krippendorff_alpha

pytestmark = pytest.mark.django_db

TEXT = "".join(chr(ord("a") + i % 26) for i in range(100))  # 100 characters


def _matrix(length, *spans_per_coder):
    matrix = np.zeros((len(spans_per_coder), length), dtype=bool)
    for row, spans in enumerate(spans_per_coder):
        for start, end in spans:
            matrix[row, start:end] = True
    return matrix


# --- The figures, worked by hand ---------------------------------------------------------------


def test_half_overlap_worked_by_hand():
    # A codes 0–50, B codes 25–75 of 100 characters: both 25, neither 25, one of them 50.
    result = figures(_matrix(100, [(0, 50)], [(25, 75)]), ["a", "b"])
    assert result.units == 100
    assert result.percent_agreement == pytest.approx(50.0)
    # p_o = .5; p_e = .5·.5 + .5·.5 = .5: κ = 0.
    assert result.kappa == pytest.approx(0.0)
    # Coincidences: o00 = o11 = 50, o01 = o10 = 50; n = 200, n0 = n1 = 100.
    # D_o = 100/200 = .5; D_e = 2·100·100 / (200·199); α = 1 − D_o/D_e = 1 − .995 = .005.
    assert result.alpha == pytest.approx(0.005)


def test_nested_coding_worked_by_hand():
    # A codes 0–40, B codes 0–30: both 30, A only 10, neither 60.
    result = figures(_matrix(100, [(0, 40)], [(0, 30)]), ["a", "b"])
    assert result.percent_agreement == pytest.approx(90.0)
    # p_o = .9; p_e = .4·.3 + .6·.7 = .54; κ = .36/.46.
    assert result.kappa == pytest.approx(0.36 / 0.46)
    # o11 = 60, o00 = 120, o01 = o10 = 10; n0 = 130, n1 = 70; D_o = .1; D_e = 2·130·70/(200·199).
    assert result.alpha == pytest.approx(1 - 0.1 / (2 * 130 * 70 / (200 * 199)))


def test_complete_agreement_and_nothing_coded():
    same = figures(_matrix(100, [(10, 20)], [(10, 20)]), ["a", "b"])
    assert (same.percent_agreement, same.kappa, same.alpha) == (100.0, 1.0, 1.0)
    nothing = figures(_matrix(100, [], []), ["a", "b"])
    # Both left every character uncoded: they agree, κ is 1 as NVivo reports it, α is undefined.
    assert (nothing.percent_agreement, nothing.kappa, nothing.alpha) == (100.0, 1.0, None)


def test_alpha_matches_the_packages_reliability_data_path_for_three_coders():
    matrix = _matrix(200, [(0, 80), (120, 150)], [(10, 90)], [(0, 60), (130, 200)])
    ours = krippendorff_alpha(matrix)
    theirs = krippendorff.alpha(reliability_data=matrix.astype(float), level_of_measurement="nominal")
    assert ours == pytest.approx(theirs)
    result = figures(matrix, ["a", "b", "c"])
    assert [pair.coders for pair in result.pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert result.percent_agreement == pytest.approx(np.mean([p.percent_agreement for p in result.pairs]))
    assert result.pairs[0].kappa == pytest.approx(cohen_kappa(matrix[0], matrix[1]))


def test_disagreements_are_the_spans_not_coded_alike():
    matrix = _matrix(100, [(0, 40)], [(0, 30), (60, 70)])
    assert disagreements(matrix, ["a", "b"]) == [(30, 40, ["a"]), (60, 70, ["b"])]


# --- Over the database ---------------------------------------------------------------------------


@pytest.fixture
def coded(kb, django_user_model):
    from evidence.codes import Code, Coding
    from evidence.models import EvidenceExcerpt, Source

    ns = type("Coded", (), {})()
    ns.kb = kb
    source = kb.source
    ns.source = Source.objects.create(slug="agreement-text", kind=source.kind, programme=kb.programme,
                                      title="Agreement text", full_text=TEXT)
    ns.ann = django_user_model.objects.create_user("ann")
    ns.bob = django_user_model.objects.create_user("bob")
    ns.trust = Code.objects.create(programme=kb.programme, name="Trust", order=1)
    ns.fear = Code.objects.create(programme=kb.programme, name="Fear", order=2)

    def excerpt(start, end):
        return EvidenceExcerpt.objects.get_or_create(
            source=ns.source, start=start, end=end,
            defaults={"slug": f"agreement-{start}-{end}", "text": TEXT[start:end]})[0]

    ns.code = lambda coder, code, start, end: Coding.objects.create(excerpt=excerpt(start, end), code=code, coder=coder)
    ns.code(ns.ann, ns.trust, 0, 40)
    ns.code(ns.bob, ns.trust, 0, 30)
    ns.code(ns.ann, ns.fear, 50, 60)
    ns.code(ns.bob, ns.fear, 50, 60)
    return ns


def test_compare_per_code_and_overall(coded):
    from evidence.codes import Code

    report = compare(Comparison(sources=[(coded.source.pk, coded.source.slug, coded.source.title, 100)],
                                coders=[coded.ann, coded.bob], codes=list(Code.objects.order_by("order"))))
    trust, fear = report["results"]
    assert (trust["code_name"], trust["units"], trust["percent_agreement"]) == ("Trust", 100, 90.0)
    assert trust["kappa"] == pytest.approx(0.36 / 0.46, abs=1e-4)
    assert trust["sources"][0]["disagreements"] == [{"start": 30, "end": 40, "coded_by": ["ann"]}]
    assert (fear["percent_agreement"], fear["kappa"], fear["alpha"]) == (100.0, 1.0, 1.0)
    # Overall: 200 code-characters, 190 agreed; κ the mean weighted by units (equal here).
    assert report["overall"]["units"] == 200
    assert report["overall"]["percent_agreement"] == 95.0
    assert report["overall"]["kappa"] == pytest.approx((0.36 / 0.46 + 1) / 2, abs=1e-4)


def test_api_agreement(coded, evaluator_client):
    response = evaluator_client.get("/api/agreement/", {"source": "agreement-text", "coders": "ann,bob"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["coders"] == ["ann", "bob"]
    assert [r["code_name"] for r in body["results"]] == ["Trust", "Fear"]
    assert body["results"][0]["percent_agreement"] == 90.0
    only = evaluator_client.get("/api/agreement/", {"source": "agreement-text", "coders": "ann,bob",
                                                    "code": str(coded.fear.pk)}).json()
    assert [r["code_name"] for r in only["results"]] == ["Fear"]
    csv = evaluator_client.get("/api/agreement/", {"source": "agreement-text", "coders": "ann,bob", "format": "csv"})
    assert csv.status_code == 200
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("code,source,units,percent_agreement,kappa,alpha")
    assert "Trust,agreement-text,100,90.0," in lines[1]


def test_api_agreement_queries_do_not_grow_with_codings(coded, evaluator_client):
    params = {"source": "agreement-text", "coders": "ann,bob"}
    evaluator_client.get("/api/agreement/", params)
    with CaptureQueriesContext(connection) as before:
        evaluator_client.get("/api/agreement/", params)
    for start in range(60, 100, 5):
        coded.code(coded.ann, coded.trust, start, start + 3)
        coded.code(coded.bob, coded.fear, start, start + 4)
    with CaptureQueriesContext(connection) as after:
        assert evaluator_client.get("/api/agreement/", params).status_code == 200
    assert len(after) == len(before)


@pytest.mark.parametrize("params, status, field, words", [
    ({"coders": "ann,bob"}, 400, "source", "source is required"),
    ({"source": "agreement-text", "coders": "ann"}, 400, "coders", "at least two"),
    ({"source": "agreement-text", "coders": "ann,bob", "code": "x"}, 400, "code", "not a code id"),
    ({"source": "agreement-text", "coders": "ann,bob", "coder": "ann"}, 400, "coder", "Unknown query parameter"),
    ({"source": "nope", "coders": "ann,bob"}, 404, "source", "Unknown source 'nope'"),
    ({"source": "agreement-text", "coders": "ann,zed"}, 404, "coders", "Unknown coder 'zed'"),
    ({"source": "agreement-text", "coders": "ann,bob", "code": "999999"}, 404, "code", "No code 999999"),
])
def test_api_agreement_bad_input_names_the_parameter(coded, evaluator_client, params, status, field, words):
    """A malformed request is a 400; a well-formed one naming what does not exist, a 404 naming it."""
    response = evaluator_client.get("/api/agreement/", params)
    assert response.status_code == status
    assert words in response.json()[field][0]


def test_a_private_programmes_source_is_unknown_to_outsiders(coded, anon_client, evaluator_client):
    programme = coded.kb.programme
    programme.is_public = False
    programme.save()
    response = anon_client.get("/api/agreement/", {"source": "agreement-text", "coders": "ann,bob"})
    assert response.status_code == 404
    assert "Unknown source 'agreement-text'" in response.json()["source"][0]
    assert evaluator_client.get("/api/agreement/", {"source": "agreement-text", "coders": "ann,bob"}).status_code == 200


def test_the_workbench_page_compares_and_links_disagreements_to_the_text(coded, admin_client):
    listing = admin_client.get("/admin/evidence/coding/").content.decode()
    assert "/admin/evidence/coding/agreement/" in listing
    page = admin_client.get("/admin/evidence/coding/agreement/", {"sources": [coded.source.pk], "coders": ["ann", "bob"]})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h2>Trust</h2>" in html and "<h2>Fear</h2>" in html
    assert "90.0%" in html  # Trust: 90 of 100 characters agreed
    assert f"/admin/evidence/source/{coded.source.pk}/code/" in html and "characters 30–40" in html
    assert f"<q>{TEXT[30:40]}</q>" in html
    one = admin_client.get("/admin/evidence/coding/agreement/", {"sources": [coded.source.pk], "coders": ["ann"]})
    assert "Give at least two coders" in one.content.decode()


def test_the_workbench_page_is_for_those_who_see_codings(coded, client, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(nobody)
    assert client.get("/admin/evidence/coding/agreement/").status_code == 403
