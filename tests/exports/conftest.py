"""Fixtures for the REFI-QDA export tests: the vendored schemas, readers for the exported files,
API clients per role, and a way to grow the `kb` fixture to pin query counts at two sizes."""

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

SCHEMAS = Path(__file__).resolve().parents[2] / "evidence" / "refi_qda_schemas"
P = "{urn:QDA-XML:project:1.0}"
C = "{urn:QDA-XML:codebook:1.0}"


@pytest.fixture(scope="session")
def project_schema():
    return xmlschema.XMLSchema(SCHEMAS / "Project.xsd")


@pytest.fixture(scope="session")
def codebook_schema():
    return xmlschema.XMLSchema(SCHEMAS / "Codebook.xsd")


class Qdpx:
    """An exported .qdpx opened: the ZIP, project.qde parsed, and the source texts decoded."""

    def __init__(self, payload):
        self.payload = payload
        self.zip = zipfile.ZipFile(io.BytesIO(payload))
        self.names = self.zip.namelist()
        self.qde = self.zip.read("project.qde")
        self.root = ET.fromstring(self.qde)

    def text_of(self, text_source):
        path = text_source.get("plainTextPath")
        assert path.startswith("internal://"), path
        return self.zip.read("sources/" + path.removeprefix("internal://")).decode("utf-8")

    def all(self, tag):
        return self.root.iter(P + tag)

    def codes(self):
        return {code.get("guid"): code for code in self.all("Code")}

    def code_names(self):
        return [code.get("name") for code in self.all("Code")]

    def selections(self):
        """{selection guid: (selection element, its TextSource element)}"""
        return {
            selection.get("guid"): (selection, source)
            for source in self.all("TextSource")
            for selection in source.findall(P + "PlainTextSelection")
        }


@pytest.fixture
def open_qdpx():
    return Qdpx


@pytest.fixture
def grow_kb(kb, evaluator, django_user_model):
    """grow_kb(n) adds n published configurations, each with its own source, team, context,
    outcome, theme, two excerpts (one linked to two parts), a Wish shift, a pathway, a quality
    domain, and a curator; and a code and a child code, two codings by a coder of their own, a memo
    about the code, an excerpt and the source, a relation, and imported GUIDs on the source, the team
    and an excerpt: everything an export reads grows."""
    import uuid

    from evidence.models import Code, Coding, EvidenceExcerpt, EvidenceLink, Memo, Relation, Source
    from mechanisms.models import (
        CMOConfiguration,
        ConfigurationPathway,
        Context,
        MechanismTheme,
        Outcome,
        WishShift,
    )
    from projects.models import Team

    counter = {"n": 0}

    def grow(n):
        for _ in range(n):
            counter["n"] += 1
            i = counter["n"]
            text = f"Grown source {i}. Über-Zusammenarbeit: 'We talk as equals now ({i}).' Done.\n"
            source = Source.objects.create(programme=kb.programme, slug=f"grown-{i}", kind=kb.report, title=f"Grown source {i}",
                                           full_text=text, created_by=evaluator, updated_by=evaluator)
            team = Team.objects.create(programme=kb.programme, slug=f"team-{i}", name=f"Team {i}",
                                       short_name=f"T{i}", order=10 + i)
            quote = f"We talk as equals now ({i})."
            start = text.index(quote)
            excerpt = EvidenceExcerpt.objects.create(
                slug=f"grown-q-{i}", source=source, text=quote, start=start, end=start + len(quote), team=team,
                speaker_role=kb.staff_role, attribution=f"(Team {i}, staff member)", created_by=evaluator,
            )
            finding = EvidenceExcerpt.objects.create(
                slug=f"grown-f-{i}", source=source, text="Done.", start=text.index("Done."),
                end=text.index("Done.") + 5, team=team, kind="evaluator_finding",
            )
            theme = MechanismTheme.objects.create(mechanism=kb.professional_beliefs, slug=f"theme-{i}",
                                                  name=f"Theme {i}", order=10 + i)
            context = Context.objects.create(programme=kb.programme, slug=f"context-{i}", name=f"Context {i}", category="organisational")
            outcome = Outcome.objects.create(programme=kb.programme, slug=f"outcome-{i}", name=f"Outcome {i}", kind=kb.relationship_kind)
            configuration = CMOConfiguration.objects.create(
                slug=f"grown-{i}", title=f"Grown configuration {i}", mechanism=kb.professional_beliefs, theme=theme,
                status="published", statement=f"Grown statement {i}.", created_by=evaluator,
            )
            configuration.teams.set([team, kb.shc])
            configuration.contexts.set([context])
            configuration.outcomes.set([outcome])
            configuration.quality_domains.set([kb.safety])
            WishShift.objects.create(configuration=configuration, dimension=kb.valence, toward=kb.friendly,
                                     between=kb.clinician_patient)
            ConfigurationPathway.objects.create(configuration=configuration, pathway=kb.pathway_a)
            for part in ("context", "outcome"):
                EvidenceLink.objects.create(excerpt=excerpt, configuration=configuration, part=part,
                                            created_by=evaluator)
            EvidenceLink.objects.create(excerpt=finding, configuration=configuration, part="mechanism",
                                        stance="illustrates", note=f"Grown link note {i}.")
            source.qda_guid, team.qda_guid, finding.qda_guid = (str(uuid.uuid4()) for _ in range(3))
            source.save()
            team.save()
            finding.save()
            coder = django_user_model.objects.create(username=f"coder-{i}", is_active=False)
            group = Code.objects.create(programme=kb.programme, name=f"Grown group {i}", codable=False, order=i)
            code = Code.objects.create(programme=kb.programme, parent=group, name=f"Grown code {i}", colour="#123456")
            for coded in (excerpt, finding):
                Coding.objects.create(excerpt=coded, code=code, coder=coder)
            memo = Memo.objects.create(programme=kb.programme, name=f"Grown memo {i}", text="Why.", created_by=coder)
            memo.codes.set([code])
            memo.excerpts.set([finding])
            memo.sources.set([source])
            Relation.objects.create(programme=kb.programme, name="leads to", origin_excerpt=finding,
                                    target_code=code, updated_by=coder)

    return grow
