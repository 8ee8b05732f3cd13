"""REFI-QDA per programme: /api/export/qdpx/?programme=a,b and export_refi_qda --programme hold the
programmes given (default: those the reader may see), say which, and key a programme's own terms'
GUIDs by its slug, so two programmes' `patient-beliefs` are two codes."""

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from evidence import refi_qda

P = "{urn:QDA-XML:project:1.0}"
SCHEMAS = Path(__file__).resolve().parents[2] / "evidence" / "refi_qda_schemas"


def project(response):
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response.streaming and not response.has_header("Content-Length")  # still streamed
    payload = b"".join(response.streaming_content)
    qde = zipfile.ZipFile(io.BytesIO(payload)).read("project.qde")
    xmlschema.XMLSchema(SCHEMAS / "Project.xsd").validate(io.BytesIO(qde))
    return ET.fromstring(qde)


def codes(root):
    return {code.get("guid"): code.get("name") for code in root.iter(P + "Code")}


def test_a_programmes_own_terms_have_guids_of_their_own():
    assert refi_qda.term_code_guid("mechanism", "ctg", "patient-beliefs") == refi_qda.guid(
        "code", "mechanism", "ctg", "patient-beliefs")
    # Pinned: a re-import matches codes up by these, so they must not move between releases.
    assert refi_qda.term_code_guid("mechanism", "ctg", "patient-beliefs") == "477af302-3d76-529b-8bfc-9acdca9b5aef"
    assert refi_qda.term_code_guid("context", "ctg", "leadership") != refi_qda.term_code_guid("context", "other", "leadership")


def test_two_programmes_in_one_project(clients):
    root = project(clients["root"].get("/api/export/qdpx/", {"programme": "ctg,other"}))
    assert root.get("name") == "CMO KB: Closing the Gap, Other"
    assert "Programmes: Closing the Gap (ctg); Other programme (other)." in root.find(P + "Description").text
    found = codes(root)
    ctg, other = (refi_qda.term_code_guid("mechanism", slug, "patient-beliefs") for slug in ("ctg", "other"))
    assert found[ctg] == "Changes to patient beliefs, attitudes and behaviours (Closing the Gap)"
    assert found[other] == "Other: patient beliefs (Other)"
    for kind, slug in (("context", "resigned-dependence"), ("outcome", "self-care"), ("speaker-role", "patient"),
                       ("theme", "targeting")):
        assert refi_qda.term_code_guid(kind, "ctg", slug) in found and refi_qda.term_code_guid(kind, "other", slug) in found
    assert len(found) == len(set(found))
    # The quote of other's patient is coded with other's speaker role, not ctg's.
    selection = next(s for s in root.iter(P + "PlainTextSelection") if s.get("guid") == refi_qda.selection_guid("o-quote"))
    refs = [ref.get("targetGUID") for ref in selection.iter(P + "CodeRef")]
    assert refi_qda.term_code_guid("speaker-role", "other", "patient") in refs
    assert refi_qda.term_code_guid("speaker-role", "ctg", "patient") not in refs


def test_one_programme_and_the_default(clients):
    only = project(clients["root"].get("/api/export/qdpx/", {"programme": "other"}))
    assert only.get("name") == "CMO KB: Other"
    assert "Programme: Other programme (other)." in only.find(P + "Description").text
    names = set(codes(only).values())
    assert "Other: patient beliefs" in names  # one programme: no suffix
    assert not any("Changes to patient beliefs" in name for name in names)
    assert [s.get("name") for s in only.iter(P + "TextSource")] == ["The other report"]
    # Default: every programme the reader may see; anonymous readers: public ones.
    assert project(clients["root"].get("/api/export/qdpx/")).get("name") == "CMO KB: Closing the Gap, Other"
    assert project(clients["anonymous"].get("/api/export/qdpx/")).get("name") == "CMO KB: Closing the Gap"
    response = clients["root"].get("/api/export/qdpx/", {"programme": "other,ctg"})
    assert response["Content-Disposition"] == 'attachment; filename="cmo-kb-other-ctg.qdpx"'


def test_drafts_are_those_of_the_programmes_you_write_in(clients):
    def configuration_names(root):
        return {name for name in codes(root).values() if name.startswith(("Zebrafish", "Pathway targets"))}

    assert configuration_names(project(clients["oeva"].get("/api/export/qdpx/", {"include_drafts": "1"}))) == {
        "Zebrafish other-published", "Zebrafish other-draft [in review]"}
    assert configuration_names(project(clients["mixed"].get("/api/export/qdpx/", {"include_drafts": "1"}))) == {
        "Zebrafish other-published", "Zebrafish other-draft [in review]", "Pathway targets [draft]"}
    response = clients["oeva"].get("/api/export/qdpx/", {"include_drafts": "1", "programme": "ctg"})
    assert response.status_code == 403
    assert response.json() == {"include_drafts": [
        "You write in none of the programmes ctg: their drafts are their evaluators'. "
        "Leave include_drafts out for their published knowledge."]}
    codebook = clients["oeva"].get("/api/export/qdc/", {"include_drafts": "1", "programme": "other"})
    assert codebook.status_code == 200 and b"Zebrafish other-draft [in review]" in codebook.content
    assert codebook["Content-Disposition"] == 'attachment; filename="cmo-kb-codebook-other-with-drafts.qdc"'


@pytest.mark.parametrize("value", ["nope", "ctg,nope"])
def test_an_unknown_programme_is_a_400(clients, value):
    response = clients["oana"].get("/api/export/qdpx/", {"programme": value})
    assert response.status_code == 400
    assert response.json() == {"programme": ["Unknown programme 'nope'. Accepted: ctg, other."]}


def test_the_command_takes_programmes(kb, other, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "other.qdpx"
    out = io.StringIO()
    call_command("export_refi_qda", "--output", str(path), "--programme", "other", "--programme", "ctg", stdout=out)
    assert out.getvalue().startswith(f"Wrote REFI-QDA project (published configurations only; programmes other, ctg) to {path}")
    root = ET.fromstring(zipfile.ZipFile(path).read("project.qde"))
    assert root.get("name") == "CMO KB: Closing the Gap, Other"
    call_command("export_refi_qda", "--output", str(path), "--programme", "other", stdout=io.StringIO())
    assert ET.fromstring(zipfile.ZipFile(path).read("project.qde")).get("name") == "CMO KB: Other"
    # Every programme by default (the operator's export), private ones too.
    call_command("export_refi_qda", "--output", str(path), stdout=io.StringIO())
    assert ET.fromstring(zipfile.ZipFile(path).read("project.qde")).get("name") == "CMO KB: Closing the Gap, Other"
    with pytest.raises(CommandError, match=r"Unknown programme 'nope'. Accepted: ctg, other."):
        call_command("export_refi_qda", "--output", str(path), "--programme", "nope", stdout=io.StringIO())
