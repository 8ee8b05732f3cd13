"""The issue's reproduction on the loaded corpus: the report's text and a published configuration's evidence."""

from evidence.models import EvidenceExcerpt, Source
from tests.seed.conftest import ctg  # noqa: F401  (the CtG corpus, loaded once for this module)

REPORT = "/api/sources/ctg-evaluation-2014/"


def test_the_report_text_is_verbatim_and_fixed(ctg, evaluator_client, lead_client):  # noqa: F811
    text = Source.objects.get(slug="ctg-evaluation-2014").full_text
    assert text.startswith("\n")  # the white space DRF used to trim, shifting every offset
    spans = sorted(EvidenceExcerpt.objects.filter(source__slug="ctg-evaluation-2014").values_list("slug", "start", "end"))
    count = len(spans)
    for client in (evaluator_client, lead_client):
        response = client.patch(REPORT, {"full_text": text.replace("OPM", "Office")}, format="json")
        assert response.status_code == 422
        assert f"{count} excerpts point into it" in response.json()["full_text"][0]
    # Sent back unchanged, as a client that read it would: 200, and every excerpt still matches.
    assert evaluator_client.get(REPORT).json()["full_text"] == text
    assert evaluator_client.patch(REPORT, {"full_text": text}, format="json").status_code == 200
    assert Source.objects.get(slug="ctg-evaluation-2014").full_text == text
    for excerpt in EvidenceExcerpt.objects.filter(source__slug="ctg-evaluation-2014").select_related("source"):
        assert excerpt.text == excerpt.source.full_text[excerpt.start : excerpt.end], excerpt.slug
    assert sorted(EvidenceExcerpt.objects.filter(source__slug="ctg-evaluation-2014").values_list("slug", "start", "end")) == spans


def test_a_cited_excerpt_and_a_used_context_of_the_corpus(ctg, evaluator_client):  # noqa: F811
    from mechanisms.models import CMOConfiguration

    excerpt = EvidenceExcerpt.objects.filter(links__configuration__status="published").order_by("slug").first()
    citing = list(
        CMOConfiguration.objects.published().filter(evidence_links__excerpt=excerpt).order_by("slug").distinct()
        .values_list("slug", flat=True)
    )
    response = evaluator_client.patch(f"/api/excerpts/{excerpt.slug}/", {"note": "edited"}, format="json")
    assert response.status_code == 403
    assert response.json()["configurations"] == citing
    context = CMOConfiguration.objects.published().order_by("slug").first().contexts.order_by("slug").first()
    using = list(context.configurations.published().order_by("slug").values_list("slug", flat=True))
    response = evaluator_client.delete(f"/api/contexts/{context.slug}/")
    assert response.status_code == 403 and response.json()["configurations"] == using
    assert EvidenceExcerpt.objects.get(pk=excerpt.pk).note == excerpt.note
