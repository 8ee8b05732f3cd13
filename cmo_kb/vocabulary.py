"""Shared building blocks for models: vocabulary rows with natural keys, curation fields."""

from django.conf import settings
from django.db import models

# The code of a validation error for a rule across fields or rows that no schema can state (an
# excerpt's text is its source's words between its offsets; a theme belongs to the configuration's
# mechanism). The API answers such an error with 422, not 400 (cmo_kb/errors.py validation_status).
RULE = "rule"


class NaturalKeyManager(models.Manager):
    """Vocabulary rows are addressed by slug in fixtures, URLs and the API."""

    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class VocabularyTerm(models.Model):
    """A row of a controlled vocabulary (stored, not hard-coded, so a later
    evaluation can bring its own)."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0, help_text="Position in lists; lower comes first.")

    objects = NaturalKeyManager()

    class Meta:
        abstract = True
        ordering = ["order", "name"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.slug,)


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class CuratedQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=ReviewStatus.PUBLISHED)

    def visible_to(self, user):
        """Published rows for everyone; drafts and rows in review for evaluators."""
        if user is not None and user_is_evaluator(user):
            return self
        return self.published()


def user_is_evaluator(user):
    """Evaluators, lead evaluators and superusers see drafts and write."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=[EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP]).exists()


def user_is_lead(user):
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=LEAD_EVALUATOR_GROUP).exists()


EVALUATOR_GROUP = "Evaluator"
LEAD_EVALUATOR_GROUP = "Lead evaluator"
ANALYST_GROUP = "Analyst"


class Curated(models.Model):
    """Who made and last changed a curated object, and when."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
