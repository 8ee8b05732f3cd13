"""The REFI-QDA exports of the full seeded CtG corpus (load_ctg): valid against the schemas, every
excerpt's selection is exactly its text, published configurations only, deterministic."""

import io
from xml.etree import ElementTree as ET

import pytest
from django.core.management import call_command
from django.db import transaction

from cmo_kb.vocabulary import ReviewStatus
from evidence import refi_qda
from evidence.models import EvidenceExcerpt, EvidenceLink, Source
from mechanisms.models import CMOConfiguration, EnablingMechanism
from projects.models import Team

from .conftest import C, P


@pytest.fixture(scope="module")
def ctg(django_db_setup, django_db_blocker):
    """The corpus loaded once for the module, rolled back at its end (each test's own transaction
    nests inside as a savepoint)."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            call_command("load_ctg", stdout=io.StringIO())
            yield
            transaction.set_rollback(True)


@pytest.fixture(scope="module")
def corpus_exports(ctg, django_db_blocker):
    with django_db_blocker.unblock():
        return {
            "qdpx": refi_qda.export_qdpx(),
            "qdpx_drafts": refi_qda.export_qdpx(include_drafts=True),
            "qdc": refi_qda.export_codebook(),
        }


@pytest.mark.django_db
def test_corpus_exports_validate(corpus_exports, open_qdpx, project_schema, codebook_schema):
    for key in ("qdpx", "qdpx_drafts"):
        project_schema.validate(io.BytesIO(open_qdpx(corpus_exports[key]).qde))
    codebook_schema.validate(io.BytesIO(corpus_exports["qdc"]))


@pytest.mark.django_db
def test_every_excerpt_is_a_selection_spanning_exactly_its_text(corpus_exports, open_qdpx):
    qdpx = open_qdpx(corpus_exports["qdpx"])
    sources = list(Source.objects.all())
    assert sorted(qdpx.names) == sorted(["project.qde"] + [f"sources/{refi_qda.source_file_name(s.slug)}" for s in sources])
    selections = qdpx.selections()
    excerpts = list(EvidenceExcerpt.objects.select_related("source"))
    assert len(excerpts) > 100
    assert len(selections) == len(excerpts)
    non_ascii_before = 0
    texts = {}
    for excerpt in excerpts:
        selection, source = selections[refi_qda.selection_guid(excerpt.slug)]
        assert source.get("guid") == refi_qda.source_guid(excerpt.source.slug)
        text = texts.setdefault(source.get("guid"), qdpx.text_of(source))
        start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
        assert (start, end) == (excerpt.start, excerpt.end)
        assert text[start:end] == excerpt.text, excerpt.slug
        non_ascii_before += not text[:start].isascii()
    # The report has curly quotes, pound signs and a Greek capital alpha early on: most spans sit after them.
    assert non_ascii_before > len(excerpts) // 2


@pytest.mark.django_db
def test_codes_and_codings_match_the_published_configurations(corpus_exports, open_qdpx):
    qdpx = open_qdpx(corpus_exports["qdpx"])
    published = list(CMOConfiguration.objects.published())
    unpublished = list(CMOConfiguration.objects.exclude(status=ReviewStatus.PUBLISHED))
    assert published
    codes = qdpx.codes()
    assert all(refi_qda.configuration_code_guid(c.slug) in codes for c in published)
    assert not any(refi_qda.configuration_code_guid(c.slug) in codes for c in unpublished)
    # Four mechanisms, each a codable code under "Enabling mechanisms".
    group = next(c for c in qdpx.root.find(P + "CodeBook").find(P + "Codes") if c.get("name") == "Enabling mechanisms")
    assert [c.get("name") for c in group.findall(P + "Code")] == list(
        EnablingMechanism.objects.order_by("order", "name").values_list("name", flat=True))
    assert len(group.findall(P + "Code")) == 4
    # Each selection is coded with exactly the published configurations its excerpt is linked to.
    expected = {}
    for excerpt_slug, configuration_slug in EvidenceLink.objects.filter(
        configuration__status=ReviewStatus.PUBLISHED
    ).values_list("excerpt__slug", "configuration__slug"):
        expected.setdefault(refi_qda.selection_guid(excerpt_slug), set()).add(refi_qda.configuration_code_guid(configuration_slug))
    configuration_guids = {refi_qda.configuration_code_guid(c.slug) for c in published}
    for selection_guid, (selection, _) in qdpx.selections().items():
        coded = {c.find(P + "CodeRef").get("targetGUID") for c in selection.findall(P + "Coding")}
        assert coded & configuration_guids == expected.get(selection_guid, set())
    assert len(list(qdpx.all("Link"))) == EvidenceLink.objects.filter(configuration__status=ReviewStatus.PUBLISHED).count()
    assert len(list(qdpx.all("Note"))) >= len(published)
    assert [c.get("name") for c in qdpx.all("Case")] == list(Team.objects.order_by("order", "name").values_list("name", flat=True))


@pytest.mark.django_db
def test_drafts_only_with_include_drafts(corpus_exports, open_qdpx):
    codes = open_qdpx(corpus_exports["qdpx_drafts"]).codes()
    everything = list(CMOConfiguration.objects.all())
    assert all(refi_qda.configuration_code_guid(c.slug) in codes for c in everything)
    # (the seed may have no drafts; then the two exports differ only in their project name)
    project = ET.fromstring(open_qdpx(corpus_exports["qdpx_drafts"]).qde)
    assert project.get("name") == "CMO KB: CtGtCR (with drafts)"  # the corpus's one programme, by short name


@pytest.mark.django_db
def test_corpus_exports_are_deterministic(corpus_exports):
    assert refi_qda.export_qdpx() == corpus_exports["qdpx"]
    assert refi_qda.export_codebook() == corpus_exports["qdc"]


@pytest.mark.django_db
def test_codebook_has_the_projects_codes(corpus_exports, open_qdpx):
    project_codes = [(c.get("guid"), c.get("name")) for c in open_qdpx(corpus_exports["qdpx"]).all("Code")]
    codebook_codes = [(c.get("guid"), c.get("name")) for c in ET.fromstring(corpus_exports["qdc"]).iter(C + "Code")]
    assert codebook_codes == project_codes
    assert len(codebook_codes) > 100
