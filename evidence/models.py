from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from cmo_kb.vocabulary import RULE, Curated, NaturalKeyManager, ProgrammeTerm, VocabularyTerm
from cmo_kb.web_address import WebAddressField


class SourceKind(VocabularyTerm):
    """Evaluation report, interview transcript, self-evaluation report, improvement story..."""

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


def source_file_path(source, file_name):
    """sources/<programme>/<source slug>/<file name>: one folder per source, so two documents with the
    same name never overwrite each other's original."""
    from pathlib import PurePath

    from django.utils.text import get_valid_filename

    programme = source.programme.slug if source.programme_id else "no-programme"
    folder = f"sources/{programme}/{source.slug}/"
    path = PurePath(file_name)
    suffix = path.suffix[:16]
    try:
        stem = get_valid_filename(path.stem) if path.stem.strip(". ") else "document"
    except Exception:  # SuspiciousFileOperation: nothing usable left of the name
        stem = "document"
    # Within the column's length and a file system's 255 bytes a name, leaving the storage room to
    # add a suffix on a clash.
    room = max(1, min(150, Source.file.field.max_length - len(folder) - len(suffix) - 10))
    return f"{folder}{stem[:room]}{get_valid_filename(suffix) if suffix.strip('.') else ''}"


class Source(Curated):
    """A document whose full text is stored so evidence can be shown in context."""

    slug = models.SlugField(max_length=120, unique=True)
    kind = models.ForeignKey(SourceKind, on_delete=models.PROTECT, related_name="sources")
    programme = models.ForeignKey("projects.Programme", on_delete=models.PROTECT, related_name="sources")
    title = models.CharField(max_length=500)
    authors = models.CharField(max_length=500, blank=True)
    date = models.DateField(null=True, blank=True)
    publisher = models.CharField(max_length=300, blank=True)
    url = WebAddressField(blank=True)
    full_text = models.TextField(help_text="Verbatim text; excerpts point into it by character offsets.")
    # The document the text was read from (evidence/documents.py), kept so the text can be checked
    # against it. Under MEDIA_ROOT but never at a public URL: evaluators of the programme download it
    # through evidence/admin_views.py source_file_view.
    file = models.FileField(upload_to=source_file_path, max_length=300, blank=True,
                            help_text="The original document the full text was extracted from.")
    extractor = models.CharField(max_length=100, blank=True, help_text="What read the text out of the file.")
    extractor_version = models.CharField(max_length=50, blank=True)
    outline = models.JSONField(
        default=list, blank=True,
        help_text="The document's headings: [{level, title, start}], start a character offset into the "
                  "full text. An excerpt coded without a section takes its heading path from here.",
    )

    qda_guid = models.CharField(
        max_length=36, blank=True,
        help_text="The source's GUID in the REFI-QDA project it was imported from (exported again as is).")
    # A blind comparison (evidence/blind_coding.py): while True each coder sees only their own codings
    # of this source; the programme's leads see all, and only they start or end it.
    coding_blind = models.BooleanField(
        default=False, db_default=False, verbose_name="blind coding",
        help_text="While on, each coder sees only their own codings of this source (leads see all). Only a "
                  "lead of the programme turns it on or off.")

    objects = NaturalKeyManager()
    history = HistoricalRecords(excluded_fields=["full_text"])

    programme_path = "programme"

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def natural_key(self):
        return (self.slug,)


class EvaluationWave(ProgrammeTerm):
    """A round of fieldwork (Appendix 4 names three)."""

    number = models.PositiveSmallIntegerField()
    period = models.CharField(max_length=120, blank=True)

    history = HistoricalRecords()

    class Meta(ProgrammeTerm.Meta):
        ordering = ["number"]
        constraints = ProgrammeTerm.Meta.constraints + [
            models.UniqueConstraint(fields=["programme", "number"], name="wave_number_once_in_programme",
                                    violation_error_message="This programme already has a wave with this number."),
        ]


class MeasurementInstrument(VocabularyTerm):
    """A named measure, e.g. the Patient Activation Measure (PAM)."""

    abbreviation = models.CharField(max_length=20, blank=True)

    history = HistoricalRecords()

    class Meta(VocabularyTerm.Meta):
        pass


class SpeakerRole(ProgrammeTerm):
    """Who is speaking in a quote: patient, staff member, team member..."""

    history = HistoricalRecords()

    class Meta(ProgrammeTerm.Meta):
        pass


class ExcerptKind(models.TextChoices):
    PARTICIPANT_QUOTE = "participant_quote", "Participant quote"
    EVALUATOR_FINDING = "evaluator_finding", "Evaluator finding"
    FIGURE = "figure", "Figure"
    LITERATURE_QUOTE = "literature_quote", "Quotation from the literature"


class EvidenceExcerpt(Curated):
    """A verbatim span of a source: its text equals source.full_text[start:end], in characters."""

    slug = models.SlugField(max_length=120, unique=True)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="excerpts")
    text = models.TextField(help_text="Exactly the source's text between the offsets.")
    start = models.PositiveIntegerField(help_text="Character offset where the excerpt begins (0-based).")
    end = models.PositiveIntegerField(help_text="Character offset just after the excerpt ends.")
    section = models.CharField(max_length=500, blank=True, help_text="Section path, e.g. '4 Factors… › 4.1 … › Targeting'.")
    team = models.ForeignKey("projects.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="excerpts")
    speaker_role = models.ForeignKey(SpeakerRole, null=True, blank=True, on_delete=models.PROTECT, related_name="excerpts")
    attribution = models.CharField(max_length=300, blank=True, help_text="As printed, e.g. '(CAMHS CtG team, staff member)'.")
    kind = models.CharField(max_length=20, choices=ExcerptKind, default=ExcerptKind.PARTICIPANT_QUOTE)
    wave = models.ForeignKey(EvaluationWave, null=True, blank=True, on_delete=models.PROTECT, related_name="excerpts")
    note = models.TextField(blank=True)
    # Full-text search (evidence/search.py): filled by a PostgreSQL trigger (migration evidence/0003)
    # from text, attribution and section, with a GIN index; stays NULL on SQLite (icontains fallback).
    search_vector = SearchVectorField(null=True, editable=False)
    qda_guid = models.CharField(
        max_length=36, blank=True,
        help_text="The selection's GUID in the REFI-QDA project it was imported from (exported again as is).")

    objects = NaturalKeyManager()
    history = HistoricalRecords(excluded_fields=["search_vector"])

    programme_path = "source__programme"

    @property
    def programme(self):
        return self.source.programme

    class Meta:
        ordering = ["source", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end")),
                name="excerpt_start_before_end",
                violation_error_message="An excerpt's start offset must be before its end offset.",
            ),
            models.UniqueConstraint(
                fields=["source", "start", "end"],
                name="excerpt_span_once_per_source",
                violation_error_message="This source already has an excerpt with exactly this span.",
            ),
        ]
        indexes = [
            models.Index(fields=["source", "start"], name="excerpt_source_start"),
            # The home page counts participant quotes: an index-only count, not a scan of a million
            # rows of text (737 ms at 1M excerpts).
            models.Index(fields=["kind"], name="excerpt_kind"),
            # The API's cursor: WHERE (source_id, start, id) > (…) ORDER BY source_id, start, id LIMIT n.
            models.Index(fields=["source", "start", "id"], name="excerpt_cursor"),
        ]

    def __str__(self):
        text = " ".join(self.text.split())
        return text if len(text) <= 80 else text[:77] + "…"

    def natural_key(self):
        return (self.slug,)

    def clean(self):
        super().clean()
        if self.source_id:
            programme_id = self.source.programme_id
            for name in ("team", "speaker_role", "wave"):
                if getattr(self, f"{name}_id") and getattr(self, name).programme_id != programme_id:
                    raise ValidationError({name: ValidationError(
                        f"'{getattr(self, name).slug}' belongs to another programme than the source "
                        f"'{self.source.slug}'.", code=RULE)})
        if self.start is None or self.end is None or not self.source_id:
            return
        if self.start >= self.end:
            raise ValidationError({"end": ValidationError(f"End offset {self.end} must be after start offset {self.start}.", code=RULE)})
        full = self.source.full_text
        if self.end > len(full):
            raise ValidationError(
                {"end": ValidationError(f"End offset {self.end} is past the end of the source text ({len(full)} characters).", code=RULE)}
            )
        actual = full[self.start : self.end]
        if self.text != actual:
            raise ValidationError(
                {
                    "text": ValidationError(
                        f"The text does not match the source between characters {self.start} and {self.end}: "
                        f"the source has {actual[:60]!r}{'…' if len(actual) > 60 else ''}.",
                        code=RULE,
                    )
                }
            )
        self.fill_section()

    def save(self, *args, **kwargs):
        # The verbatim rule cannot live in the database (it compares against another row's text),
        # so it is enforced on every save, not only in forms.
        self.clean()
        super().save(*args, **kwargs)

    def fill_section(self):
        """An excerpt coded without a section takes the heading path at its start from its source's
        outline ("Results › Targeting"), whichever door it came through: clean() calls it, and every
        path runs clean() (save(), model forms, the API's validation, evidence/bulk_write.py). Costs
        no query: clean() has read the source already."""
        if self.section or not self.source_id or self.start is None:
            return
        outline = self.source.outline
        if outline:
            from evidence.documents import section_at

            self.section = section_at(outline, self.start, self._meta.get_field("section").max_length)

    def context_before(self, chars=300):
        return self.source.full_text[max(0, self.start - chars) : self.start]

    def context_after(self, chars=300):
        return self.source.full_text[self.end : self.end + chars]


class Stance(models.TextChoices):
    SUPPORTS = "supports", "Supports"
    CHALLENGES = "challenges", "Challenges"
    ILLUSTRATES = "illustrates", "Illustrates"


class Appraisal(models.TextChoices):
    """Pawson's appraisal of a piece of evidence for a realist synthesis: its relevance (does it speak
    to the theory being tested) and its rigour (is it trustworthy), each judged, not counted."""

    HIGH = "high", "High"
    MODERATE = "moderate", "Moderate"
    LOW = "low", "Low"


class Part(models.TextChoices):
    CONTEXT = "context", "Context"
    MECHANISM = "mechanism", "Mechanism"
    OUTCOME = "outcome", "Outcome"


class EvidenceLink(Curated):
    """An excerpt's bearing on one part of a configuration."""

    excerpt = models.ForeignKey(EvidenceExcerpt, on_delete=models.PROTECT, related_name="links")
    configuration = models.ForeignKey(
        "mechanisms.CMOConfiguration", on_delete=models.CASCADE, related_name="evidence_links"
    )
    stance = models.CharField(max_length=12, choices=Stance, default=Stance.SUPPORTS)
    part = models.CharField(max_length=10, choices=Part)
    note = models.TextField(blank=True)
    # Appraised for the configuration (Pawson 2006): blank until someone does.
    relevance = models.CharField(max_length=10, choices=Appraisal, blank=True, default="", db_default="",
                                 help_text="How far the excerpt speaks to this part of the configuration (Pawson's relevance).")
    rigour = models.CharField(max_length=10, choices=Appraisal, blank=True, default="", db_default="",
                              help_text="How trustworthy the excerpt is as evidence of it (Pawson's rigour).")
    appraisal_note = models.TextField(blank=True, default="", db_default="", help_text="Why this relevance and rigour.")

    history = HistoricalRecords()

    programme_path = "configuration__programme"

    class Meta:
        ordering = ["configuration", "part", "excerpt__start"]
        constraints = [
            models.UniqueConstraint(
                fields=["excerpt", "configuration", "part"],
                name="evidence_link_once_per_part",
                violation_error_message="This excerpt is already linked to this part of the configuration.",
            ),
        ]

    def __str__(self):
        return f"{self.excerpt.slug} {self.stance} {self.configuration.slug} ({self.part})"

    def clean(self):
        if self.excerpt_id and self.configuration_id and (
            self.excerpt.source.programme_id != self.configuration.programme_id
        ):
            raise ValidationError({"excerpt": ValidationError(
                f"Excerpt '{self.excerpt.slug}' is evidence of another programme than configuration "
                f"'{self.configuration.slug}'.", code=RULE)})


# Codes, codings, memos and relations (REFI-QDA projects, thematic coding): evidence/codes.py.
from evidence.codes import Code, Coding, Memo, Relation  # noqa: E402,F401

# Imports in the background, with their progress, report and undo: evidence/import_runs.py.
from evidence.import_runs import ImportRun  # noqa: E402,F401

# Blind comparison of coding: only a lead of the programme starts or ends it (evidence/blind_coding.py).
from django.db.models.signals import pre_save  # noqa: E402

from evidence import blind_coding  # noqa: E402

pre_save.connect(blind_coding._guard, sender=Source, dispatch_uid="source_blind_coding_lead_only")
