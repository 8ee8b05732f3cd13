"""Fixtures for the API tests (clients per role and high throttle rates are in tests/conftest.py)."""

import pytest


@pytest.fixture
def grow(kb):
    """grow(n): add n published configurations (and n excerpts, links, shifts) to the kb fixture,
    every relation filled, so list endpoints can be measured at two data sizes."""
    from evidence.models import EvidenceExcerpt, EvidenceLink, Source
    from mechanisms.models import CMOConfiguration, ConfigurationPathway, WishShift

    made = []

    def grow(n):
        # Each batch's excerpts quote a source of their own: a source's text is fixed once an
        # excerpt points into it (the publish lock), so the batch's text is written first.
        first = len(made)
        words = [f"Extra evidence {i}." for i in range(first, first + n)]
        source = Source.objects.create(
            slug=f"extra-source-{first}", kind=kb.report, programme=kb.programme, title=f"Extra source {first}",
            full_text="".join(word + "\n" for word in words),
        )
        offset = 0
        for i, word in zip(range(first, first + n), words):
            excerpt = EvidenceExcerpt.objects.create(
                slug=f"x-{i}", source=source, text=word, start=offset, end=offset + len(word),
                team=kb.shc, speaker_role=kb.patient_role, attribution="(SHC, patient)",
            )
            offset += len(word) + 1
            c = CMOConfiguration.objects.create(
                slug=f"extra-{i:03d}", title=f"Extra {i}", statement="In C, M leads to O.", status="published",
                mechanism=kb.patient_beliefs, theme=kb.targeting, relationship_level=kb.micro,
            )
            c.teams.set([kb.shc, kb.pathway_team])
            c.contexts.set([kb.resigned, kb.four_hour])
            c.outcomes.set([kb.self_care])
            c.quality_domains.set([kb.safety])
            ConfigurationPathway.objects.create(configuration=c, pathway=kb.pathway_a)
            WishShift.objects.create(configuration=c, dimension=kb.power, toward=kb.agency, between=kb.clinician_patient)
            EvidenceLink.objects.create(excerpt=excerpt, configuration=c, part="outcome")
            EvidenceLink.objects.create(excerpt=kb.q_control, configuration=c, part="context")
            made.append(c)
        return made

    return grow
