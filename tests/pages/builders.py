"""Data builders for the page tests and the page browser tests (plain functions, so both can use them)."""

from cmo_kb.vocabulary import ReviewStatus


def grow(kb, n=3):
    """Add n published configurations (each with context, outcome, quality domain, Wish shift,
    pathway and two evidence links) to SHC, a second quality domain link, a key figure, and one
    more draft. Returns the new published configurations."""
    from evidence.models import EvidenceLink
    from mechanisms.models import CMOConfiguration, ConfigurationPathway, Context, Outcome, WishShift
    from projects.models import KeyFigure, Team, TeamQualityDomain

    created = []
    start = CMOConfiguration.objects.count()
    for i in range(start, start + n):
        c = CMOConfiguration.objects.create(
            slug=f"grown-{i}", title=f"Grown configuration {i}", mechanism=kb.patient_beliefs, theme=kb.targeting,
            effect="disabled" if i % 2 else "triggered", influence="barrier" if i % 2 else "enabler",
            status=ReviewStatus.PUBLISHED, statement=f"In C{i}, M leads to O{i}.",
        )
        c.teams.set([kb.shc, kb.pathway_team] if i % 3 == 0 else [kb.shc])
        c.contexts.set([Context.objects.create(programme=kb.programme, slug=f"grown-context-{i}", name=f"Grown context {i}"), kb.resigned])
        c.outcomes.set([Outcome.objects.create(programme=kb.programme, slug=f"grown-outcome-{i}", name=f"Grown outcome {i}", kind=kb.relationship_kind)])
        c.quality_domains.set([kb.safety, kb.person])
        WishShift.objects.create(configuration=c, dimension=kb.power, toward=kb.agency, between=kb.clinician_patient)
        WishShift.objects.create(configuration=c, dimension=kb.valence, toward=kb.friendly, between=kb.clinician_patient)
        ConfigurationPathway.objects.create(configuration=c, pathway=kb.pathway_a)
        EvidenceLink.objects.create(excerpt=kb.q_control, configuration=c, part="context")
        EvidenceLink.objects.create(excerpt=kb.q_jobs, configuration=c, part="outcome")
        created.append(c)
    team = Team.objects.create(
        programme=kb.programme, slug=f"grown-team-{start}", name=f"Grown team {start}", short_name=f"Grown {start}", order=9
    )
    TeamQualityDomain.objects.get_or_create(team=kb.shc, quality_domain=kb.safety, defaults={"basis": "inferred"})
    TeamQualityDomain.objects.create(team=team, quality_domain=kb.safety, evidence=kb.q_jobs)
    KeyFigure.objects.create(team=kb.shc, slug=f"grown-figure-{start}", label="dialysis units", value=26,
                             display="26", evidence=kb.q_control, order=start)
    draft = CMOConfiguration.objects.create(
        slug=f"grown-draft-{start}", title=f"Unpublished draft {start}", mechanism=kb.patient_beliefs,
        status=ReviewStatus.IN_REVIEW, statement="A draft in review.",
    )
    draft.teams.set([kb.shc])
    draft.quality_domains.set([kb.safety])
    WishShift.objects.create(configuration=draft, dimension=kb.power, toward=kb.dependence, between=kb.clinician_patient)
    EvidenceLink.objects.create(excerpt=kb.q_jobs, configuration=draft, part="mechanism")
    return created


def fill_story(kb):
    """`kb` with SHC's improvement story, key figure, quality domains and a draft's traces filled in."""
    from mechanisms.models import WishShift
    from projects.models import KeyFigure, TeamQualityDomain

    shc = kb.shc
    shc.objective = "Provide the opportunity for patients to undertake some tasks associated with their haemodialysis"
    shc.target = "Patients having inpatient haemodialysis care"
    shc.scope = "Yorkshire and Humber renal network covering six renal centres"
    shc.delivery = "Educational materials for patients and support from nurses"
    shc.background = "The Sharing Haemodialysis Care programme ran across the renal network."
    shc.aims = "Empower patients to be active partners in their own care."
    shc.achievements = "Patients became more knowledgeable about their conditions."
    shc.organisation = "Yorkshire and Humber renal network"
    shc.aliases = ["SHC", "Sharing Haemodialysis Care"]
    shc.save()
    KeyFigure.objects.create(team=shc, slug="shc-units", label="dialysis units", value=26, display="26", evidence=kb.q_control)
    TeamQualityDomain.objects.create(team=shc, quality_domain=kb.person, basis="stated", evidence=kb.q_control)
    TeamQualityDomain.objects.create(team=shc, quality_domain=kb.safety, basis="inferred")
    # The draft leaves traces that must never show: a Wish shift and a quality domain.
    WishShift.objects.create(configuration=kb.pathway_targets, dimension=kb.valence, toward=kb.hostile, between=kb.clinician_patient)
    kb.pathway_targets.quality_domains.set([kb.safety])
    kb.programme.headline_messages = ["Changing relationships must be understood in context.", "Activities are not mechanisms."]
    kb.programme.summary = "Seven projects were funded to change relationships."
    kb.programme.save()
    return kb


MUMS_SOURCE_TEXT = (
    "Findings.\n"
    "A mother said: 'Nobody listened to us before the group started.' (Peer Mums, mother)\n"
    "Midwives found the group changed how appointments went.\n"
)


def second_programme(kb, slug="mums", is_public=False):
    """A second programme beside `kb`'s ctg: private by default, with slugs that clash with ctg's
    (its own `patient-beliefs` mechanism with a `targeting` theme, `resigned-dependence` context,
    `self-care` outcome, `patient` speaker role), one team (peer-mums), a source with a quote
    (q-mums), a published configuration (mums-voice: triggered enabler, Safety, Power toward
    agency) and a draft (mums-draft). Returns a namespace of the rows."""
    from datetime import date

    from evidence.models import EvaluationWave, EvidenceExcerpt, EvidenceLink, Source, SpeakerRole
    from mechanisms.models import CMOConfiguration, Context, EnablingMechanism, MechanismTheme, Outcome, WishShift
    from projects.models import Programme, Team

    ns = type("Second", (), {})()
    ns.programme = Programme.objects.create(
        slug=slug, name="Mums' Power", short_name="Mums", funder="The Maternity Trust", evaluator="Peer Research Ltd",
        start_year=2019, end_year=2022, is_public=is_public,
    )
    mine = {"programme": ns.programme}
    ns.team = Team.objects.create(**mine, slug=f"{slug}-peer-mums", name="Peer Mums Network", short_name="Peer Mums", order=1)
    ns.mechanism = EnablingMechanism.objects.create(
        **mine, slug="patient-beliefs", name="Mothers' beliefs about their own voice", short_name="Mothers", order=1,
    )
    ns.theme = MechanismTheme.objects.create(**mine, mechanism=ns.mechanism, slug="targeting", name="Peer targeting", order=1)
    ns.context = Context.objects.create(**mine, slug="resigned-dependence", name="Mothers resigned to what services offer")
    ns.outcome = Outcome.objects.create(**mine, slug="self-care", name="Mothers speak up at appointments",
                                        kind=kb.relationship_kind)
    ns.role = SpeakerRole.objects.create(**mine, slug="patient", name="Mother")
    ns.wave = EvaluationWave.objects.create(**mine, slug="wave-1", name="First wave", number=1)
    ns.source = Source.objects.create(slug=f"{slug}-report", kind=kb.report, programme=ns.programme,
                                      title="The Mums' Power report", date=date(2022, 3, 1), full_text=MUMS_SOURCE_TEXT)
    needle = "Nobody listened to us before the group started."
    start = MUMS_SOURCE_TEXT.index(needle)
    ns.quote = EvidenceExcerpt.objects.create(
        slug=f"{slug}-q-listened", source=ns.source, text=needle, start=start, end=start + len(needle), team=ns.team,
        speaker_role=ns.role, wave=ns.wave, attribution="(Peer Mums, mother)", section="Findings",
    )

    def configuration(config_slug, status, **fields):
        c = CMOConfiguration.objects.create(
            **mine, slug=config_slug, title=config_slug.replace("-", " ").capitalize(), mechanism=ns.mechanism,
            status=status, statement=f"In C, M leads to O ({config_slug}).", **fields,
        )
        c.teams.set([ns.team])
        c.contexts.set([ns.context])
        c.outcomes.set([ns.outcome])
        return c

    ns.published = configuration(f"{slug}-voice", ReviewStatus.PUBLISHED, theme=ns.theme, effect="triggered",
                                 influence="enabler")
    ns.published.quality_domains.set([kb.safety])
    WishShift.objects.create(configuration=ns.published, dimension=kb.power, toward=kb.agency, between=kb.clinician_patient)
    EvidenceLink.objects.create(excerpt=ns.quote, configuration=ns.published, stance="supports", part="mechanism")
    ns.draft = configuration(f"{slug}-draft", ReviewStatus.DRAFT, effect="disabled", influence="barrier")
    ns.draft.quality_domains.set([kb.safety])
    return ns
