from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from cmo_kb.vocabulary import RULE, CuratedQuerySet, Curated, NaturalKeyManager, ProgrammeTerm, ReviewStatus, VocabularyTerm
from mechanisms.confidence import CERQualAssessment, assessment_errors


class EnablingMechanism(ProgrammeTerm):
    """One of the report's four enabling mechanisms (section 4)."""

    short_name = models.CharField(max_length=80, blank=True)
    examples = models.TextField(blank=True, help_text="The report's examples of this mechanism.")

    history = HistoricalRecords()

    class Meta(ProgrammeTerm.Meta):
        pass

    def get_absolute_url(self):
        """Costs a query unless the programme is loaded (select_related, or set by the page)."""
        return f"/programmes/{self.programme.slug}/mechanisms/{self.slug}/"


class MechanismTheme(ProgrammeTerm):
    """A sub-heading of section 4 under a mechanism, e.g. 'Targeting'."""

    mechanism = models.ForeignKey(EnablingMechanism, on_delete=models.PROTECT, related_name="themes")

    history = HistoricalRecords()

    class Meta(ProgrammeTerm.Meta):
        ordering = ["mechanism__order", "order", "name"]

    def __str__(self):
        return f"{self.name} ({self.mechanism.short_name or self.mechanism.name})"

    def save(self, *args, **kwargs):
        if self.programme_id is None and self.mechanism_id:
            self.programme_id = self.mechanism.programme_id  # a theme is of its mechanism's programme
        super().save(*args, **kwargs)

    def clean(self):
        if self.mechanism_id and self.programme_id and self.mechanism.programme_id != self.programme_id:
            raise ValidationError({"mechanism": ValidationError(
                f"Mechanism '{self.mechanism.name}' belongs to another programme.", code=RULE)})


class WishDimension(VocabularyTerm):
    """One of Wish's four relationship dimensions; each is a spectrum between two poles."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass

    def get_absolute_url(self):
        return f"/wish/{self.slug}/"


class WishPole(VocabularyTerm):
    """One end of a Wish dimension, e.g. power: 'dependence' and 'agency'."""

    dimension = models.ForeignKey(WishDimension, on_delete=models.CASCADE, related_name="poles")
    position = models.SmallIntegerField(
        choices=[(-1, "First pole"), (1, "Second pole")],
        help_text="Which end of the spectrum: -1 for the first, +1 for the second (used to draw profiles).",
    )

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        ordering = ["dimension__order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "position"], name="wish_pole_position_once"),
        ]

    def __str__(self):
        return f"{self.dimension.name}: {self.name}"


class RelationshipPair(VocabularyTerm):
    """Between whom a relationship shifts, e.g. clinician–patient, staff–staff, patient–patient."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


class Context(ProgrammeTerm):
    """A circumstance that decides whether a mechanism fires (people, organisation, culture, policy)."""

    category = models.CharField(max_length=80, blank=True, help_text="e.g. patient, professional, organisational, policy")

    history = HistoricalRecords()

    class Meta(ProgrammeTerm.Meta):
        pass


class OutcomeKind(VocabularyTerm):
    """Relationship change, quality, patient, professional or system outcome."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


class Outcome(ProgrammeTerm):
    kind = models.ForeignKey(OutcomeKind, on_delete=models.PROTECT, related_name="outcomes")
    quality_domains = models.ManyToManyField("projects.QualityDomain", related_name="outcomes", blank=True)

    history = HistoricalRecords(m2m_fields=[quality_domains])

    class Meta(ProgrammeTerm.Meta):
        pass


class Pathway(VocabularyTerm):
    """A RAND Europe pathway (A–D) between intervention, relationship change and quality."""

    letter = models.CharField(max_length=2, unique=True)
    example_team = models.ForeignKey(
        "projects.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="example_pathways"
    )
    example = models.TextField(blank=True, help_text="The report's worked example for this pathway.")

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        ordering = ["letter"]

    def __str__(self):
        return f"Pathway {self.letter}: {self.name}"


class EssentialBuildingBlock(VocabularyTerm):
    """A precondition (section 5), not a mechanism: project management, leadership, engagement..."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


class Framework(VocabularyTerm):
    """A theoretical framework used as reference material, e.g. Normalisation Process Theory."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


class FrameworkConcept(VocabularyTerm):
    """A construct of a framework: an NPT construct, a diffusion attribute."""

    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="concepts")
    note = models.TextField(blank=True, help_text="Curator's note, e.g. on how the source presents it.")

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        ordering = ["framework__order", "order", "name"]


class ConceptMapping(models.Model):
    """A crosswalk entry: one of a programme's own terms is a case of a shared framework concept
    ("CtG's 'changes to professional beliefs' is a case of professional buy-in"), so configurations
    of different programmes compare on the shared axis. Exactly one term is set."""

    TERMS = ("mechanism", "theme", "context", "outcome")

    programme = models.ForeignKey("projects.Programme", on_delete=models.CASCADE, related_name="concept_mappings")
    concept = models.ForeignKey(FrameworkConcept, on_delete=models.PROTECT, related_name="mappings")
    mechanism = models.ForeignKey(EnablingMechanism, null=True, blank=True, on_delete=models.CASCADE, related_name="mappings")
    theme = models.ForeignKey(MechanismTheme, null=True, blank=True, on_delete=models.CASCADE, related_name="mappings")
    context = models.ForeignKey(Context, null=True, blank=True, on_delete=models.CASCADE, related_name="mappings")
    outcome = models.ForeignKey(Outcome, null=True, blank=True, on_delete=models.CASCADE, related_name="mappings")
    note = models.TextField(blank=True, help_text="Why the term is a case of the concept.")

    history = HistoricalRecords()

    programme_path = "programme"

    class Meta:
        ordering = ["programme", "concept"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(mechanism__isnull=False, theme__isnull=True, context__isnull=True, outcome__isnull=True)
                    | models.Q(mechanism__isnull=True, theme__isnull=False, context__isnull=True, outcome__isnull=True)
                    | models.Q(mechanism__isnull=True, theme__isnull=True, context__isnull=False, outcome__isnull=True)
                    | models.Q(mechanism__isnull=True, theme__isnull=True, context__isnull=True, outcome__isnull=False)
                ),
                name="concept_mapping_one_term",
                violation_error_message="A mapping maps exactly one term: a mechanism, a theme, a context or an outcome.",
            ),
        ] + [
            models.UniqueConstraint(fields=[term, "concept"], name=f"concept_mapping_{term}_once",
                                    condition=models.Q(**{f"{term}__isnull": False}))
            for term in ("mechanism", "theme", "context", "outcome")
        ]

    @property
    def term(self):
        return next((getattr(self, name) for name in self.TERMS if getattr(self, f"{name}_id")), None)

    def __str__(self):
        return f"{self.term} is a case of {self.concept}"

    def clean(self):
        term = self.term
        if term is not None and self.programme_id and term.programme_id != self.programme_id:
            name = next(name for name in self.TERMS if getattr(self, f"{name}_id"))
            raise ValidationError({name: ValidationError(
                f"'{term.slug}' belongs to another programme, not '{self.programme.slug}'.", code=RULE)})


class Effect(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    DISABLED = "disabled", "Disabled"


class Influence(models.TextChoices):
    """Whether the configuration describes an enabler of change or a barrier to it."""

    ENABLER = "enabler", "Enabler"
    BARRIER = "barrier", "Barrier"


class Confidence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class CMOConfigurationQuerySet(CuratedQuerySet):
    def with_publication_parts(self):
        """Annotate what publication_problems() asks, so a list of rows answers it without a query a row."""
        from evidence.models import EvidenceLink

        def linked(relation):
            through = relation.through
            return models.Exists(through.objects.filter(cmoconfiguration_id=models.OuterRef("pk")))

        return self.annotate(
            publication_has_contexts=linked(CMOConfiguration.contexts),
            publication_has_outcomes=linked(CMOConfiguration.outcomes),
            publication_has_evidence_links=models.Exists(EvidenceLink.objects.filter(configuration_id=models.OuterRef("pk"))),
        )

    def refresh_search_text(self):
        """Recompute search_text (contexts' and outcomes' names) for these rows. Costs three queries."""
        ids = list(self.values_list("pk", flat=True))
        if not ids:
            return
        words = {pk: [] for pk in ids}
        for relation in (CMOConfiguration.contexts, CMOConfiguration.outcomes):
            through = relation.through
            target = relation.field.m2m_reverse_field_name()
            for pk, name in (
                through.objects.filter(cmoconfiguration_id__in=ids)
                .order_by(f"{target}__order", f"{target}__name")
                .values_list("cmoconfiguration_id", f"{target}__name")
            ):
                words[pk].append(name)
        self.model.objects.bulk_update(
            [self.model(pk=pk, search_text="\n".join(names)) for pk, names in words.items()], ["search_text"]
        )


class CMOConfiguration(Curated, CERQualAssessment):
    """'In context C, mechanism M (triggered or disabled) leads to outcome O', with its evidence."""

    slug = models.SlugField(max_length=120, unique=True)
    programme = models.ForeignKey("projects.Programme", on_delete=models.PROTECT, related_name="configurations")
    title = models.CharField(max_length=300)
    teams = models.ManyToManyField(
        "projects.Team", related_name="configurations", blank=True,
        help_text="One team, or several for a cross-team middle-range theory.",
    )
    contexts = models.ManyToManyField(Context, related_name="configurations", blank=True)
    activity = models.TextField(blank=True, help_text="The activity that offered the resource (not the mechanism).")
    # The mechanism as resource and reasoning (Dalkin et al. 2015): what the programme offered, and the
    # response it triggered (or failed to) in people, kept apart from the activity that delivered it.
    resource = models.TextField(blank=True, default="", db_default="", help_text="The resource the programme offered (Dalkin et al. 2015).")
    reasoning = models.TextField(blank=True, default="", db_default="", help_text="The reasoning or response the resource triggered in people.")
    mechanism = models.ForeignKey(
        EnablingMechanism, null=True, blank=True, on_delete=models.PROTECT, related_name="configurations"
    )
    theme = models.ForeignKey(MechanismTheme, null=True, blank=True, on_delete=models.PROTECT, related_name="configurations")
    effect = models.CharField(max_length=10, choices=Effect, default=Effect.TRIGGERED)
    outcomes = models.ManyToManyField(Outcome, related_name="configurations", blank=True)
    pathways = models.ManyToManyField(Pathway, through="ConfigurationPathway", related_name="configurations", blank=True)
    relationship_level = models.ForeignKey(
        "projects.RelationshipLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="configurations"
    )
    quality_domains = models.ManyToManyField("projects.QualityDomain", related_name="configurations", blank=True)
    influence = models.CharField(
        max_length=10, choices=Influence, default=Influence.ENABLER, help_text="Barrier or enabler."
    )
    statement = models.TextField(help_text="In C, M leads to O.")
    confidence = models.CharField(max_length=10, choices=Confidence, default=Confidence.MEDIUM)
    status = models.CharField(max_length=12, choices=ReviewStatus, default=ReviewStatus.DRAFT, db_index=True)
    notes = models.TextField(blank=True)
    # Full-text search (evidence/search.py). search_text holds the contexts' and outcomes' names,
    # kept current by the m2m/post_save receivers at the end of this module, so one row carries every
    # word a configuration is found by. search_vector is filled by a PostgreSQL trigger (migration
    # mechanisms/0002) from title, statement, activity and search_text, with a GIN index; it stays
    # NULL on SQLite, where search falls back to icontains.
    search_text = models.TextField(blank=True, default="", editable=False)
    search_vector = SearchVectorField(null=True, editable=False)

    objects = CMOConfigurationQuerySet.as_manager()
    history = HistoricalRecords(
        m2m_fields=[teams, contexts, outcomes, quality_domains], excluded_fields=["search_text", "search_vector"]
    )

    class Meta:
        ordering = ["slug"]
        verbose_name = "CMO configuration"
        # The public pages' totals (home, lists, a mechanism's counts) read status, effect, influence
        # and mechanism of every published row: with this index they are index-only scans instead of
        # reading the wide rows (statement, search vector) at 100k configurations.
        indexes = [
            models.Index(fields=["status", "programme", "mechanism", "effect", "influence", "id"],
                         name="configuration_status_counts"),
        ]
        permissions = [("publish_cmoconfiguration", "Can publish and unpublish CMO configurations")]

    programme_path = "programme"

    def __str__(self):
        return self.title

    def natural_key(self):
        return (self.slug,)

    @property
    def get_absolute_url(self):
        """The public page of a published configuration. A draft or one in review has none (no such
        attribute), so the admin offers it no "View on site" that would lead to a 404. Calling it
        costs a query unless the programme is loaded (select_related, or set by the page)."""
        if self.status != ReviewStatus.PUBLISHED:
            raise AttributeError("Only a published configuration has a public page.")
        return lambda: f"/programmes/{self.programme.slug}/configurations/{self.slug}/"

    def clean(self):
        errors = {}
        if self.programme_id:
            for name in ("mechanism", "theme"):
                term = getattr(self, name) if getattr(self, f"{name}_id") else None
                if term is not None and term.programme_id != self.programme_id:
                    errors[name] = ValidationError(
                        f"{term._meta.verbose_name.capitalize()} '{term.slug}' belongs to another programme, "
                        f"not '{self.programme.slug}'.", code=RULE)
        # The GRADE-CERQual assessment's rules (mechanisms/confidence.py).
        errors.update({field: ValidationError(message, code=RULE) for field, message in assessment_errors(self).items()})
        if errors:
            raise ValidationError(errors)
        if self.theme_id and self.mechanism_id and self.theme.mechanism_id != self.mechanism_id:
            errors["theme"] = ValidationError(
                f"Theme '{self.theme.name}' belongs to another mechanism, not '{self.mechanism.name}'.", code=RULE
            )
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # A configuration named without its programme is of its mechanism's (or theme's) programme.
        if self.programme_id is None:
            owner = self.mechanism if self.mechanism_id else self.theme if self.theme_id else None
            if owner is not None:
                self.programme_id = owner.programme_id
        super().save(*args, **kwargs)

    def publication_problems(self):
        """What stops this configuration from being published (or submitted for review). Costs up to
        three queries, none on a row read with CMOConfigurationQuerySet.with_publication_parts()."""
        def has(relation):
            annotated = getattr(self, f"publication_has_{relation}", None)
            if annotated is not None:
                return annotated
            return self.pk is not None and getattr(self, relation).exists()

        problems = []
        if not self.mechanism_id:
            problems.append("it has no mechanism")
        if not has("contexts"):
            problems.append("it has no context")
        if not has("outcomes"):
            problems.append("it has no outcome")
        if not has("evidence_links"):
            problems.append("it has no evidence link")
        return problems



class ConfigurationPathway(models.Model):
    """A RAND pathway a configuration follows; order keeps 'A then D'."""

    programme_path = "configuration__programme"

    configuration = models.ForeignKey(CMOConfiguration, on_delete=models.CASCADE)
    pathway = models.ForeignKey(Pathway, on_delete=models.PROTECT)
    order = models.PositiveSmallIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["configuration", "order"]
        constraints = [
            models.UniqueConstraint(fields=["configuration", "pathway"], name="configuration_pathway_once"),
        ]

    def __str__(self):
        return f"{self.configuration}: pathway {self.pathway.letter}"


class WishShift(models.Model):
    """A shift along a Wish dimension toward one of its poles, between whom."""

    programme_path = "configuration__programme"

    configuration = models.ForeignKey(CMOConfiguration, on_delete=models.CASCADE, related_name="wish_shifts")
    dimension = models.ForeignKey(WishDimension, on_delete=models.PROTECT, related_name="shifts")
    toward = models.ForeignKey(WishPole, on_delete=models.PROTECT, related_name="shifts", help_text="The pole it moves toward.")
    between = models.ForeignKey(RelationshipPair, on_delete=models.PROTECT, related_name="shifts")
    note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["configuration", "dimension__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["configuration", "dimension", "between"], name="wish_shift_once_per_dimension_and_pair"
            ),
        ]

    def __str__(self):
        return f"{self.dimension.name} toward {self.toward.name} ({self.between.name})"

    def clean(self):
        if self.toward_id and self.dimension_id and self.toward.dimension_id != self.dimension_id:
            raise ValidationError({"toward": ValidationError(
                f"'{self.toward.name}' is a pole of {self.toward.dimension.name}, not of {self.dimension.name}.", code=RULE
            )})


# Keep CMOConfiguration.search_text current when contexts/outcomes are linked, unlinked or renamed.
# (loaddata sets m2m through the related manager, so these fire for fixtures too.)
from django.db.models.signals import m2m_changed, post_save  # noqa: E402


def _refresh_configurations_m2m(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "pre_clear" and reverse:
        instance._search_clear_ids = list(instance.configurations.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        ids = [instance.pk]
    elif action == "post_clear":
        ids = getattr(instance, "_search_clear_ids", [])
    else:
        ids = list(pk_set or [])
    CMOConfiguration.objects.filter(pk__in=ids).refresh_search_text()


def _refresh_configurations_on_rename(sender, instance, raw=False, **kwargs):
    if raw:
        return
    CMOConfiguration.objects.filter(**{f"{sender._meta.model_name}s": instance}).refresh_search_text()


m2m_changed.connect(_refresh_configurations_m2m, sender=CMOConfiguration.contexts.through, dispatch_uid="cmo_search_contexts")
m2m_changed.connect(_refresh_configurations_m2m, sender=CMOConfiguration.outcomes.through, dispatch_uid="cmo_search_outcomes")
post_save.connect(_refresh_configurations_on_rename, sender=Context, dispatch_uid="cmo_search_context_rename")
post_save.connect(_refresh_configurations_on_rename, sender=Outcome, dispatch_uid="cmo_search_outcome_rename")


# The assessment's rules at save, for every door (mechanisms/confidence.py).
from django.db.models.signals import pre_save  # noqa: E402

from mechanisms import confidence  # noqa: E402

pre_save.connect(confidence._guard, sender=CMOConfiguration, dispatch_uid="cmo_cerqual_rules")


# Chains: the outcome of one configuration is the context of the next (mechanisms/chains.py).
from mechanisms.chains import ConfigurationChain  # noqa: E402,F401

# Comments on configurations, for their programme's evaluators and leads (mechanisms/comments.py).
from mechanisms.comments import ConfigurationComment  # noqa: E402,F401

# Programme theories and their versions (mechanisms/theories.py).
from mechanisms.theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry  # noqa: E402,F401
