"""Printed attributions on real passages of the corpus (shared/seed/000_c2902d1168a9bae5.txt, the same
text as fixtures/sources/ctg-evaluation-2014.txt), with the teams and their aliases of
fixtures/ctg/teams.yaml and the speaker roles of fixtures/ctg/vocabulary.yaml (unsaved rows: the
parser reads names only)."""

from pathlib import Path

import pytest
import yaml

from evidence.attribution import find_attribution

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "fixtures/sources/ctg-evaluation-2014.txt").read_text(encoding="utf-8")


def _teams():
    from projects.models import Team

    rows = yaml.safe_load((ROOT / "fixtures/ctg/teams.yaml").read_text(encoding="utf-8"))["teams"]
    return [Team(slug=row["slug"], name=row["name"], short_name=row.get("short_name", ""), aliases=row.get("aliases", []))
            for row in rows]


def _roles():
    from evidence.models import SpeakerRole

    rows = yaml.safe_load((ROOT / "fixtures/ctg/vocabulary.yaml").read_text(encoding="utf-8"))["vocabularies"]["speaker_roles"]
    return [SpeakerRole(slug=row["slug"], name=row["name"]) for row in rows]


TEAMS, ROLES = _teams(), _roles()


def attribution_of(passage, include_bracket=True):
    start = TEXT.index(passage)
    end = start + len(passage)
    return find_attribution(TEXT, start, end, TEAMS, ROLES)


@pytest.mark.parametrize("passage, printed, team, role", [
    # The quote and its bracket selected together (the passage ends with it).
    ("'We were fired up and felt energised from the first session.' (CAMHS CtG team, staff member)",
     "(CAMHS CtG team, staff member)", "camhs", "staff-member"),
    # The quote alone: the bracket printed right after it.
    ("'Take it slowly and don't jump in. You need to be methodical and have the right people in place.'",
     "(Pathway CtG team, staff member)", "pathway", "staff-member"),
    # "Peer Support Workers" for the team the fixtures call "Peer Support Worker".
    ("have more of a say on how they live their lives.'", "(Peer Support Workers CtG team, staff member)",
     "peer-support-workers", "staff-member"),
    ("relationships drive quality improvements.' (CAMHS CtG team, project staff member)",
     "(CAMHS CtG team, project staff member)", "camhs", "project-staff-member"),
    ("The whole thing seems to be an amateur attempt to use IT.'", "(myRecord CtG project, patient)", "myrecord", "patient"),
    # A full stop the PDF left after the bracket.
    ("We made a video about using the tool to try and spread the message.' (CAMHS CtG team, staff member).",
     "(CAMHS CtG team, staff member)", "camhs", "staff-member"),
])
def test_printed_attributions_give_team_role_and_text(passage, printed, team, role):
    found = attribution_of(passage)
    assert found is not None
    assert (found.text, found.team.slug, found.speaker_role.slug) == (printed, team, role)


def test_the_shared_haemodialysis_care_attributions_without_ctg_team():
    starts = [i for i in range(len(TEXT)) if TEXT.startswith("(Shared Haemodialysis Care, staff member)", i)]
    assert len(starts) == 3
    for start in starts:
        found = find_attribution(TEXT, start - 40, start + len("(Shared Haemodialysis Care, staff member)"), TEAMS, ROLES)
        assert found.team.slug == "shared-haemodialysis-care" and found.speaker_role.slug == "staff-member"


@pytest.mark.parametrize("passage", [
    "(for example, bed days, length of stay, waiting time)",  # brackets naming no team and no role
    "Take it slowly and don't jump in.",  # the bracket is not directly after it
])
def test_other_brackets_and_passages_are_not_attributions(passage):
    assert attribution_of(passage) is None


def test_a_role_the_vocabulary_lacks_is_the_longest_role_it_ends_with():
    roles = [role for role in ROLES if role.slug != "project-staff-member"]
    passage = "relationships drive quality improvements.' (CAMHS CtG team, project staff member)"
    start = TEXT.index(passage)
    found = find_attribution(TEXT, start, start + len(passage), TEAMS, roles)
    assert found.speaker_role.slug == "staff-member"
