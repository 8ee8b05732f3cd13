"""Fixtures for the API tests (clients per role and high throttle rates are in tests/conftest.py)."""

import pytest


@pytest.fixture
def grow(kb):
    """grow(n): add n published configurations (and n excerpts, links, shifts) to the kb fixture,
    every relation filled, so list endpoints can be measured at two data sizes."""
    from evidence.models import EvidenceExcerpt, EvidenceLink
    from mechanisms.models import CMOConfiguration, ConfigurationPathway, WishShift

    made = []

    def grow(n):
        text = kb.source.full_text
        for i in range(len(made), len(made) + n):
            # each new excerpt is an existing span of its own, so the verbatim rule holds
            word = f"Extra evidence {i}."
            kb.source.full_text = text = text + word + "\n"
            kb.source.save()
            excerpt = EvidenceExcerpt.objects.create(
                slug=f"x-{i}", source=kb.source, text=word, start=len(text) - len(word) - 1, end=len(text) - 1,
                team=kb.shc, speaker_role=kb.patient_role, attribution="(SHC, patient)",
            )
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
