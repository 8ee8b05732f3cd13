"""Issue 14's Closing the Gap data as load_ctg carries it: each configuration's mechanism as resource
and reasoning where the report says so (backed by mechanism evidence), the chains between
configurations with their notes and evidence, idempotent reloads, and broken chains refused whole."""

import re

import pytest

from evidence.models import EvidenceLink, Part, Stance
from mechanisms.models import CMOConfiguration, ConfigurationChain
from tests.seed.test_load_ctg import broken, history_rows, load, row_counts, totals

pytestmark = pytest.mark.django_db

RECORDED_RESOURCE = 55
RECORDED_REASONING = 49
CHAINS = 13


# --- resource and reasoning ------------------------------------------------------------------


def test_resource_and_reasoning_are_recorded_where_the_report_says_so(ctg):
    configurations = CMOConfiguration.objects.filter(programme__slug="ctg")
    assert configurations.count() == 63
    assert configurations.exclude(resource="").count() == RECORDED_RESOURCE
    assert configurations.exclude(reasoning="").count() == RECORDED_REASONING
    # A reasoning responds to a resource: none is recorded without one.
    assert not configurations.filter(resource="").exclude(reasoning="").exists()
    # Where the report says nothing of them, both stay empty (the page shows "Not recorded").
    silent = configurations.get(slug="mrt-small-samples-limit-evidence")
    assert (silent.resource, silent.reasoning) == ("", "")


def test_every_recorded_mechanism_has_mechanism_evidence(ctg):
    recorded = CMOConfiguration.objects.exclude(resource="", reasoning="")
    backed = set(
        EvidenceLink.objects.filter(configuration__in=recorded, part=Part.MECHANISM,
                                    stance__in=[Stance.SUPPORTS, Stance.ILLUSTRATES])
        .values_list("configuration__slug", flat=True)
    )
    assert set(recorded.values_list("slug", flat=True)) == backed


def test_the_resource_is_not_the_activity(ctg):
    for slug, activity, resource in CMOConfiguration.objects.exclude(resource="").values_list("slug", "activity", "resource"):
        assert resource != activity, slug


@pytest.mark.parametrize("slug, field, words", [
    ("shc-staff-cutting-fear", "reasoning", "nurses' jobs at risk"),
    ("psw-role-models-for-service-users", "reasoning", "'an embodiment of hope'"),
    ("camhs-reflection-not-tools", "reasoning", "fired up"),
    ("pathway-economic-evidence-convinces", "resource", "bed days and (re)admissions"),
    ("speaking-up-change-does-not-reach-quality", "reasoning", "a barrier between the Trust and the complainant"),
])
def test_recorded_words_come_from_the_linked_evidence(ctg, slug, field, words):
    configuration = CMOConfiguration.objects.get(slug=slug)
    assert words in getattr(configuration, field)
    texts = EvidenceLink.objects.filter(configuration=configuration).values_list("excerpt__text", flat=True)
    assert any(words.strip("'") in text for text in texts)


# --- chains ----------------------------------------------------------------------------------


def test_the_chains_the_report_supports_are_loaded(ctg):
    assert ConfigurationChain.objects.count() == CHAINS
    link = ConfigurationChain.objects.get(from_configuration__slug="pathway-a-and-e-target-professional-engagement",
                                          to_configuration__slug="pathway-economic-evidence-convinces")
    assert link.note.startswith("Pathway A then D.")
    assert sorted(link.evidence.values_list("slug", flat=True)) == ["f-pathway-04", "f-pathway-13"]
    assert link.history.get().history_change_reason == "load_ctg"
    counterexample = ConfigurationChain.objects.get(from_configuration__slug="speaking-up-rebuilding-confidence-in-complaints")
    assert counterexample.to_configuration.slug == "speaking-up-change-does-not-reach-quality"


def test_every_chain_stays_within_a_team_and_quotes_its_evidence(ctg):
    for link in ConfigurationChain.objects.prefetch_related("evidence", "from_configuration__teams", "to_configuration__teams"):
        teams = set(link.from_configuration.teams.all()) & set(link.to_configuration.teams.all())
        assert teams, f"{link}: the two configurations share no team"
        texts = " ".join(excerpt.text for excerpt in link.evidence.all())
        quotes = re.findall(r'"([^"]+)"', link.note)
        assert quotes, f"{link}: the note quotes the report"
        for quote in quotes:
            for part in quote.split(" ... "):
                assert part.strip() in texts, f"{link}: {part!r} is not in its evidence"


def test_a_reload_changes_nothing(ctg):
    before_rows, before_history = row_counts(), history_rows()
    output = load()
    created, updated, _, conflicts = totals(output)
    assert (created, updated, conflicts) == (0, 0, 0)
    assert re.search(rf"mechanisms\.ConfigurationChain\s+0\s+0\s+{CHAINS}\s+0", output)
    assert re.search(r"mechanisms\.CMOConfiguration\s+0\s+0\s+63\s+0", output)
    assert (row_counts(), history_rows()) == (before_rows, before_history)


def test_a_curators_change_to_a_chain_is_a_conflict(ctg):
    link = ConfigurationChain.objects.get(from_configuration__slug="psw-staff-fear-for-jobs")
    link.note = "A curator's note."
    link.save()
    output = load()
    assert "conflict: mechanisms.ConfigurationChain psw-staff-fear-for-jobs → psw-working-alongside-changes-staff-views: " \
           "changed since the last load (note)" in output
    link.refresh_from_db()
    assert link.note == "A curator's note."


def test_a_new_chain_in_a_dry_run_is_counted_not_written(ctg, fixtures_copy):
    (fixtures_copy / "ctg" / "zz-new.yaml").write_text("""
chains:
  - from: camhs-goal-forms-codify-the-relationship
    to: camhs-evidence-and-voices-convince-staff
    evidence: [q-camhs-02]
""", encoding="utf-8")
    output = load("--dry-run")
    assert re.search(rf"mechanisms\.ConfigurationChain\s+1\s+0\s+{CHAINS}\s+0", output)
    assert ConfigurationChain.objects.count() == CHAINS


# --- broken chains ---------------------------------------------------------------------------


def test_a_chain_to_an_unknown_configuration_is_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
chains:
  - from: no-such-configuration
    to: pathway-compassionate-care-homeless-patients
    evidence: [f-pathway-05, no-such-excerpt]
""")
    where = "ctg/zz-broken.yaml › chains › no-such-configuration → pathway-compassionate-care-homeless-patients"
    assert f"{where} › from: unknown configurations slug 'no-such-configuration'." in message
    assert f"{where} › evidence: unknown excerpts slug 'no-such-excerpt'." in message


def test_a_chain_closing_a_cycle_is_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
chains:
  - from: pathway-aligned-organisational-priorities
    to: pathway-a-and-e-target-professional-engagement
    note: Would close pathway-a-and-e → economic evidence → priorities → pathway-a-and-e.
""")
    assert ("ctg/zz-broken.yaml › chains › pathway-aligned-organisational-priorities → "
            "pathway-a-and-e-target-professional-engagement › to: This link would close a cycle: "
            "pathway-aligned-organisational-priorities → pathway-a-and-e-target-professional-engagement → "
            "pathway-economic-evidence-convinces → pathway-aligned-organisational-priorities.") in message


def test_a_duplicate_chain_and_a_missing_end_are_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
chains:
  - from: psw-staff-fear-for-jobs
    to: psw-working-alongside-changes-staff-views
  - from: camhs-limited-reach
""")
    assert ("zz-broken.yaml › chains › psw-staff-fear-for-jobs → psw-working-alongside-changes-staff-views: duplicate "
            "entry 'psw-staff-fear-for-jobs → psw-working-alongside-changes-staff-views': also defined in "
            "fixtures/ctg/chains.yaml.") in message
    assert "zz-broken.yaml › chains › (no slug) › from and to: entry 2 has no from and to." in message


def test_a_chain_to_itself_is_refused(ctg, fixtures_copy):
    message = broken(fixtures_copy, """
chains:
  - from: camhs-limited-reach
    to: camhs-limited-reach
""")
    assert "zz-broken.yaml › chains › camhs-limited-reach → camhs-limited-reach › to: A configuration cannot lead to itself." in message
