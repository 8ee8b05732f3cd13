"""Shared building blocks for models: vocabulary rows with natural keys, curation fields."""

from django.conf import settings
from django.db import models

# The code of a validation error for a rule across fields or rows that no schema can state (an
# excerpt's text is its source's words between its offsets; a theme belongs to the configuration's
# mechanism). The API answers such an error with 422, not 400 (cmo_kb/errors.py validation_status).
RULE = "rule"


class NaturalKeyManager(models.Manager):
    """Vocabulary rows are addressed by slug in fixtures, URLs and the API; a programme's own terms
    by (programme slug, slug)."""

    def get_by_natural_key(self, *key):
        if len(key) == 2:
            return self.get(programme__slug=key[0], slug=key[1])
        return self.get(slug=key[0])


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


class ProgrammeTerm(VocabularyTerm):
    """A vocabulary row a programme owns (its mechanisms and their themes, contexts, outcomes,
    speaker roles, waves): its slug is unique within the programme, so two programmes can each have
    a `leadership` context. Shared frameworks (Wish, the IoM domains, RAND pathways, NPT...) stay
    VocabularyTerm rows, global."""

    programme = models.ForeignKey("projects.Programme", on_delete=models.PROTECT, related_name="%(class)s_terms")
    slug = models.SlugField(max_length=80)

    programme_path = "programme"

    class Meta(VocabularyTerm.Meta):
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "slug"], name="%(app_label)s_%(class)s_slug_in_programme",
                violation_error_message="This programme already has a term with this slug.",
            )
        ]

    def natural_key(self):
        return (self.programme.slug, self.slug)

    def validate_constraints(self, exclude=None):
        """The slug-in-programme constraint's error is the slug's, as a unique slug's was."""
        from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict({})
            general = errors.get(NON_FIELD_ERRORS, [])
            clash = [e for e in general if getattr(e, "code", None) == "unique" or "slug" in str(e.message)]
            if clash:
                errors[NON_FIELD_ERRORS] = [e for e in general if e not in clash]
                if not errors[NON_FIELD_ERRORS]:
                    del errors[NON_FIELD_ERRORS]
                errors.setdefault("slug", []).append(ValidationError(
                    f"{self._meta.verbose_name.capitalize()} with this slug already exists in this programme.",
                    code="unique"))
            raise ValidationError(errors) from error


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class CuratedQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=ReviewStatus.PUBLISHED)

    def visible_to(self, user):
        """Published rows of the programmes the user may see; drafts and rows in review too in the
        programmes where the user writes (projects/membership.py)."""
        from projects.membership import visible_curated

        return visible_curated(self, user)


def user_is_evaluator(user):
    """Whether the user is an evaluator at all: a superuser, in the evaluator or lead group, or an
    evaluator or lead of some programme. Where they write and see drafts is per programme
    (projects/membership.py). One query."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    from django.contrib.auth import get_user_model

    # (get_user_model: a session's request.user is a SimpleLazyObject, whose type has no manager)
    return get_user_model()._default_manager.filter(pk=user.pk).filter(
        models.Q(groups__name__in=[EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP])
        | models.Q(programme_memberships__role__in=["lead", "evaluator"])
    ).exists()


def user_is_lead(user):
    """Whether the user leads some programme (or is a superuser). One query."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return user.programme_memberships.filter(role="lead").exists()


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
