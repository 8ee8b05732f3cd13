"""Comments on a configuration: the conversation of its evaluators and leads around a review.

A comment is attributed (its author), threaded (a reply names its parent, of the same configuration)
and audited (simple-history). A lead who returns a configuration to draft from the review queue says
why in a comment of kind "return" (mechanisms/workflow.py writes it in the same transaction as the
transition), which its author then sees on the workbench's start page and on the configuration.

Comments are the evaluators' working notes: only the evaluators and leads of the configuration's
programme read them (``visible_to``) and write them (the programme write rule, projects/membership.py,
through ``programme_path``). They appear on no public page and in no public API, and they are not
registered as an admin model of their own: they are read and written on their configuration's page,
where the list could not show them to members of other programmes.

The model is declared here and imported by mechanisms/models.py.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cmo_kb.vocabulary import RULE

MAX_BODY = 10_000
MAX_INDENT = 4


class ConfigurationCommentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The comments of configurations in programmes the user writes in (a subquery, no query of
        its own). Superusers write everywhere."""
        from projects import membership

        return self.filter(configuration__programme__in=membership.writable_programmes(user).values("pk"))

    def threaded(self):
        """Oldest first with their authors, for thread(): one query."""
        return self.select_related("author").order_by("created_at", "pk")


class ConfigurationComment(models.Model):
    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment"
        RETURN = "return", "Returned to draft"

    configuration = models.ForeignKey("mechanisms.CMOConfiguration", on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="configuration_comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies",
                               help_text="The comment this one answers.")
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.COMMENT)
    body = models.TextField(max_length=MAX_BODY)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()
    objects = ConfigurationCommentQuerySet.as_manager()

    programme_path = "configuration__programme"

    class Meta:
        ordering = ["configuration", "created_at", "pk"]
        verbose_name = "configuration comment"
        indexes = [models.Index(fields=["configuration", "kind", "created_at"], name="configuration_comment_thread")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(body=""), name="configuration_comment_has_body",
                                   violation_error_message="A comment needs some text."),
            models.CheckConstraint(condition=models.Q(kind__in=["comment", "return"]), name="configuration_comment_kind",
                                   violation_error_message="A comment is a comment or a return to draft."),
        ]

    def __str__(self):
        who = self.author.get_username() if self.author_id else "someone"
        return f"{who} on “{self.configuration}”: {self.body[:60]}"

    def clean(self):
        self.body = (self.body or "").strip()
        if not self.body:
            raise ValidationError({"body": ValidationError("Write a comment first: it is empty.", code=RULE)})
        if self.parent_id and self.configuration_id and self.parent.configuration_id != self.configuration_id:
            raise ValidationError({"parent": ValidationError(
                "A reply answers a comment on the same configuration.", code=RULE)})

    def save(self, *args, **kwargs):
        # Every path (the page's form, the workflow, the shell) keeps the thread's rules.
        self.clean()
        super().save(*args, **kwargs)


def thread(comments):
    """[(comment, depth)] in reading order: each comment followed by its replies, oldest first; depth
    stops at MAX_INDENT (deeper replies are shown at that indent). ``comments`` is an iterable of one
    configuration's comments (threaded()); no query of its own."""
    comments = list(comments)
    children = {}
    for comment in comments:
        children.setdefault(comment.parent_id, []).append(comment)
    ordered = []

    def walk(parent_id, depth):
        for comment in children.get(parent_id, []):
            ordered.append((comment, min(depth, MAX_INDENT)))
            walk(comment.pk, depth + 1)

    walk(None, 0)
    return ordered
