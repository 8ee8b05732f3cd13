"""GET /api/export/qdpx/ and /api/export/qdc/: downloads, who may include drafts, bad parameters,
query counts."""

import io

import pytest
from django.urls import reverse

from evidence import refi_qda

QDPX = reverse("export-qdpx")
QDC = reverse("export-qdc")


def body(response):
    """The bytes of a response; the .qdpx streams (no `content`), the .qdc does not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_urls():
    assert (QDPX, QDC) == ("/api/export/qdpx/", "/api/export/qdc/")


def test_anonymous_project_download(kb, anon_client, open_qdpx, project_schema):
    response = anon_client.get(QDPX)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="cmo-kb.qdpx"'
    # Streamed: the length is not known before the last byte.
    assert response.streaming and not response.has_header("Content-Length")
    assert response["Cache-Control"] == "public, max-age=300"
    payload = body(response)
    assert payload == refi_qda.export_qdpx()
    qdpx = open_qdpx(payload)
    project_schema.validate(io.BytesIO(qdpx.qde))
    assert "Pathway targets [draft]" not in qdpx.code_names()


def test_anonymous_codebook_download(kb, anon_client, codebook_schema):
    response = anon_client.get(QDC)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="cmo-kb-codebook.qdc"'
    codebook_schema.validate(io.BytesIO(response.content))
    assert response.content == refi_qda.export_codebook()
    assert b"pathway-targets" not in response.content


def test_download_works_whatever_the_accept_header(kb, anon_client):
    response = anon_client.get(QDPX, HTTP_ACCEPT="application/zip")
    assert response.status_code == 200
    assert body(response)[:2] == b"PK"


@pytest.mark.parametrize("url", [QDPX, QDC])
def test_evaluator_may_include_drafts(kb, evaluator_client, url):
    response = evaluator_client.get(url, {"include_drafts": "1"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].endswith('-with-drafts.' + url.strip("/").split("/")[-1] + '"')
    expected = refi_qda.export_qdpx(True) if url == QDPX else refi_qda.export_codebook(True)
    assert body(response) == expected


def test_evaluator_export_with_drafts_contains_them(kb, lead_client, open_qdpx):
    qdpx = open_qdpx(body(lead_client.get(QDPX, {"include_drafts": "true"})))
    assert "Pathway targets [draft]" in qdpx.code_names()
    # Without the parameter an evaluator gets the published export too.
    assert "Pathway targets [draft]" not in open_qdpx(body(lead_client.get(QDPX))).code_names()


def test_evaluator_signed_in_with_a_session(kb, client, evaluator):
    client.force_login(evaluator)
    response = client.get(QDC, {"include_drafts": "yes"})
    assert response.status_code == 200
    assert b"Pathway targets [draft]" in response.content


@pytest.mark.parametrize("url", [QDPX, QDC])
def test_analyst_asking_for_drafts_is_refused_not_silently_served(kb, analyst_client, url):
    response = analyst_client.get(url, {"include_drafts": "1"})
    assert response.status_code == 403
    assert response.json() == {"include_drafts": [
        "Only evaluators can export draft and in-review configurations. "
        "Leave include_drafts out for the published knowledge base."]}
    assert analyst_client.get(url).status_code == 200
    assert analyst_client.get(url, {"include_drafts": "0"}).status_code == 200


def test_anonymous_asking_for_drafts_is_refused(kb, anon_client):
    response = anon_client.get(QDPX, {"include_drafts": "1"})
    assert response.status_code == 403
    assert "include_drafts" in response.json()


def test_bad_include_drafts_value_is_a_400_naming_it(kb, evaluator_client):
    response = evaluator_client.get(QDPX, {"include_drafts": "maybe"})
    assert response.status_code == 400
    assert response.json() == {"include_drafts": ["'maybe' is not a boolean. Accepted: 1 or 0 (also true/false, yes/no)."]}


def test_unknown_parameter_is_a_400_naming_it(kb, anon_client):
    response = anon_client.get(QDC, {"drafts": "1"})
    assert response.status_code == 400
    assert response.json() == {"drafts": ["Unknown parameter. Accepted: include_drafts, programme."]}


def test_only_get(kb, evaluator_client):
    assert evaluator_client.post(QDPX).status_code == 405


@pytest.mark.parametrize("url, queries", [(QDPX, len(refi_qda.EXPORT_QUERIES) + len(refi_qda.STREAM_QUERIES)),
                                          (QDC, len(refi_qda.CODEBOOK_QUERIES))])
def test_query_count_does_not_grow_with_the_data(kb, grow_kb, anon_client, evaluator_client, django_assert_num_queries,
                                                 url, queries):
    # Anonymous: only the export's own queries, one per line of refi_qda.EXPORT_QUERIES (24: the
    # programmes exported, 11 vocabularies, configurations, 4 configuration relations, Wish shifts,
    # pathways, Code rows, sources, memos' codes, memos' sources, users) and, as the .qdpx streams, of
    # refi_qda.STREAM_QUERIES (11: two latest changes, team excerpts, excerpts with links, link notes,
    # links, codings, memos of excerpts, memos, relations, source texts); the first 19 for the
    # codebook. grow_kb adds codes, codings, memos and relations too. Which programmes a user sees is a subquery of those queries, no query of its own.
    # Evaluator with drafts: + token (with user) + the user's groups. The body is read inside the
    # block: a streamed export's queries run as it is sent.
    sizes = []
    for size in (0, 4):
        if size:
            grow_kb(size)
        with django_assert_num_queries(queries):
            published = anon_client.get(url)
            payload = body(published)
        with django_assert_num_queries(queries + 2):
            drafts = evaluator_client.get(url, {"include_drafts": "1"})
            body(drafts)
        assert published.status_code == drafts.status_code == 200
        sizes.append(len(payload))
    assert sizes[1] > sizes[0]
