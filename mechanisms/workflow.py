"""The review workflow of a CMO configuration: draft → in review → published, and back to draft.

A small service because a transition checks who may make it, checks the configuration's guard rails,
and writes the row and its history in one transaction. The admin's buttons and bulk actions use it;
so can the API.

    submit_for_review(configuration, user)   draft → in review        evaluators and leads; needs publication_problems() == []
    publish(configuration, user)             in review → published    leads only; needs publication_problems() == []
    return_to_draft(configuration, user[, comment])
                                             in review → draft        evaluators and leads (a comment says why)
                                             published → draft        leads only (unpublish)

Each raises WorkflowError (with .problems, a list of sentences) and changes nothing when refused.
"""

from dataclasses import dataclass, field

from django.db import transaction

from cmo_kb.vocabulary import ReviewStatus

PUBLISH_PERMISSION = "mechanisms.publish_cmoconfiguration"
CHANGE_PERMISSION = "mechanisms.change_cmoconfiguration"


class WorkflowError(Exception):
    """A refused transition (`action` is a key of ACTIONS). `problems` says why, one fragment each."""

    def __init__(self, configuration, action, problems):
        self.configuration = configuration
        self.action = action
        self.problems = list(problems)
        super().__init__(f"Cannot {ACTION_VERBS.get(action, action)} '{configuration}': {'; '.join(self.problems)}.")


def can_publish(user, configuration):
    """A lead evaluator of the configuration's programme (or a superuser)."""
    from projects import membership

    return bool(user and user.is_authenticated and membership.can_publish(user, configuration.programme_id))


def can_curate(user, configuration):
    """An evaluator or lead of the configuration's programme who may change configurations."""
    from projects import membership

    return bool(user and user.is_authenticated and user.has_perm(CHANGE_PERMISSION)
                and membership.can_write(user, configuration.programme_id))


def allowed_actions(configuration, user):
    """The transitions `user` may attempt from the configuration's current status (for buttons)."""
    actions = []
    status = configuration.status
    if status == ReviewStatus.DRAFT and can_curate(user, configuration):
        actions.append("submit_for_review")
    if status == ReviewStatus.IN_REVIEW and can_publish(user, configuration):
        actions.append("publish")
    if (status == ReviewStatus.IN_REVIEW and can_curate(user, configuration)) or (
        status == ReviewStatus.PUBLISHED and can_publish(user, configuration)
    ):
        actions.append("return_to_draft")
    return actions


# The history's change reasons of the transitions: the review queue reads when and by whom a
# configuration was submitted from them (mechanisms/review.py).
SUBMITTED, PUBLISHED, RETURNED = "Submitted for review", "Published", "Returned to draft"

ACTION_LABELS = {
    "submit_for_review": "Submit for review",
    "publish": "Publish",
    "return_to_draft": "Return to draft",
}


def _transition(configuration, user, action, allowed_from, target, reason, extra_checks=None, lead_only=False,
                after=None):
    with transaction.atomic():
        # Lock the row and work on the stored state, not on whatever the caller's instance holds.
        current = type(configuration).objects.select_for_update().get(pk=configuration.pk)
        problems = []
        if not can_curate(user, current):
            problems.append(f"you do not write in the programme '{current.programme.slug}'"
                            if user and user.is_authenticated and user.has_perm(CHANGE_PERMISSION)
                            else "you do not have permission to change CMO configurations")
        elif lead_only and not can_publish(user, current):
            problems.append(f"only lead evaluators of '{current.programme.slug}' can {ACTION_VERBS[action]}")
        elif current.status not in allowed_from:
            problems.append(
                f"it is {STATE[current.status]}; only configurations that are "
                + " or ".join(STATE[s] for s in allowed_from)
                + f" can be {ACTION_PAST[action]}"
            )
        elif extra_checks:
            problems.extend(extra_checks(current))
        if problems:
            raise WorkflowError(configuration, action, problems)
        current.status = target
        current.updated_by = user
        current._history_user = user
        current._change_reason = reason
        current.save(update_fields=["status", "updated_by", "updated_at"])
        if after is not None:
            after(current)
    configuration.status = current.status
    configuration.updated_by = user
    configuration.updated_at = current.updated_at
    return configuration


STATE = {ReviewStatus.DRAFT: "a draft", ReviewStatus.IN_REVIEW: "in review", ReviewStatus.PUBLISHED: "published"}
ACTION_VERBS = {"submit_for_review": "submit for review", "publish": "publish", "return_to_draft": "return to draft"}
ACTION_PAST = {"submit_for_review": "submitted for review", "publish": "published", "return_to_draft": "returned to draft"}


def submit_for_review(configuration, user):
    # A reviewer's time goes to judging a complete configuration, not to listing what it lacks: what
    # publishing requires is required to ask for review too (issue 13).
    return _transition(
        configuration, user, "submit_for_review", [ReviewStatus.DRAFT], ReviewStatus.IN_REVIEW, SUBMITTED,
        lambda current: current.publication_problems(),
    )


def publish(configuration, user):
    return _transition(
        configuration, user, "publish", [ReviewStatus.IN_REVIEW], ReviewStatus.PUBLISHED, PUBLISHED,
        lambda current: current.publication_problems(), lead_only=True,
    )


def return_to_draft(configuration, user, comment=None):
    """With ``comment`` (the review queue always sends one), the return is explained to the author in
    a comment of kind "return", written with the transition or not at all; an empty one is refused."""
    from mechanisms.comments import MAX_BODY, ConfigurationComment

    def checks(current):
        problems = []
        if current.status == ReviewStatus.PUBLISHED and not can_publish(user, current):
            problems.append(f"only lead evaluators of '{current.programme.slug}' can unpublish")
        if comment is not None and not comment.strip():
            problems.append("say in a comment what the author should change")
        elif comment is not None and len(comment) > MAX_BODY:
            problems.append(f"the comment is longer than {MAX_BODY} characters")
        return problems

    def write_comment(current):
        if comment is not None:
            ConfigurationComment.objects.create(configuration=current, author=user, body=comment,
                                                kind=ConfigurationComment.Kind.RETURN)

    return _transition(
        configuration, user, "return_to_draft", [ReviewStatus.IN_REVIEW, ReviewStatus.PUBLISHED], ReviewStatus.DRAFT,
        RETURNED, checks, after=write_comment,
    )


unpublish = return_to_draft

ACTIONS = {"submit_for_review": submit_for_review, "publish": publish, "return_to_draft": return_to_draft}


@dataclass
class BulkResult:
    done: list = field(default_factory=list)
    failed: list = field(default_factory=list)  # [(configuration, [problem, ...])]


def apply_to_many(action, configurations, user):
    """Apply one transition to each configuration on its own: one refusal does not undo the others."""
    func = ACTIONS[action]
    result = BulkResult()
    for configuration in configurations:
        try:
            func(configuration, user)
        except WorkflowError as error:
            result.failed.append((configuration, error.problems))
        else:
            result.done.append(configuration)
    return result
