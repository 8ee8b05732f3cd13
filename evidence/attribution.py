"""Printed attributions: "(Shared Haemodialysis Care CtG team, staff member)" at the end of a quote.

The report prints who spoke after each participant quote, in brackets: a team (by its name or one of
the aliases the sources use, often with "CtG team" or "CtG project" after it) and a speaker role. The
workspace (evidence/workspace.py) fills an excerpt's team, speaker role and attribution from it when
a passage ends with one, or when one follows the passage directly (the evaluator selected the quote
and left the bracket out). Brackets that name neither a known team nor a known role ("(for example,
bed days, length of stay, waiting time)") are not attributions.
"""

import re
from dataclasses import dataclass

from django.utils.text import slugify

# "(who, role)" then, at most, a full stop the PDF left after the bracket.
_AT_END = re.compile(r"\((?P<who>[^()\n]{2,120}?),\s*(?P<role>[^()\n,]{2,60}?)\s*\)\s*\.?\s*$")
# What may separate a passage from an attribution printed after it: a closing quote mark, spaces.
_AFTER = re.compile(r"^[\s'’\"”.]{0,4}(?P<bracket>\((?P<who>[^()\n]{2,120}?),\s*(?P<role>[^()\n,]{2,60}?)\s*\))")
_TEAM_SUFFIX = re.compile(r"\s+CtG\s+(?:team|project)$", re.IGNORECASE)
LOOK_AHEAD = 200


@dataclass
class Attribution:
    text: str  # as printed, brackets included
    team: object = None  # projects.Team or None
    speaker_role: object = None  # evidence.SpeakerRole or None


def _norm(text):
    return " ".join(str(text).split()).casefold()


def match_team(who, teams):
    """The team `who` names (its name, short name or an alias, with or without "CtG team")."""
    wanted = {_norm(who), _norm(_TEAM_SUFFIX.sub("", " ".join(who.split())))}
    for team in teams:
        names = {_norm(team.name), _norm(team.short_name), *(_norm(alias) for alias in team.aliases or ())}
        names |= {_norm(_TEAM_SUFFIX.sub("", name)) for name in list(names)}
        # "Peer Support Workers" for "Peer Support Worker": the report writes both.
        names |= {name + "s" for name in list(names)}
        if wanted & names:
            return team
    return None


def match_role(role, roles):
    """The speaker role `role` names: by name or slug, else the longest role name it ends with
    ("project staff member" is a staff member)."""
    text = _norm(role)
    for candidate in roles:
        if text in (_norm(candidate.name), candidate.slug) or slugify(role) == candidate.slug:
            return candidate
    ending = [c for c in roles if text.endswith(" " + _norm(c.name))]
    return max(ending, key=lambda c: len(c.name)) if ending else None


def find_attribution(full_text, start, end, teams, roles):
    """The attribution the passage full_text[start:end] ends with, or that follows it directly; None
    if there is none (or the brackets name no known team and no known role)."""
    passage = full_text[start:end]
    found = _AT_END.search(passage)
    if found is not None:
        printed = found.group(0).strip()
        printed = printed[: printed.rindex(")") + 1]
    else:
        found = _AFTER.match(full_text[end : end + LOOK_AHEAD])
        if found is None:
            return None
        printed = found.group("bracket")
    who, role = found.group("who"), found.group("role")
    team, speaker_role = match_team(who, teams), match_role(role, roles)
    if team is None and speaker_role is None:
        return None
    return Attribution(text=" ".join(printed.split()), team=team, speaker_role=speaker_role)
