"""benchmarks/generate.py builds data the model accepts: its SQL check over every row, and the
model's own full_clean() on a sample. PostgreSQL only (COPY, triggers, tsvector)."""

import random
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import generate  # noqa: E402

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="the generator writes with PostgreSQL's COPY and relies on its search triggers"),
]

EXCERPTS, CONFIGURATIONS = 2000, 200


@pytest.fixture
def generated(db):
    call_command("load_ctg", verbosity=0)
    connection.ensure_connection()
    cur = connection.connection.cursor()
    generate.populate(cur, EXCERPTS, CONFIGURATIONS, seed=3)
    return cur


# load_ctg costs ~20 s, so each test checks several things on one generated database.
def test_generated_rows_keep_every_rule(generated):
    counts = generate.counts(generated)
    assert counts["evidence_evidenceexcerpt"] == EXCERPTS
    assert counts["mechanisms_cmoconfiguration"] == CONFIGURATIONS
    assert counts["evidence_source"] == 1 + -(-(EXCERPTS - 243) // 243)
    # ~4.4 links a configuration, as in the corpus (280 for 63)
    assert 4 * CONFIGURATIONS <= counts["evidence_evidencelink"] <= 5 * CONFIGURATIONS
    assert generate.check(generated) == []
    _sampled_rows_pass_full_clean()
    _the_mix_is_realistic()


def _sampled_rows_pass_full_clean():
    from evidence.models import EvidenceExcerpt, EvidenceLink, Source
    from mechanisms.models import CMOConfiguration, WishShift

    rng = random.Random(1)
    for model, related in (
        (Source, ()),
        (EvidenceExcerpt, ("source",)),
        (CMOConfiguration, ("theme", "mechanism")),
        (EvidenceLink, ("excerpt", "configuration")),
        (WishShift, ("toward", "dimension")),
    ):
        ids = list(model.objects.values_list("pk", flat=True))
        sample = model.objects.filter(pk__in=rng.sample(ids, min(40, len(ids)))).select_related(*related)
        assert len(sample) == min(40, len(ids))
        for row in sample:
            row.full_clean()
    generated_text = EvidenceExcerpt.objects.filter(slug__endswith="-g3").select_related("source").first()
    assert generated_text.text == generated_text.source.full_text[generated_text.start:generated_text.end]


def _the_mix_is_realistic():
    from mechanisms.models import CMOConfiguration
    from projects.models import Team

    copies = CMOConfiguration.objects.filter(slug__contains="-g")
    published = copies.filter(status="published").count() / copies.count()
    assert 0.6 < published < 0.9
    assert copies.filter(status="draft").exists()
    shares = {t.slug: t.configurations.count() for t in Team.objects.all()}
    assert max(shares, key=shares.get) == generate.BIG_TEAM
    assert shares[generate.BIG_TEAM] > 0.35 * CONFIGURATIONS
    # the texts vary: not every source copy is the report again
    from evidence.models import Source

    texts = {s.full_text.split("\n\n", 1)[-1] for s in Source.objects.all()}
    assert len(texts) > 1


def test_check_reports_a_broken_row(generated):
    cur = generated
    cur.execute("SELECT id FROM evidence_evidenceexcerpt ORDER BY id DESC LIMIT 1")
    (excerpt_id,) = cur.fetchone()
    cur.execute("UPDATE evidence_evidenceexcerpt SET text = text || 'x' WHERE id = %s", (excerpt_id,))
    cur.execute(
        """UPDATE mechanisms_cmoconfiguration c SET theme_id = t.id FROM mechanisms_mechanismtheme t
           WHERE c.id = (SELECT max(id) FROM mechanisms_cmoconfiguration WHERE mechanism_id IS NOT NULL)
             AND t.mechanism_id <> c.mechanism_id"""
    )
    assert cur.rowcount == 1
    cur.execute("ALTER TABLE mechanisms_cmoconfiguration DISABLE TRIGGER mechanisms_cmoconfiguration_search_vector_update")
    cur.execute("UPDATE mechanisms_cmoconfiguration SET search_vector = to_tsvector('simple', 'stale')")
    failures = generate.check(cur)
    assert any(f.startswith("excerpt text equals its source") and f"id {excerpt_id}" in f for f in failures), failures
    assert any(f.startswith("theme belongs to the configuration's mechanism: 1 rows") for f in failures), failures
    assert any(f.startswith("mechanisms_cmoconfiguration.search_vector is what its trigger computes") for f in failures)
