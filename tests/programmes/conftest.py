"""Two programmes side by side: the suite's `kb` in ctg (public) and `other`, private, whose own
vocabulary reuses ctg's slugs (patient-beliefs, targeting, resigned-dependence, self-care, patient,
wave-1), and a user per role in each.

Users (ROLES): anonymous; ana / eva / leo are ctg's analyst, evaluator and lead (tests/conftest.py)
and strangers to `other`; oana / oeva / oleo are other's analyst, evaluator and lead and strangers
to ctg; mixed is an evaluator in ctg and the lead of other; root is a superuser.
"""

from datetime import date

import pytest

from tests.conftest import join, token_client

OTHER_TEXT = (
    "Other programme report.\n"
    "A ward sister said: 'Zebrafish rounds made the nurses listen to us.' (Other ward, sister)\n"
    "The evaluators found the huddle helped the night staff.\n"
)

# Who reads what (True: sees it). ctg is public: its published rows are everyone's; its drafts are
# its writers' (eva, leo, mixed) and root's. other is private: its members' (oana, oeva, oleo, mixed),
# root's; its drafts its writers' (oeva, oleo, mixed) and root's.
ROLES = ["anonymous", "ana", "oana", "eva", "oeva", "leo", "oleo", "mixed", "root"]
SEES_OTHER = {"oana", "oeva", "oleo", "mixed", "root"}
WRITES_CTG = {"eva", "leo", "mixed", "root"}
WRITES_OTHER = {"oeva", "oleo", "mixed", "root"}
LEADS_CTG = {"leo", "root"}
LEADS_OTHER = {"oleo", "mixed", "root"}
EVALUATORS = {"eva", "oeva", "leo", "oleo", "mixed", "root"}


@pytest.fixture
def other(kb, django_user_model):
    """The private programme `other` with clashing slugs, its evidence and configurations."""
    from evidence.models import EvaluationWave, EvidenceExcerpt, EvidenceLink, Source, SpeakerRole
    from mechanisms.models import CMOConfiguration, Context, EnablingMechanism, MechanismTheme, Outcome, WishShift
    from projects.models import Programme, Team

    ns = type("Other", (), {})()
    ns.programme = programme = Programme.objects.create(
        slug="other", name="Other programme", short_name="Other", funder="A funder", is_public=False)
    mine = {"programme": programme}
    ns.team = Team.objects.create(**mine, slug="oth-team", name="Other ward team", short_name="OWT", order=1)
    # Slugs ctg has too:
    ns.mechanism = EnablingMechanism.objects.create(**mine, slug="patient-beliefs", name="Other: patient beliefs",
                                                    short_name="OPatient", order=1)
    ns.theme = MechanismTheme.objects.create(**mine, mechanism=ns.mechanism, slug="targeting", name="Other targeting")
    ns.context = Context.objects.create(**mine, slug="resigned-dependence", name="Other: resigned wards")
    ns.outcome = Outcome.objects.create(**mine, slug="self-care", name="Other: self-care", kind=kb.relationship_kind)
    ns.role = SpeakerRole.objects.create(**mine, slug="patient", name="Other patient")
    ns.wave = EvaluationWave.objects.create(**mine, slug="wave-1", name="Other wave 1", number=1)
    # ... and slugs of its own:
    ns.only_context = Context.objects.create(**mine, slug="only-other", name="Night shifts")
    ns.source = Source.objects.create(**mine, slug="other-report", kind=kb.report, title="The other report",
                                      date=date(2020, 1, 1), full_text=OTHER_TEXT)
    quote = "Zebrafish rounds made the nurses listen to us."
    ns.quote = EvidenceExcerpt.objects.create(
        slug="o-quote", source=ns.source, text=quote, start=OTHER_TEXT.index(quote),
        end=OTHER_TEXT.index(quote) + len(quote), team=ns.team, speaker_role=ns.role, wave=ns.wave,
        attribution="(Other ward, sister)")
    finding = "The evaluators found the huddle helped the night staff."
    ns.finding = EvidenceExcerpt.objects.create(
        slug="o-finding", source=ns.source, text=finding, start=OTHER_TEXT.index(finding),
        end=OTHER_TEXT.index(finding) + len(finding), team=ns.team, kind="evaluator_finding")

    def configuration(slug, status, **fields):
        c = CMOConfiguration.objects.create(**mine, slug=slug, title=f"Zebrafish {slug}", mechanism=ns.mechanism,
                                            status=status, statement=f"In C, zebrafish M leads to O ({slug}).", **fields)
        c.teams.set([ns.team])
        c.contexts.set([ns.context])
        c.outcomes.set([ns.outcome])
        return c

    ns.published = configuration("other-published", "published", theme=ns.theme)
    WishShift.objects.create(configuration=ns.published, dimension=kb.power, toward=kb.agency, between=kb.clinician_patient)
    EvidenceLink.objects.create(excerpt=ns.quote, configuration=ns.published, stance="supports", part="mechanism")
    ns.draft = configuration("other-draft", "in_review")
    ns.draft.contexts.set([ns.only_context])
    EvidenceLink.objects.create(excerpt=ns.finding, configuration=ns.draft, stance="supports", part="context")

    def member(username, role):
        # In the auth group of the role too, as create_demo_users makes them (the admin and the review
        # workflow also ask for the group's model permissions).
        from django.contrib.auth.models import Group

        from cmo_kb.vocabulary import ANALYST_GROUP, EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP

        user = django_user_model.objects.create_user(username=username, password="pw-" + username)
        group = {"analyst": ANALYST_GROUP, "evaluator": EVALUATOR_GROUP, "lead": LEAD_EVALUATOR_GROUP}[role]
        user.groups.add(Group.objects.get(name=group))
        return join(user, programme, role)

    ns.oana, ns.oeva, ns.oleo = member("oana", "analyst"), member("oeva", "evaluator"), member("oleo", "lead")
    ns.mixed = member("mixed", "lead")
    join(ns.mixed, kb.programme, "evaluator")
    return ns


@pytest.fixture
def clients(kb, other, analyst, evaluator, lead, admin_user):
    """{role name: API client} for ROLES (token clients; anonymous has none)."""
    from rest_framework.test import APIClient

    users = {"ana": analyst, "eva": evaluator, "leo": lead, "oana": other.oana, "oeva": other.oeva,
             "oleo": other.oleo, "mixed": other.mixed, "root": admin_user}
    made = {name: token_client(user) for name, user in users.items()}
    made["anonymous"] = APIClient()
    return made


def results(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def slugs(response, key="slug"):
    return [row[key] for row in results(response)]
