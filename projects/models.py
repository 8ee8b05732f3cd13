from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from cmo_kb.vocabulary import Curated, NaturalKeyManager, VocabularyTerm


class Programme(Curated):
    """A funded programme, e.g. the Health Foundation's Closing the Gap through Changing Relationships."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=300)
    short_name = models.CharField(max_length=80, blank=True)
    funder = models.CharField(max_length=200, blank=True)
    evaluator = models.CharField(max_length=200, blank=True, help_text="Who evaluated the programme.")
    start_year = models.PositiveIntegerField(null=True, blank=True)
    end_year = models.PositiveIntegerField(null=True, blank=True)
    summary = models.TextField(blank=True, help_text="The programme in brief.")
    headline_messages = models.JSONField(default=list, blank=True, help_text="The evaluation's headline messages, in order.")
    is_public = models.BooleanField(
        default=False,
        help_text="Public: anyone reads its published configurations. Private: only its members see it, or that it exists.",
    )
    frameworks = models.ManyToManyField(
        "mechanisms.Framework", related_name="programmes", blank=True,
        help_text="The shared frameworks from the literature this evaluation uses.",
    )

    objects = NaturalKeyManager()
    history = HistoricalRecords(m2m_fields=[frameworks])

    programme_path = "pk"

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_year__isnull=True)
                | models.Q(end_year__isnull=True)
                | models.Q(start_year__lte=models.F("end_year")),
                name="programme_years_in_order",
                violation_error_message="The programme cannot end before it starts.",
            )
        ]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.slug,)

    def get_absolute_url(self):
        return f"/programmes/{self.slug}/"


class Role(models.TextChoices):
    """A member's role in one programme."""

    LEAD = "lead", "Lead evaluator"
    EVALUATOR = "evaluator", "Evaluator"
    ANALYST = "analyst", "Analyst"


class ProgrammeMembership(models.Model):
    """A user's role in a programme: leads publish there, evaluators write there, analysts read it
    (a private programme is visible to its members only). Superusers are members everywhere."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="programme_memberships")
    role = models.CharField(max_length=12, choices=Role, default=Role.EVALUATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    programme_path = "programme"

    class Meta:
        ordering = ["programme", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "user"], name="programme_member_once",
                violation_error_message="This user is already a member of this programme.",
            ),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} in {self.programme}"


class QualityDomain(VocabularyTerm):
    """One of the Institute of Medicine's six dimensions of quality."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


class RelationshipLevel(VocabularyTerm):
    """Appendix 1's three levels at which relationships are changed."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


class Team(Curated):
    """A funded project team and its improvement story (Figure 4 and Appendix 3)."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="teams")
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=300)
    short_name = models.CharField(max_length=80)
    aliases = models.JSONField(default=list, blank=True, help_text="Other names the sources use for this team.")
    organisation = models.CharField(max_length=300, blank=True, help_text="Lead organisation.")
    # Figure 4
    objective = models.TextField(blank=True)
    target = models.TextField(blank=True)
    scope = models.TextField(blank=True)
    delivery = models.TextField(blank=True)
    # Appendix 3: the improvement story
    background = models.TextField(blank=True)
    aims = models.TextField(blank=True, help_text="What were they trying to do?")
    achievements = models.TextField(blank=True, help_text="What did they achieve?")
    order = models.PositiveIntegerField(default=0)
    qda_guid = models.CharField(
        max_length=36, blank=True,
        help_text="The case's GUID in the REFI-QDA project the team was imported from (exported again as is).")

    quality_domains = models.ManyToManyField(QualityDomain, through="TeamQualityDomain", related_name="teams", blank=True)
    relationship_levels = models.ManyToManyField(
        RelationshipLevel, through="TeamRelationshipLevel", related_name="teams", blank=True
    )

    objects = NaturalKeyManager()
    history = HistoricalRecords()

    programme_path = "programme"

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "short_name"], name="team_short_name_unique_in_programme"),
        ]

    def __str__(self):
        return self.short_name or self.name

    def natural_key(self):
        return (self.slug,)

    def get_absolute_url(self):
        """Costs a query unless the programme is loaded (select_related, or set by the page)."""
        return f"/programmes/{self.programme.slug}/teams/{self.slug}/"


class Basis(models.TextChoices):
    """Whether the source says so in as many words, or the curator inferred it."""

    STATED = "stated", "Stated"
    INFERRED = "inferred", "Inferred"


class TeamQualityDomain(models.Model):
    programme_path = "team__programme"

    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    quality_domain = models.ForeignKey(QualityDomain, on_delete=models.PROTECT)
    basis = models.CharField(max_length=10, choices=Basis, default=Basis.STATED)
    note = models.TextField(blank=True)
    evidence = models.ForeignKey("evidence.EvidenceExcerpt", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["team", "quality_domain"]
        constraints = [
            models.UniqueConstraint(fields=["team", "quality_domain"], name="team_quality_domain_once"),
        ]

    def __str__(self):
        return f"{self.team} – {self.quality_domain} ({self.get_basis_display().lower()})"


class TeamRelationshipLevel(models.Model):
    programme_path = "team__programme"

    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    relationship_level = models.ForeignKey(RelationshipLevel, on_delete=models.PROTECT)
    basis = models.CharField(max_length=10, choices=Basis, default=Basis.STATED)
    note = models.TextField(blank=True)
    evidence = models.ForeignKey("evidence.EvidenceExcerpt", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["team", "relationship_level"]
        constraints = [
            models.UniqueConstraint(fields=["team", "relationship_level"], name="team_relationship_level_once"),
        ]

    def __str__(self):
        return f"{self.team} – {self.relationship_level} ({self.get_basis_display().lower()})"


class KeyFigure(models.Model):
    """A number the source states about a team, tied to the excerpt that states it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="key_figures")
    slug = models.SlugField(max_length=80, unique=True)
    label = models.CharField(max_length=300, help_text="What is counted, e.g. 'reduction in bed days'.")
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    value_max = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Upper end when the source gives a range."
    )
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. %, GBP a year, posts, patients")
    display = models.CharField(max_length=120, help_text="The figure as printed, e.g. '£200,000–£500,000'.")
    evidence = models.ForeignKey("evidence.EvidenceExcerpt", on_delete=models.PROTECT, related_name="key_figures")
    order = models.PositiveIntegerField(default=0)

    objects = NaturalKeyManager()
    history = HistoricalRecords()

    programme_path = "team__programme"

    class Meta:
        ordering = ["team", "order", "slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_max__isnull=True) | models.Q(value__lte=models.F("value_max")),
                name="key_figure_range_in_order",
                violation_error_message="A key figure's upper value cannot be below its value.",
            )
        ]

    def __str__(self):
        return f"{self.team}: {self.display} {self.label}"

    def natural_key(self):
        return (self.slug,)


class SeedRecord(models.Model):
    """What `load_ctg` last wrote for one fixture entry, so a reload can tell a fixture change
    (database still holds what the loader wrote: update it) from a curator's change (database
    differs from what the loader wrote: report a conflict and leave it)."""

    model = models.CharField(max_length=100, help_text="Model label, e.g. 'projects.Team'.")
    key = models.CharField(max_length=200, help_text="The entry's natural key (slug).")
    values = models.JSONField(help_text="The normalised fixture values last applied.")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON of values.")
    applied_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "key"]
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="seed_record_once_per_entry")]

    def __str__(self):
        return f"{self.model} {self.key}"
