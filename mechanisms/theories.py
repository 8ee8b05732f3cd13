"""Programme theories and their refinement (issue 14). A realist evaluation starts from an initial
programme theory and refines it after each round of fieldwork or analysis; each version is kept as
it was, dated, and linked to the wave or source that prompted it.

- ProgrammeTheory: a programme's theory (slug unique within the programme).
- TheoryVersion: one version of it (numbered, dated, prompted by a wave and/or a source, with a
  summary of what it said); a draft until published, like a configuration, and only a published
  version is shown to readers.
- TheoryVersionEntry: a configuration in a version, with its verdict (supported, refuted, refined
  or new), the configuration that replaces it when refined, a note and the excerpts that evidence
  the verdict.

Rules, on every path (save() runs clean(), as chains.py does; an m2m receiver guards the evidence):
everything is of the theory's programme; replaced_by is given when the verdict is refined and only
then, and is another configuration; a configuration appears once per version. The write rule
(projects/membership.py) applies through programme_path: only the programme's evaluators and leads
change them.

The models are declared here and imported by mechanisms/models.py.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed
from simple_history.models import HistoricalRecords

from cmo_kb.vocabulary import RULE, Curated, ReviewStatus


class ProgrammeTheory(Curated):
    """A programme theory: the configurations a programme believes explain it, in versions."""

    programme = models.ForeignKey("projects.Programme", on_delete=models.PROTECT, related_name="theories")
    slug = models.SlugField(max_length=120)
    name = models.CharField(max_length=300)
    description = models.TextField(blank=True)

    history = HistoricalRecords()

    programme_path = "programme"

    class Meta:
        ordering = ["programme", "name"]
        verbose_name = "programme theory"
        verbose_name_plural = "programme theories"
        constraints = [
            models.UniqueConstraint(fields=["programme", "slug"], name="theory_slug_in_programme",
                                    violation_error_message="This programme already has a theory with this slug."),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        """Costs a query unless the programme is loaded."""
        return f"/programmes/{self.programme.slug}/theories/{self.slug}/"


class TheoryVersionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=ReviewStatus.PUBLISHED)


class TheoryVersion(Curated):
    """What a programme theory said at one point: dated, prompted by a wave or a source."""

    theory = models.ForeignKey(ProgrammeTheory, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField(help_text="1 for the initial programme theory, then 2, 3...")
    label = models.CharField(max_length=300, help_text="E.g. 'Initial programme theory'.")
    date = models.DateField(null=True, blank=True, help_text="When this version was stated.")
    prompted_by_wave = models.ForeignKey("evidence.EvaluationWave", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="theory_versions", verbose_name="prompted by wave")
    prompted_by_source = models.ForeignKey("evidence.Source", null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="theory_versions", verbose_name="prompted by source")
    summary = models.TextField(blank=True, help_text="What the theory said in this version.")
    status = models.CharField(max_length=12, choices=ReviewStatus, default=ReviewStatus.DRAFT,
                              help_text="Readers see published versions only.")

    objects = TheoryVersionQuerySet.as_manager()
    history = HistoricalRecords()

    programme_path = "theory__programme"

    class Meta:
        ordering = ["theory", "number"]
        verbose_name = "theory version"
        constraints = [
            models.UniqueConstraint(fields=["theory", "number"], name="theory_version_number_once",
                                    violation_error_message="This theory already has a version with this number."),
        ]

    def __str__(self):
        return f"{self.theory} · version {self.number}: {self.label}"

    @property
    def programme(self):
        return self.theory.programme

    @staticmethod
    def reader_condition(prefix=""):
        """The rows readers of the programme see: published versions."""
        return Q(**{f"{prefix}status": ReviewStatus.PUBLISHED})

    def clean(self):
        super().clean()
        if not self.theory_id:
            return
        errors = {}
        programme_id = self.theory.programme_id
        for name in ("prompted_by_wave", "prompted_by_source"):
            term = getattr(self, name) if getattr(self, f"{name}_id") else None
            if term is not None and term.programme_id != programme_id:
                errors[name] = ValidationError(
                    f"{term._meta.verbose_name.capitalize()} '{term.slug}' is of another programme than the theory "
                    f"('{self.theory.programme.slug}').", code=RULE)
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)


class Verdict(models.TextChoices):
    SUPPORTED = "supported", "Supported"
    REFUTED = "refuted", "Refuted"
    REFINED = "refined", "Refined"
    NEW = "new", "New"


class TheoryVersionEntry(Curated):
    """A configuration in a theory version, with the verdict of that version on it and why."""

    version = models.ForeignKey(TheoryVersion, on_delete=models.CASCADE, related_name="entries")
    # PROTECT: a version keeps what it said; a configuration a version cites is not deleted from under it.
    configuration = models.ForeignKey("mechanisms.CMOConfiguration", on_delete=models.PROTECT,
                                      related_name="theory_entries")
    verdict = models.CharField(max_length=10, choices=Verdict)
    replaced_by = models.ForeignKey("mechanisms.CMOConfiguration", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="theory_replacements",
                                    help_text="The configuration that replaces it (refined only).")
    note = models.TextField(blank=True, help_text="What changed and why.")
    evidence = models.ManyToManyField("evidence.EvidenceExcerpt", blank=True, related_name="theory_entries",
                                      help_text="Excerpts that evidence the verdict.")

    history = HistoricalRecords(m2m_fields=[evidence])

    programme_path = "version__theory__programme"

    class Meta:
        ordering = ["version", "configuration__slug"]
        verbose_name = "theory version entry"
        verbose_name_plural = "theory version entries"
        constraints = [
            models.UniqueConstraint(fields=["version", "configuration"], name="theory_entry_configuration_once",
                                    violation_error_message="This configuration is already in this version."),
            models.CheckConstraint(
                condition=Q(verdict=Verdict.REFINED, replaced_by__isnull=False)
                | (~Q(verdict=Verdict.REFINED) & Q(replaced_by__isnull=True)),
                name="theory_entry_replaced_by_iff_refined",
                violation_error_message="A refined configuration names the one replacing it; no other verdict does."),
            models.CheckConstraint(condition=~Q(replaced_by=models.F("configuration")),
                                   name="theory_entry_not_replaced_by_itself",
                                   violation_error_message="A configuration cannot replace itself."),
        ]

    def __str__(self):
        return f"{self.configuration.slug}: {self.get_verdict_display().lower()}"

    @property
    def programme(self):
        return self.version.theory.programme

    @staticmethod
    def reader_condition(prefix=""):
        """The rows readers of the programme see: of a published version, about a published
        configuration, replaced (if at all) by a published one."""
        return (Q(**{f"{prefix}version__status": ReviewStatus.PUBLISHED,
                     f"{prefix}configuration__status": ReviewStatus.PUBLISHED})
                & (Q(**{f"{prefix}replaced_by__isnull": True})
                   | Q(**{f"{prefix}replaced_by__status": ReviewStatus.PUBLISHED})))

    def clean(self):
        super().clean()
        errors = {}
        if self.verdict == Verdict.REFINED and not self.replaced_by_id:
            errors["replaced_by"] = ValidationError(
                "A refined configuration names the configuration that replaces it.", code=RULE)
        elif self.verdict != Verdict.REFINED and self.replaced_by_id:
            errors["replaced_by"] = ValidationError(
                f"Only a refined configuration is replaced; this one is {self.get_verdict_display().lower() or 'without a verdict'}.",
                code=RULE)
        elif self.replaced_by_id and self.replaced_by_id == self.configuration_id:
            errors["replaced_by"] = ValidationError("A configuration cannot replace itself.", code=RULE)
        if self.version_id:
            programme = self.version.theory.programme
            for name in ("configuration", "replaced_by"):
                configuration = getattr(self, name) if getattr(self, f"{name}_id") else None
                if configuration is not None and configuration.programme_id != programme.pk and name not in errors:
                    errors[name] = ValidationError(
                        f"Configuration '{configuration.slug}' is of another programme than the theory ('{programme.slug}').",
                        code=RULE)
            if self.configuration_id and "configuration" not in errors:
                clash = TheoryVersionEntry.objects.filter(version_id=self.version_id, configuration_id=self.configuration_id)
                if self.pk is not None:
                    clash = clash.exclude(pk=self.pk)
                if clash.exists():
                    errors["configuration"] = ValidationError(
                        f"Configuration '{self.configuration.slug}' is already in this version.", code="unique")
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # The rules read other rows (the programme, the version's other entries): on every save.
        self.clean()
        super().save(*args, **kwargs)


def _evidence_guard(sender, instance, action, reverse, model, pk_set, **kwargs):
    """An entry's evidence is of its theory's programme, whichever door sets it; only the
    programme's writers change it."""
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    from projects.membership import refuse_unless_writer

    if not reverse:
        refuse_unless_writer(instance.programme)
    if action != "pre_add" or not pk_set:
        return
    if reverse:
        strays = TheoryVersionEntry.objects.filter(pk__in=pk_set).exclude(
            version__theory__programme_id=instance.source.programme_id)
        if strays.exists():
            raise ValidationError({"theory_entries": ValidationError(
                f"Excerpt '{instance.slug}' is of another programme than the theory.", code=RULE)})
        return
    programme = instance.programme
    strays = sorted(model._base_manager.filter(pk__in=pk_set).exclude(
        source__programme_id=programme.pk).values_list("slug", flat=True))
    if strays:
        raise ValidationError({"evidence": ValidationError(
            f"Excerpts of another programme than '{programme.slug}': {', '.join(strays)}.", code=RULE)})


m2m_changed.connect(_evidence_guard, sender=TheoryVersionEntry.evidence.through, dispatch_uid="theory_entry_evidence_programme")


# --- The publish lock of a theory version -----------------------------------------------------------
# A published version is what readers were told the theory said then: like a published configuration
# (mechanisms/publish_lock.py), only a lead of the programme changes or deletes it, its entries or
# their evidence, and publishes a version; an evaluator drafts. Checked at the model layer, so the
# admin, its inlines, history revert, the loader's runs as a user and the shell all obey it.


def _refuse_unless_lead(programme, what):
    from projects.membership import ProgrammeWriteRefused, _actor, role_in
    from projects.models import Role

    actor = _actor()
    if actor is not None and role_in(actor, programme.pk) != Role.LEAD:
        raise ProgrammeWriteRefused(programme, (
            f"{what} is published: only a lead evaluator of '{programme.slug}' changes it. Ask a lead to "
            "return it to draft, or draft a new version."))


def _stored_status(version_id):
    return TheoryVersion._base_manager.filter(pk=version_id).values_list("status", flat=True).first()


def _version_guard(sender, instance, raw=False, **kwargs):
    if raw:
        return
    stored = _stored_status(instance.pk) if instance.pk else None
    if ReviewStatus.PUBLISHED in (stored, instance.status):
        _refuse_unless_lead(instance.theory.programme, f"Version {instance.number} of '{instance.theory.name}'")


def _entry_guard(sender, instance, raw=False, **kwargs):
    if raw:
        return
    versions = {instance.version_id}
    if instance.pk:
        versions.add(TheoryVersionEntry._base_manager.filter(pk=instance.pk).values_list("version_id", flat=True).first())
    published = TheoryVersion._base_manager.filter(pk__in=versions - {None}, status=ReviewStatus.PUBLISHED).first()
    if published is not None:
        _refuse_unless_lead(published.theory.programme, f"Version {published.number} of '{published.theory.name}'")


def _entry_evidence_guard(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    entries = [instance] if not reverse else list(TheoryVersionEntry.objects.filter(pk__in=pk_set or ()))
    if reverse and action == "pre_clear":
        entries = list(instance.theory_entries.all())
    for entry in entries:
        _entry_guard(TheoryVersionEntry, entry)


from django.db.models.signals import pre_delete, pre_save  # noqa: E402

for _signal in (pre_save, pre_delete):
    _signal.connect(_version_guard, sender=TheoryVersion, dispatch_uid=f"theory_version_lock_{_signal is pre_save}")
    _signal.connect(_entry_guard, sender=TheoryVersionEntry, dispatch_uid=f"theory_entry_lock_{_signal is pre_save}")
m2m_changed.connect(_entry_evidence_guard, sender=TheoryVersionEntry.evidence.through, dispatch_uid="theory_entry_evidence_lock")
