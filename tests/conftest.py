"""Fixtures shared by the whole suite: users per role, a small knowledge base, a real browser."""

import os
import re
from datetime import date

import pytest
from django.contrib.auth.models import Group

from cmo_kb.vocabulary import ANALYST_GROUP, EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP, ReviewStatus

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


ROLE_OF_GROUP = {EVALUATOR_GROUP: "evaluator", LEAD_EVALUATOR_GROUP: "lead", ANALYST_GROUP: "analyst"}


def api_list_path(prefix, programme="ctg"):
    """The list path of a router prefix: a nested resource's URL parameter (a programme's members,
    ``programmes/(?P<programme_slug>[^/.]+)/members``) filled with ``programme``."""
    return re.sub(r"\(\?P<programme_slug>[^)]*\)", programme, prefix)


def home_programme():
    """The programme the suite's knowledge base lives in: `ctg`, public, as the corpus has it."""
    from projects.models import Programme

    programme, _ = Programme.objects.get_or_create(
        slug="ctg", defaults={"name": "Closing the Gap", "funder": "The Health Foundation", "is_public": True}
    )
    return programme


def join(user, programme, role):
    """Make `user` a member of `programme` with `role` (lead, evaluator or analyst)."""
    from projects.models import ProgrammeMembership

    ProgrammeMembership.objects.update_or_create(programme=programme, user=user, defaults={"role": role})
    if hasattr(user, "_kb_roles"):
        del user._kb_roles
    return user


def _make_user(django_user_model, username, group=None, is_staff=False, is_superuser=False, programme=None):
    """A user of a role (an auth group), a member of `programme` (default: the home programme) in
    that role."""
    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    user.is_staff = is_staff
    user.is_superuser = is_superuser
    user.save()
    if group:
        user.groups.add(Group.objects.get(name=group))
        join(user, programme or home_programme(), ROLE_OF_GROUP[group])
    return user


@pytest.fixture(scope="session", autouse=True)
def fast_password_hasher():
    """The suite makes a few users per test: PBKDF2's million rounds cost 0.2 s a user, several
    minutes a run. The tests are about who may do what, not about hashing (Django's own tests use
    MD5 for the same reason); the app's setting is untouched."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def high_throttle_rates(settings):
    """Rate limits are real in the app; in tests they are high so nothing flakes on them.
    tests/api/test_throttling.py lowers them on purpose.

    The counts live in a per-process cache here, so the query-count tests pin the app's own queries
    (the database cache, the app's default, costs about four per throttle per request), and a test
    without database access can still clear it. tests/foundation/test_shared_cache.py runs
    the throttles on the database cache, across processes."""
    from django.core.cache import cache

    settings.CACHES = {**settings.CACHES,
                       "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"},
                       # Import progress (evidence/import_runs.py) of this process only: test runs of
                       # other checkouts share the temporary directory, and their run numbers.
                       "import_progress": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                           "LOCATION": "tests-import-progress"}}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "user": "100000/minute"},
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def immediate_tasks(settings):
    """Background imports (evidence/import_runs.py) run at once, in the request that starts them, so
    tests are deterministic; tests/imports/test_import_runs.py runs the database backend's worker."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    yield


def token_client(user):
    """An API client authenticated by a fresh token of `user`, as analysts' scripts are."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=user).key)
    return client


@pytest.fixture
def anon_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def analyst_client(analyst):
    return token_client(analyst)


@pytest.fixture
def evaluator_client(evaluator):
    return token_client(evaluator)


@pytest.fixture
def lead_client(lead):
    return token_client(lead)


@pytest.fixture
def evaluator(db, django_user_model):
    return _make_user(django_user_model, "eva", EVALUATOR_GROUP, is_staff=True)


@pytest.fixture
def lead(db, django_user_model):
    return _make_user(django_user_model, "leo", LEAD_EVALUATOR_GROUP, is_staff=True)


@pytest.fixture
def analyst(db, django_user_model):
    return _make_user(django_user_model, "ana", ANALYST_GROUP)


@pytest.fixture
def admin_user(db, django_user_model):
    return _make_user(django_user_model, "root", is_staff=True, is_superuser=True)


SMALL_SOURCE_TEXT = (
    "Introduction.\n"
    "Patients on the unit said: 'I feel more in control of my own dialysis now.' "
    "(Shared Haemodialysis Care, patient)\n"
    "Staff in A&E welcomed the team because it helped them meet the four-hour target.\n"
    "Café staff noted the naïve view: 'We were worried our jobs would go.' (Shared Haemodialysis Care, staff member)\n"
)


@pytest.fixture
def fixtures_copy(tmp_path, settings):
    """A private copy of fixtures/ (ctg/ and sources/) that settings.CTG_FIXTURES_DIR points at, for
    tests that change a fixture file (tests/seed, tests/synthesis)."""
    import shutil

    root = tmp_path / "fixtures"
    shutil.copytree(settings.CTG_FIXTURES_DIR, root, ignore=shutil.ignore_patterns("*.md"))
    settings.CTG_FIXTURES_DIR = root
    return root


@pytest.fixture
def kb(db):
    """A small, hand-countable knowledge base.

    2 teams (shc, pathway); 2 mechanisms (patient-beliefs with theme targeting, professional-beliefs);
    4 Wish dimensions (power only has poles here), 2 quality domains, 1 source with 3 excerpts;
    3 configurations: shc-control (published, triggered, enabler, shc, patient-beliefs),
    shc-fear (published, disabled, barrier, shc, patient-beliefs), pathway-targets (draft, triggered,
    enabler, pathway, professional-beliefs).
    """
    from evidence.models import EvidenceExcerpt, EvidenceLink, Source, SourceKind, SpeakerRole
    from mechanisms.models import (
        CMOConfiguration,
        Context,
        EnablingMechanism,
        MechanismTheme,
        Outcome,
        OutcomeKind,
        Pathway,
        RelationshipPair,
        WishDimension,
        WishPole,
        WishShift,
    )
    from projects.models import Programme, QualityDomain, RelationshipLevel, Team

    ns = type("KB", (), {})()
    ns.programme = home_programme()
    mine = {"programme": ns.programme}
    ns.shc = Team.objects.create(programme=ns.programme, slug="shc", name="Shared Haemodialysis Care", short_name="SHC", order=1)
    ns.pathway_team = Team.objects.create(programme=ns.programme, slug="pathway", name="Pathway", short_name="Pathway", order=2)
    ns.safety = QualityDomain.objects.create(slug="safety", name="Safety", order=1)
    ns.person = QualityDomain.objects.create(slug="person-centredness", name="Person-centredness", order=2)
    ns.micro = RelationshipLevel.objects.create(slug="micro", name="Micro", order=1)
    ns.patient_beliefs = EnablingMechanism.objects.create(**mine, 
        slug="patient-beliefs", name="Changes to patient beliefs, attitudes and behaviours", short_name="Patient", order=1
    )
    ns.professional_beliefs = EnablingMechanism.objects.create(**mine, 
        slug="professional-beliefs", name="Changes to health professional beliefs, attitudes and behaviours",
        short_name="Professional", order=2,
    )
    ns.targeting = MechanismTheme.objects.create(**mine, mechanism=ns.patient_beliefs, slug="targeting", name="Targeting", order=1)
    ns.power = WishDimension.objects.create(slug="power", name="Power", order=1)
    ns.valence = WishDimension.objects.create(slug="valence", name="Valence", order=2)
    ns.dependence = WishPole.objects.create(dimension=ns.power, slug="dependence", name="Dependence", position=-1)
    ns.agency = WishPole.objects.create(dimension=ns.power, slug="agency", name="Agency", position=1)
    ns.hostile = WishPole.objects.create(dimension=ns.valence, slug="hostile", name="Competitive/hostile", position=-1)
    ns.friendly = WishPole.objects.create(dimension=ns.valence, slug="friendly", name="Cooperative/friendly", position=1)
    ns.clinician_patient = RelationshipPair.objects.create(slug="clinician-patient", name="Clinician–patient")
    ns.resigned = Context.objects.create(**mine, slug="resigned-dependence", name="Patients resigned to dependence on nurses")
    ns.four_hour = Context.objects.create(**mine, slug="four-hour-target", name="A&E four-hour waiting target")
    ns.relationship_kind = OutcomeKind.objects.create(slug="relationship-change", name="Relationship change")
    ns.self_care = Outcome.objects.create(**mine, slug="self-care", name="Patients take on self-care", kind=ns.relationship_kind)
    ns.refusal = Outcome.objects.create(**mine, slug="self-care-refused", name="Some patients refuse self-care", kind=ns.relationship_kind)
    ns.pathway_a = Pathway.objects.create(slug="a", letter="A", name="Intervention to quality")
    ns.report = SourceKind.objects.create(slug="evaluation-report", name="Evaluation report")
    ns.patient_role = SpeakerRole.objects.create(**mine, slug="patient", name="Patient")
    ns.staff_role = SpeakerRole.objects.create(**mine, slug="staff-member", name="Staff member")
    ns.source = Source.objects.create(
        slug="small-report", kind=ns.report, programme=ns.programme, title="A small report",
        date=date(2014, 6, 1), full_text=SMALL_SOURCE_TEXT,
    )

    def excerpt(slug, needle, **extra):
        start = SMALL_SOURCE_TEXT.index(needle)
        return EvidenceExcerpt.objects.create(
            slug=slug, source=ns.source, text=needle, start=start, end=start + len(needle), **extra
        )

    ns.q_control = excerpt(
        "q-control", "I feel more in control of my own dialysis now.", team=ns.shc, speaker_role=ns.patient_role,
        attribution="(Shared Haemodialysis Care, patient)", section="1 Introduction",
    )
    ns.q_jobs = excerpt(
        "q-jobs", "We were worried our jobs would go.", team=ns.shc, speaker_role=ns.staff_role,
        attribution="(Shared Haemodialysis Care, staff member)", section="1 Introduction",
    )
    ns.f_target = excerpt(
        "f-target", "Staff in A&E welcomed the team because it helped them meet the four-hour target.",
        team=ns.pathway_team, kind="evaluator_finding", section="1 Introduction",
    )

    def configuration(slug, teams, mechanism, status, **fields):
        c = CMOConfiguration.objects.create(programme=ns.programme, slug=slug, title=slug.replace("-", " ").capitalize(), mechanism=mechanism,
                                            status=status, statement=f"In C, M leads to O ({slug}).", **fields)
        c.teams.set(teams)
        return c

    ns.shc_control = configuration("shc-control", [ns.shc], ns.patient_beliefs, ReviewStatus.PUBLISHED,
                                   theme=ns.targeting, effect="triggered", influence="enabler")
    ns.shc_control.contexts.set([ns.resigned])
    ns.shc_control.outcomes.set([ns.self_care])
    ns.shc_control.quality_domains.set([ns.person])
    WishShift.objects.create(configuration=ns.shc_control, dimension=ns.power, toward=ns.agency, between=ns.clinician_patient)
    EvidenceLink.objects.create(excerpt=ns.q_control, configuration=ns.shc_control, stance="supports", part="outcome")

    ns.shc_fear = configuration("shc-fear", [ns.shc], ns.patient_beliefs, ReviewStatus.PUBLISHED,
                                effect="disabled", influence="barrier")
    ns.shc_fear.contexts.set([ns.resigned])
    ns.shc_fear.outcomes.set([ns.refusal])
    ns.shc_fear.quality_domains.set([ns.safety, ns.person])
    WishShift.objects.create(configuration=ns.shc_fear, dimension=ns.power, toward=ns.dependence, between=ns.clinician_patient)
    EvidenceLink.objects.create(excerpt=ns.q_jobs, configuration=ns.shc_fear, stance="supports", part="mechanism")

    ns.pathway_targets = configuration("pathway-targets", [ns.pathway_team], ns.professional_beliefs, ReviewStatus.DRAFT,
                                       effect="triggered", influence="enabler")
    ns.pathway_targets.contexts.set([ns.four_hour])
    ns.pathway_targets.outcomes.set([ns.self_care])
    EvidenceLink.objects.create(excerpt=ns.f_target, configuration=ns.pathway_targets, stance="supports", part="mechanism")
    return ns


def _browser_unavailable_reason():
    if not os.path.exists(CHROMIUM):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; never downloads a browser.

    Skips with a message when Chromium is absent, except where CMO_KB_REQUIRE_BROWSER is set (CI),
    where that is a failure.
    """
    reason = _browser_unavailable_reason()
    if reason:
        if os.environ.get("CMO_KB_REQUIRE_BROWSER", "").strip().lower() not in ("", "0", "false", "no", "off"):
            pytest.fail(f"Browser tests are required here but cannot run: {reason}")
        pytest.skip(f"Browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir():
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path
