"""Codes and codings: the thematic coding evaluators bring from NVivo, ATLAS.ti, MAXQDA, QualCoder or
Taguette (REFI-QDA import, evidence/refi_qda/reader.py) or make in the knowledge base.

A programme's codes form a tree of any depth. A code is data: it can later be mapped onto the
programme's contexts, mechanisms and outcomes, or kept as a thematic code. Codes are matched by GUID,
never by name (NVivo repeats names), so a code keeps the GUID it was read with (``guid``).

A coding applies a code to an excerpt, by a coder, at a time (the REFI-QDA <Coding> of a
<PlainTextSelection>). Memos (REFI-QDA <Note>s) and relations (REFI-QDA <Link>s) are kept where the
import found them, so a project exports again as it came in.

The models are declared here and imported by evidence/models.py.
"""

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cmo_kb.vocabulary import RULE, Curated

_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_guid():
    return str(uuid.uuid4())


def normalise_guid(value):
    """A REFI-QDA GUID as stored: lower case, without braces. Real exports write GUIDs in upper or
    lower case, with or without braces, and not always RFC 4122 valid (DOMAIN.md); only the
    8-4-4-4-12 hexadecimal shape is required. Returns None when the value has not that shape."""
    text = (value or "").strip().lower()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return text if _GUID.match(text) else None


def validate_colour(value):
    if value and not _COLOUR.match(value):
        raise ValidationError(f"'{value}' is not a colour: write it as #RRGGBB, e.g. #2E7D32.")


def validate_guid(value):
    if value and normalise_guid(value) != value:
        raise ValidationError(f"'{value}' is not a GUID: write it as 8-4-4-4-12 lower-case hexadecimal digits.")


class Code(Curated):
    """A code of a programme's code tree."""

    programme = models.ForeignKey("projects.Programme", on_delete=models.PROTECT, related_name="codes")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    guid = models.CharField(max_length=36, default=new_guid, validators=[validate_guid],
                            help_text="The code's GUID (REFI-QDA): kept from the project it was imported from.")
    name = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    colour = models.CharField(max_length=7, blank=True, validators=[validate_colour], help_text="#RRGGBB")
    codable = models.BooleanField(default=True, help_text="Whether text can be coded with it (group codes are not).")
    order = models.PositiveIntegerField(default=0, help_text="Position among its siblings.")

    history = HistoricalRecords()

    programme_path = "programme"

    class Meta:
        ordering = ["programme", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "guid"], name="code_guid_once_in_programme",
                                    violation_error_message="This programme already has a code with this GUID."),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.parent_id and self.programme_id:
            if self.parent.programme_id != self.programme_id:
                raise ValidationError({"parent": ValidationError(
                    f"Code '{self.parent.name}' belongs to another programme.", code=RULE)})
            # A code cannot sit under itself or under one of its own descendants.
            ancestor, seen = self.parent, set()
            while ancestor is not None and ancestor.pk not in seen:
                if self.pk and ancestor.pk == self.pk:
                    raise ValidationError({"parent": ValidationError(
                        "A code cannot be its own parent or sit under one of its own children.", code=RULE)})
                seen.add(ancestor.pk)
                ancestor = ancestor.parent


class Coding(Curated):
    """An excerpt coded with a code, by a coder, at a time."""

    excerpt = models.ForeignKey("evidence.EvidenceExcerpt", on_delete=models.PROTECT, related_name="codings")
    code = models.ForeignKey(Code, on_delete=models.PROTECT, related_name="codings")
    coder = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="codings", help_text="Who coded it (kept from an imported project).")
    created = models.DateTimeField(default=timezone.now, help_text="When it was coded.")
    guid = models.CharField(max_length=36, default=new_guid, validators=[validate_guid])

    history = HistoricalRecords()

    programme_path = "code__programme"

    class Meta:
        ordering = ["excerpt", "code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["excerpt", "code", "coder"], name="coding_once_per_coder",
                                    violation_error_message="This coder has already coded this excerpt with this code."),
        ]
        indexes = [models.Index(fields=["code", "excerpt"], name="coding_code_excerpt")]

    def __str__(self):
        return f"{self.code} on {self.excerpt_id}"

    def clean(self):
        super().clean()
        if self.excerpt_id and self.code_id and self.excerpt.source.programme_id != self.code.programme_id:
            raise ValidationError({"code": ValidationError(
                f"Code '{self.code.name}' belongs to another programme than excerpt '{self.excerpt.slug}'.",
                code=RULE)})
        if self.code_id and not self.code.codable:
            raise ValidationError({"code": ValidationError(
                f"Code '{self.code.name}' is not codable (a group code).", code=RULE)})


class Memo(Curated):
    """A memo (REFI-QDA <Note>): text an evaluator wrote about codes, excerpts, sources or relations."""

    programme = models.ForeignKey("projects.Programme", on_delete=models.PROTECT, related_name="memos")
    guid = models.CharField(max_length=36, default=new_guid, validators=[validate_guid])
    name = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    codes = models.ManyToManyField(Code, blank=True, related_name="memos")
    excerpts = models.ManyToManyField("evidence.EvidenceExcerpt", blank=True, related_name="memos")
    sources = models.ManyToManyField("evidence.Source", blank=True, related_name="memos")
    relations = models.ManyToManyField("evidence.Relation", blank=True, related_name="memos")

    history = HistoricalRecords()

    programme_path = "programme"

    class Meta:
        ordering = ["programme", "id"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "guid"], name="memo_guid_once_in_programme",
                                    violation_error_message="This programme already has a memo with this GUID."),
        ]

    def __str__(self):
        return self.name or self.text[:80] or self.guid


class Relation(Curated):
    """A named relation (REFI-QDA <Link>) from a code or excerpt to a code or excerpt."""

    class Direction(models.TextChoices):
        ASSOCIATIVE = "Associative", "Associative"
        ONE_WAY = "OneWay", "One way"
        BIDIRECTIONAL = "Bidirectional", "Bidirectional"

    programme = models.ForeignKey("projects.Programme", on_delete=models.PROTECT, related_name="relations")
    guid = models.CharField(max_length=36, default=new_guid, validators=[validate_guid])
    name = models.CharField(max_length=300, blank=True)
    direction = models.CharField(max_length=13, choices=Direction, default=Direction.ASSOCIATIVE)
    colour = models.CharField(max_length=7, blank=True, validators=[validate_colour])
    origin_code = models.ForeignKey(Code, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    origin_excerpt = models.ForeignKey("evidence.EvidenceExcerpt", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_code = models.ForeignKey(Code, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_excerpt = models.ForeignKey("evidence.EvidenceExcerpt", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    programme_path = "programme"

    class Meta:
        ordering = ["programme", "id"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "guid"], name="relation_guid_once_in_programme",
                                    violation_error_message="This programme already has a relation with this GUID."),
            models.CheckConstraint(
                condition=(models.Q(origin_code__isnull=False) | models.Q(origin_excerpt__isnull=False))
                & (models.Q(target_code__isnull=False) | models.Q(target_excerpt__isnull=False)),
                name="relation_has_ends",
                violation_error_message="A relation needs an origin and a target (a code or an excerpt).",
            ),
        ]

    def __str__(self):
        return self.name or self.guid
