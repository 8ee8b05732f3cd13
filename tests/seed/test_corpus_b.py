"""Seed B's corpus files: Shared Haemodialysis Care, CAMHS and Peer Support Workers.

Checks the YAML itself (verbatim offsets, references, links, per-team minimums) and that every participant
attribution the report prints for these three teams is loaded as an excerpt, computed from the report's text.
"""

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
CTG = FIXTURES / "ctg"
SOURCE = FIXTURES / "sources" / "ctg-evaluation-2014.txt"

# team slug -> (corpus file, how the report's bracketed attributions name the team)
TEAMS = {
    "shared-haemodialysis-care": ("shared-haemodialysis-care.yaml", r"Shared Haemodialysis Care"),
    "camhs": ("camhs.yaml", r"CAMHS"),
    "peer-support-workers": ("peer-support-workers.yaml", r"Peer Support Workers?"),
}
EXPECTED_QUOTES = {"shared-haemodialysis-care": 11, "camhs": 12, "peer-support-workers": 9}


@pytest.fixture(scope="module")
def text():
    return SOURCE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def corpus():
    return {team: yaml.safe_load((CTG / "corpus" / name).read_text(encoding="utf-8")) for team, (name, _) in TEAMS.items()}


def _entries(section, data):
    return data.get(section) or []


def test_every_excerpt_is_verbatim(corpus, text):
    checked = 0
    for team, data in corpus.items():
        for e in _entries("excerpts", data):
            assert e["source"] == "ctg-evaluation-2014"
            assert 0 <= e["start"] < e["end"] <= len(text), e["slug"]
            assert e["end"] == e["start"] + len(e["text"]), e["slug"]
            assert text[e["start"]:e["end"]] == e["text"], e["slug"]
            assert e["team"] in TEAMS, e["slug"]
            checked += 1
    assert checked == 105


def test_excerpt_slugs_follow_the_convention(corpus):
    for team, data in corpus.items():
        quotes = [e for e in data["excerpts"] if e["kind"] == "participant_quote"]
        findings = [e for e in data["excerpts"] if e["kind"] == "evaluator_finding"]
        assert {e["kind"] for e in data["excerpts"]} == {"participant_quote", "evaluator_finding"}
        for prefix, items in (("q", quotes), ("f", findings)):
            items = sorted(items, key=lambda e: e["start"])
            assert [e["slug"] for e in items] == [f"{prefix}-{team}-{n:02d}" for n in range(1, len(items) + 1)]
        assert len(quotes) == EXPECTED_QUOTES[team]
        for q in quotes:
            assert q["speaker_role"], q["slug"]
            assert q["text"][0] not in "'\u2018" and q["text"][-1] not in "'\u2019", q["slug"]


def test_no_slug_is_defined_twice_across_fixture_files(defined):
    twice = {key: files for key, files in defined["_files"].items() if len(files) > 1}
    assert twice == {}


def test_every_reference_resolves(corpus, defined):
    for team, data in corpus.items():
        excerpt_slugs = {e["slug"] for e in data["excerpts"]}
        for e in data["excerpts"]:
            assert e["section"], e["slug"]
            if e.get("speaker_role"):
                assert e["speaker_role"] in defined["speaker_roles"], e["slug"]
        for o in _entries("outcomes", data):
            assert o["kind"] in defined["outcome_kinds"], o["slug"]
            assert set(o["quality_domains"]) <= defined["quality_domains"], o["slug"]
        for c in data["configurations"]:
            where = c["slug"]
            assert set(c["teams"]) <= defined["teams"] and team in c["teams"], where
            assert set(c["contexts"]) <= defined["contexts"], (where, set(c["contexts"]) - defined["contexts"])
            assert set(c["outcomes"]) <= defined["outcomes"], (where, set(c["outcomes"]) - defined["outcomes"])
            assert c["mechanism"] in defined["mechanisms"], where
            assert defined["theme_of"][c["theme"]] == c["mechanism"], where
            assert c["effect"] in ("triggered", "disabled"), where
            assert c["influence"] in ("enabler", "barrier"), where
            assert c["confidence"] in ("high", "medium", "low"), where
            assert c["status"] == "published", where
            assert c["relationship_level"] in defined["relationship_levels"], where
            assert set(c["quality_domains"]) <= defined["quality_domains"], where
            assert set(c.get("pathways") or []) <= defined["pathways"], where
            assert c["activity"] and c["statement"], where
            pairs = set()
            for shift in c.get("wish_shifts") or []:
                assert defined["pole_of"][shift["toward"]] == shift["dimension"], where
                assert shift["between"] in defined["relationship_pairs"], where
                pairs.add((shift["dimension"], shift["between"]))
            assert len(pairs) == len(c.get("wish_shifts") or []), where
            links = [(link["excerpt"], link["part"]) for link in c["evidence"]]
            assert len(set(links)) == len(links), where
            for link in c["evidence"]:
                assert link["excerpt"] in excerpt_slugs, (where, link["excerpt"])
                assert link["stance"] in ("supports", "challenges", "illustrates"), where
                assert link["part"] in ("context", "mechanism", "outcome"), where


def test_each_team_has_at_least_four_complete_configurations(corpus):
    for team, data in corpus.items():
        configurations = data["configurations"]
        assert len(configurations) >= 4, team
        for c in configurations:
            assert c["contexts"] and c["outcomes"] and c["evidence"], c["slug"]
        # the report's barriers are recorded, not only its enablers
        assert Counter(c["influence"] for c in configurations)["barrier"] >= 2, team
        assert Counter(c["effect"] for c in configurations)["disabled"] >= 2, team


def test_every_participant_quote_is_linked(corpus):
    for team, data in corpus.items():
        linked = {link["excerpt"] for c in data["configurations"] for link in c["evidence"]}
        quotes = {e["slug"] for e in data["excerpts"] if e["kind"] == "participant_quote"}
        assert quotes - linked == set(), team


def test_every_printed_attribution_for_these_teams_is_loaded(corpus, text):
    """Computed from the report: each '(<team> CtG team|project, role)' or '(Shared Haemodialysis Care, role)'."""
    for team, (_, name) in TEAMS.items():
        pattern = re.compile(r"\((?:%s)(?: CtG (?:team|project))?, [a-z ]+\)" % name)
        printed = [(m.start(), m.group(0)) for m in pattern.finditer(text)]
        # a looser net: any bracket naming the team and ending in a role, however the team is spelt around it
        loose = re.compile(r"\([^()]{0,40}(?:%s)[^()]{0,40}, (?:[a-z]+ )?(?:staff|team) member\)|"
                           r"\([^()]{0,40}(?:%s)[^()]{0,40}, patient\)" % (name, name))
        assert [m.start() for m in loose.finditer(text)] == [start for start, _ in printed], team
        loaded = {(e["end"] + 2, e.get("attribution", "")) for e in corpus[team]["excerpts"]
                  if e["kind"] == "participant_quote"}
        assert printed, team
        assert set(printed) <= loaded, (team, set(printed) - loaded)
        bracketed = {item for item in loaded if item[1].startswith("(")}
        assert bracketed == set(printed), team


def test_the_shc_staff_cutting_barrier_is_recorded_as_disabled(corpus):
    by_slug = {c["slug"]: c for c in corpus["shared-haemodialysis-care"]["configurations"]}
    c = by_slug["shc-staff-cutting-fear"]
    assert (c["mechanism"], c["theme"], c["effect"], c["influence"]) == (
        "patient-beliefs", "patient-motivation-to-engage", "disabled", "barrier")
    assert "shc-patients-resist-shared-care" in c["outcomes"]
    assert [s["dimension"] for s in c["wish_shifts"]] == ["power"]
    quotes = {link["excerpt"] for link in c["evidence"]}
    assert "q-shared-haemodialysis-care-03" in quotes


# --- after `load_ctg` (the module-scoped `ctg` fixture in tests/seed/conftest.py loads everything once) ---------


@pytest.mark.django_db
def test_loaded_configurations_match_the_files_for_these_teams(ctg, corpus, django_assert_num_queries):
    from evidence.models import EvidenceExcerpt, EvidenceLink
    from django.db.models import Prefetch

    from mechanisms.models import CMOConfiguration, ConfigurationPathway

    expected_counts = {"shared-haemodialysis-care": 8, "camhs": 9, "peer-support-workers": 8}
    for team, data in corpus.items():
        slugs = [c["slug"] for c in data["configurations"]]
        assert len(slugs) == expected_counts[team]
        loaded = (
            CMOConfiguration.objects.filter(slug__in=slugs)
            .select_related("mechanism", "theme", "relationship_level")
            .prefetch_related(
                "teams", "contexts", "outcomes", "quality_domains", "wish_shifts", "evidence_links",
                Prefetch("configurationpathway_set", queryset=ConfigurationPathway.objects.select_related("pathway")),
            )
        )
        # 8 queries: configurations, then one each for teams, contexts, outcomes, quality domains, wish shifts,
        # evidence links, configuration pathways (with their pathway joined)
        with django_assert_num_queries(8):
            by_slug = {c.slug: c for c in loaded}
            assert set(by_slug) == set(slugs), team
            for c in data["configurations"]:
                db = by_slug[c["slug"]]
                assert db.status == "published"
                assert (db.mechanism.slug, db.theme.slug, db.effect, db.influence) == (
                    c["mechanism"], c["theme"], c["effect"], c["influence"])
                assert db.relationship_level.slug == c["relationship_level"]
                assert sorted(t.slug for t in db.teams.all()) == sorted(c["teams"])
                assert sorted(x.slug for x in db.contexts.all()) == sorted(c["contexts"])
                assert sorted(x.slug for x in db.outcomes.all()) == sorted(c["outcomes"])
                assert sorted(x.slug for x in db.quality_domains.all()) == sorted(c["quality_domains"])
                assert len(db.wish_shifts.all()) == len(c.get("wish_shifts") or [])
                assert len(db.evidence_links.all()) == len(c["evidence"])
                ordered = sorted(db.configurationpathway_set.all(), key=lambda cp: cp.order)
                assert [cp.pathway.slug for cp in ordered] == (c.get("pathways") or [])
        # a team's configurations in the database include at least these (cross-team ones come on top)
        assert CMOConfiguration.objects.published().filter(teams__slug=team).count() >= expected_counts[team]

        quotes = EvidenceExcerpt.objects.filter(team__slug=team, kind="participant_quote")
        assert quotes.count() == EXPECTED_QUOTES[team]
        unlinked = quotes.exclude(pk__in=EvidenceLink.objects.values("excerpt"))
        assert list(unlinked.values_list("slug", flat=True)) == []


@pytest.mark.django_db
def test_loaded_shc_staff_cutting_quote_keeps_its_attribution_and_offsets(ctg, text):
    from evidence.models import EvidenceExcerpt

    quote = EvidenceExcerpt.objects.select_related("speaker_role", "team").get(slug="q-shared-haemodialysis-care-03")
    assert quote.attribution == "(Shared Haemodialysis Care, patient)"
    assert (quote.team.slug, quote.speaker_role.slug) == ("shared-haemodialysis-care", "patient")
    assert quote.text.startswith("One thing I keep hearing over and over again")
    assert text[quote.start:quote.end] == quote.text
    assert "shc-staff-cutting-fear" in set(quote.links.values_list("configuration__slug", flat=True))
