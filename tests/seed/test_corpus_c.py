"""Seed C's corpus files: Pathway, myRecord, Speaking Up, M(ums) Power and the cross-team middle-range theories.

Checks the YAML itself (verbatim offsets, references, links, per-team minimums), that every bracketed
participant attribution the report prints for these four teams is loaded as an excerpt (computed from the
report's text, not from a list), and, through `load_ctg`, what lands in the database.
"""

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CTG = ROOT / "fixtures" / "ctg"
SOURCE = ROOT / "fixtures" / "sources" / "ctg-evaluation-2014.txt"

MY_TEAMS = ["pathway", "myrecord", "speaking-up", "mums-power"]
FILES = MY_TEAMS + ["cross-team"]
# how the report's bracketed attributions name each team
ATTRIBUTION_NAMES = {"pathway": "Pathway", "myrecord": "myRecord", "speaking-up": "Speaking Up", "mums-power": r"M\(ums\) Power"}
# participant quotes per team, counted by hand while reading the whole report (M(ums) Power has none)
EXPECTED_QUOTES = {"pathway": 8, "myrecord": 4, "speaking-up": 6, "mums-power": 0}
EXPECTED_EXCERPTS = {"pathway": 27, "myrecord": 22, "speaking-up": 15, "mums-power": 16, "cross-team": 38}
EXPECTED_CONFIGURATIONS = {"pathway": 7, "myrecord": 6, "speaking-up": 5, "mums-power": 8, "cross-team": 12}


@pytest.fixture(scope="module")
def text():
    return SOURCE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def corpus():
    return {name: yaml.safe_load((CTG / "corpus" / f"{name}.yaml").read_text(encoding="utf-8")) for name in FILES}


def _configurations(corpus):
    return [(name, c) for name, data in corpus.items() for c in data.get("configurations") or []]


def _quotes(corpus):
    return [e for data in corpus.values() for e in data.get("excerpts") or [] if e["kind"] == "participant_quote"]


def test_every_excerpt_is_verbatim(corpus, text):
    for name, data in corpus.items():
        excerpts = data.get("excerpts") or []
        assert len(excerpts) == EXPECTED_EXCERPTS[name], name
        for e in excerpts:
            assert e["source"] == "ctg-evaluation-2014"
            assert 0 <= e["start"] < e["end"] <= len(text), e["slug"]
            assert e["end"] == e["start"] + len(e["text"]), e["slug"]
            assert text[e["start"]:e["end"]] == e["text"], e["slug"]
            assert e["section"], e["slug"]


def test_excerpt_slugs_follow_the_convention_in_order_of_appearance(corpus):
    for name, data in corpus.items():
        series = {}
        for e in data.get("excerpts") or []:
            prefix = {"participant_quote": "q", "evaluator_finding": "f"}[e["kind"]]
            owner = e.get("team") or "programme"
            assert owner == (name if name != "cross-team" else "programme"), e["slug"]
            m = re.fullmatch(rf"{prefix}-{re.escape(owner)}-(\d\d)", e["slug"])
            assert m, e["slug"]
            series.setdefault((prefix, owner), []).append((e["start"], int(m.group(1))))
        for key, items in series.items():
            items.sort()
            assert [n for _, n in items] == list(range(1, len(items) + 1)), key


def test_quotes_carry_team_role_and_attribution_as_printed(corpus, text):
    counts = Counter(e["team"] for e in _quotes(corpus))
    assert dict(counts) == {t: n for t, n in EXPECTED_QUOTES.items() if n}
    for e in _quotes(corpus):
        assert e["speaker_role"] in {"patient", "staff-member", "team-member"}, e["slug"]
        # the quoted words without their quotation marks
        assert text[e["start"] - 1] == "'" and text[e["end"]] == "'", e["slug"]
        if e.get("attribution"):
            after = text[e["end"] + 1:e["end"] + 1 + 2 + len(e["attribution"])]
            assert after.lstrip().startswith(e["attribution"]), e["slug"]
        else:
            assert e.get("note"), f"{e['slug']}: an unattributed quote must say how the report introduces it"


def test_every_bracketed_attribution_naming_my_teams_is_loaded(corpus, text):
    """Computed from the report: every '(<team> CtG ..., role)' after a closing quote is one of our excerpts."""
    names = "|".join(ATTRIBUTION_NAMES.values())
    printed = [(m.start(), m.group(0)) for m in re.finditer(rf"\((?:{names})[^()]*?, [^()]+\)", text)]
    assert len(printed) == 8  # Pathway 2, myRecord 1, Speaking Up 5
    loaded = {(e["end"], e["attribution"]) for e in _quotes(corpus) if e.get("attribution")}
    for start, attribution in printed:
        closing = text.rfind("'", 0, start)
        assert text[closing + 1:start].strip() == "", attribution
        assert (closing, attribution) in loaded, f"quote before offset {start} {attribution} is not loaded"


def test_role_only_attributions_in_my_teams_passages_are_loaded(corpus, text):
    """'(team member)' after myRecord's advice and '(homeless patient)' after Pathway's patient."""
    role_only = [m for m in re.finditer(r"'\s*\((team member|staff member|patient|homeless patient)\)", text)]
    assert [m.group(1) for m in role_only] == ["homeless patient", "team member"]
    loaded = {e["end"] for e in _quotes(corpus)}
    for m in role_only:
        assert m.start() in loaded, m.group(0)


def test_literature_quotations_are_left_out(corpus, text):
    literature = ["any device, product, service or application with an IT element",
                  "relationships and interactions between people ... who are equal in ability",
                  "any framework aiming to analyse relationships",
                  "a deliberately initiated attempt to introduce new"]
    spans = [(e["start"], e["end"]) for data in corpus.values() for e in data.get("excerpts") or []]
    for phrase in literature:
        at = text.find(phrase)
        assert at != -1
        assert not any(s <= at < e for s, e in spans), phrase


def test_references_resolve(corpus, defined):
    for name, c in _configurations(corpus):
        where = f"{name}:{c['slug']}"
        assert set(c["teams"]) <= defined["teams"], where
        assert c["contexts"] and set(c["contexts"]) <= defined["contexts"], where
        assert c["outcomes"] and set(c["outcomes"]) <= defined["outcomes"], where
        assert c["mechanism"] in defined["mechanisms"], where
        assert defined["theme_of"][c["theme"]] == c["mechanism"], where
        assert c["effect"] in {"triggered", "disabled"} and c["influence"] in {"enabler", "barrier"}, where
        assert c["relationship_level"] in defined["relationship_levels"], where
        assert set(c["quality_domains"]) <= defined["quality_domains"], where
        assert set(c.get("pathways") or []) <= defined["pathways"], where
        assert c["confidence"] in {"high", "medium", "low"} and c["status"] == "published", where
        assert c["statement"].startswith("In "), where
        assert c["activity"] and c["activity"] != c["statement"], where
        for shift in c.get("wish_shifts") or []:
            assert defined["pole_of"][shift["toward"]] == shift["dimension"], where
            assert shift["between"] in defined["relationship_pairs"], where
        assert c["evidence"], where
        seen = set()
        for link in c["evidence"]:
            assert link["excerpt"] in defined["excerpt"], (where, link["excerpt"])
            assert link["stance"] in {"supports", "challenges", "illustrates"}, where
            assert link["part"] in {"context", "mechanism", "outcome"}, where
            assert (link["excerpt"], link["part"]) not in seen, where
            seen.add((link["excerpt"], link["part"]))
    for name, data in corpus.items():
        for entry in data.get("contexts") or []:
            assert entry["slug"].startswith(f"{name}-") or name == "cross-team", entry["slug"]
        for entry in data.get("outcomes") or []:
            assert entry["kind"] in defined["outcome_kinds"], entry["slug"]
            assert set(entry["quality_domains"]) <= defined["quality_domains"], entry["slug"]


def test_every_participant_quote_is_linked(corpus):
    linked = {link["excerpt"] for _, c in _configurations(corpus) for link in c["evidence"]}
    unlinked = [e["slug"] for e in _quotes(corpus) if e["slug"] not in linked]
    assert unlinked == []
    # and every excerpt of ours serves at least one configuration
    mine = [e["slug"] for data in corpus.values() for e in data.get("excerpts") or []]
    assert [s for s in mine if s not in linked] == []


def test_each_team_has_configurations_both_ways(corpus):
    for team in MY_TEAMS:
        configs = corpus[team]["configurations"]
        assert len(configs) == EXPECTED_CONFIGURATIONS[team] >= 4, team
        for c in configs:
            assert c["teams"] == [team], c["slug"]
            assert c["slug"].startswith(f"{team}-"), c["slug"]
        # what did not work is recorded as faithfully as what did
        assert {c["effect"] for c in configs} == {"triggered", "disabled"}, team
        assert {c["influence"] for c in configs} == {"enabler", "barrier"}, team


def test_wish_shifts_as_the_report_states_them(corpus):
    configs = {c["slug"]: c for _, c in _configurations(corpus)}
    four = configs["pathway-compassionate-care-homeless-patients"]["wish_shifts"]
    assert {(s["dimension"], s["toward"], s["between"]) for s in four} == {
        ("power", "agency", "clinician-patient"), ("valence", "friendly", "clinician-patient"),
        ("intensity", "high-intensity", "clinician-patient"), ("formality", "informal", "clinician-patient")}
    assert [(s["dimension"], s["toward"]) for s in configs["myrecord-targeting-engaged-patients"]["wish_shifts"]] == [("intensity", "high-intensity")]
    assert [(s["dimension"], s["toward"]) for s in configs["mums-power-informality-not-for-all"]["wish_shifts"]] == [("formality", "informal")]
    beyond = {s["between"] for s in configs["mrt-modelling-makes-change-tangible"]["wish_shifts"]}
    assert {"patient-patient", "staff-staff", "clinician-patient"} <= beyond
    assert configs["pathway-a-and-e-target-professional-engagement"]["pathways"] == ["a", "d"]
    assert configs["speaking-up-change-does-not-reach-quality"]["pathways"] == ["b", "c"]


def test_cross_team_middle_range_theories(corpus):
    configs = corpus["cross-team"]["configurations"]
    assert len(configs) == EXPECTED_CONFIGURATIONS["cross-team"] >= 5
    for c in configs:
        assert len(c["teams"]) >= 2, c["slug"]
        assert c["slug"].startswith("mrt-"), c["slug"]
    # the section 3 pathway theories are there, both ways round
    by_pathways = Counter(tuple(c.get("pathways") or []) for c in configs)
    assert by_pathways[("b", "c")] == 1 and by_pathways[("a", "d")] == 2
    # section 5 building blocks are never a configuration's mechanism (they are not in the mechanisms vocabulary)
    assert {c["mechanism"] for c in configs} <= {"patient-beliefs", "professional-beliefs", "systems-processes", "organisational-culture"}


# ---------------------------------------------------------------- the database, through load_ctg


@pytest.mark.django_db
def test_load_ctg_puts_seed_c_in_the_database(ctg, corpus):
    from evidence.models import EvidenceExcerpt, EvidenceLink
    from mechanisms.models import CMOConfiguration, ConfigurationPathway, WishShift

    for name in FILES:
        slugs = [e["slug"] for e in corpus[name]["excerpts"]]
        assert EvidenceExcerpt.objects.filter(slug__in=slugs).count() == EXPECTED_EXCERPTS[name]
        cslugs = [c["slug"] for c in corpus[name]["configurations"]]
        assert CMOConfiguration.objects.filter(slug__in=cslugs, status="published").count() == EXPECTED_CONFIGURATIONS[name]
    for team, n in EXPECTED_QUOTES.items():
        assert EvidenceExcerpt.objects.filter(team__slug=team, kind="participant_quote").count() == n
    mine = CMOConfiguration.objects.filter(slug__in=[c["slug"] for _, c in _configurations(corpus)])
    assert all(c.publication_problems() == [] for c in mine)
    assert EvidenceLink.objects.filter(configuration__in=mine).count() == sum(len(c["evidence"]) for _, c in _configurations(corpus))
    assert WishShift.objects.filter(configuration__in=mine).count() == sum(len(c.get("wish_shifts") or []) for _, c in _configurations(corpus))
    order = ConfigurationPathway.objects.filter(configuration__slug="pathway-a-and-e-target-professional-engagement").order_by("order")
    assert [cp.pathway.slug for cp in order] == ["a", "d"]
    quote = EvidenceExcerpt.objects.get(slug="q-speaking-up-02")
    assert "only so many\n\nhours in the day" in quote.text  # the page break stays in the verbatim text
    assert quote.attribution == "(Speaking Up CtG team, staff member)" and quote.speaker_role.slug == "staff-member"
    cross = CMOConfiguration.objects.get(slug="mrt-one-to-one-change-does-not-scale")
    assert cross.teams.count() == 7
