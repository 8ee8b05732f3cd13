"""Review in the workbench: the queue of what awaits review, comments on a configuration, and the
evaluator's own drafts and returned configurations on the start page.

- The review queue (/admin/mechanisms/cmoconfiguration/review/): per programme the user evaluates or
  leads in, each configuration in review, since when and by whom (its latest "Submitted for review"
  history record) and what publication still needs. Leads of its programme publish it or return it
  to draft with a comment saying why; evaluators see the queue read-only. Eight queries whatever its
  length, the session's and permissions' included (test_review_queue.py pins them).
- Comments (mechanisms/comments.py) are added and answered on the configuration's change page
  (/admin/mechanisms/cmoconfiguration/<id>/comments/, a POST).
- ``own_work`` is the start page's panel: the user's drafts, those returned to them first.

Every step goes through mechanisms/workflow.py, as the change page's buttons, the bulk actions and
the API do, so the same rules refuse the same things everywhere, and a refusal names why.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max, OuterRef, Q, Subquery
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from cmo_kb.vocabulary import ReviewStatus
from projects import membership
from projects.programme_admin import admin_visible, leads_anywhere

from . import workflow
from .comments import MAX_BODY, ConfigurationComment, thread
from .models import CMOConfiguration

QUEUE_ACTIONS = ("publish", "return_to_draft")


def with_submission(queryset):
    """Annotate ``submitted_at`` and ``submitted_by_name``: the latest submission's history record."""
    submissions = CMOConfiguration.history.model.objects.filter(
        id=OuterRef("pk"), history_change_reason=workflow.SUBMITTED
    ).order_by("-history_date", "-history_id")
    return queryset.annotate(
        submitted_at=Subquery(submissions.values("history_date")[:1]),
        submitted_by_name=Subquery(submissions.values("history_user__username")[:1]),
    )


def queue_programmes(user):
    """The programmes whose queue the user sees: those they evaluate or lead in (all, for superusers)."""
    return membership.writable_programmes(user).order_by("name")


def queue_url(programme_slug=None):
    url = reverse("admin:mechanisms_cmoconfiguration_review")
    return f"{url}?{urlencode({'programme': programme_slug})}" if programme_slug else url


def queue_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if request.method == "POST":
        return _act(request)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    user = request.user
    programmes = list(queue_programmes(user))
    chosen = request.GET.get("programme") or None
    if chosen is not None and chosen not in {p.slug for p in programmes}:
        raise Http404(f"You are not an evaluator or lead of a programme '{chosen}'.")
    in_review = CMOConfiguration.objects.filter(
        status=ReviewStatus.IN_REVIEW, programme__in=[p for p in programmes if chosen in (None, p.slug)]
    )
    rows = list(
        with_submission(in_review.with_publication_parts())
        .select_related("programme")
        .only("pk", "slug", "title", "status", "mechanism_id", "programme__slug", "programme__name", "updated_at")
        .order_by("submitted_at", "pk")  # who has waited longest first
    )
    counts = {}
    for row in CMOConfiguration.objects.filter(status=ReviewStatus.IN_REVIEW, programme__in=programmes).values_list(
        "programme_id", flat=True
    ):
        counts[row] = counts.get(row, 0) + 1
    for row in rows:
        row.problems = row.publication_problems()  # answered by the annotations: no query
        row.leads_here = membership.can_publish(user, row.programme_id)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Review queue",
        "rows": rows,
        "programmes": [(p, counts.get(p.pk, 0)) for p in programmes],
        "chosen": chosen,
        "max_comment": MAX_BODY,
    }
    return TemplateResponse(request, "admin/mechanisms/cmoconfiguration/review_queue.html", context)


def _act(request):
    """Publish or return to draft (with its required comment) from the queue: leads only."""
    user = request.user
    back = queue_url(request.POST.get("programme") or None)
    if not leads_anywhere(user):
        raise PermissionDenied("Only lead evaluators publish or return configurations from the review queue.")
    action = request.POST.get("action")
    if action not in QUEUE_ACTIONS:
        raise Http404(f"No such step in the review queue: '{action}'. It is one of {', '.join(QUEUE_ACTIONS)}.")
    pk = request.POST.get("configuration", "")
    configuration = (
        admin_visible(CMOConfiguration.objects.select_related("programme"), user).filter(pk=pk).first()
        if pk.isdigit() else None
    )
    if configuration is None:
        raise Http404(f"No configuration '{pk}' among those you may review.")
    if not membership.can_publish(user, configuration.programme_id):
        raise PermissionDenied(f"Only lead evaluators of '{configuration.programme.slug}' act on its review queue.")
    try:
        if action == "publish":
            workflow.publish(configuration, user)
        else:
            workflow.return_to_draft(configuration, user, comment=request.POST.get("comment", ""))
    except workflow.WorkflowError as error:
        messages.error(request, f"“{configuration}” was not {workflow.ACTION_PAST[action]}: {'; '.join(error.problems)}.")
    else:
        said = " Its author sees your comment." if action == "return_to_draft" else ""
        messages.success(request, f"“{configuration}” is now {configuration.get_status_display().lower()}.{said}")
    return HttpResponseRedirect(back)


# --- comments on the change page ----------------------------------------------------------------


def comments_for(configuration, user):
    """[(comment, depth)] of the configuration's thread if the user may read it (None otherwise): one query."""
    if not membership.can_write(user, configuration.programme_id):
        return None
    return thread(ConfigurationComment.objects.filter(configuration=configuration).threaded())


def comment_view(model_admin, request, object_id):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    configuration = model_admin.get_object(request, object_id)
    if configuration is None:
        raise Http404(f"No configuration '{object_id}' among those you may see.")
    if not membership.can_write(request.user, configuration.programme_id):
        raise PermissionDenied(
            f"Only evaluators and lead evaluators of '{configuration.programme.slug}' comment on its configurations."
        )
    change_url = reverse("admin:mechanisms_cmoconfiguration_change", args=[configuration.pk])
    body = request.POST.get("body", "").strip()
    parent_id = request.POST.get("parent") or None
    parent = None
    problems = []
    if not body:
        problems.append("it is empty")
    elif len(body) > MAX_BODY:
        problems.append(f"it is longer than {MAX_BODY} characters ({len(body)})")
    if parent_id is not None:
        parent = ConfigurationComment.objects.filter(pk=parent_id if parent_id.isdigit() else None,
                                                     configuration=configuration).first()
        if parent is None:
            problems.append(f"the comment it answers ('{parent_id}') is not one of this configuration's")
    if problems:
        messages.error(request, f"Your comment was not added: {'; '.join(problems)}.")
        return HttpResponseRedirect(f"{change_url}#comments")
    comment = ConfigurationComment(configuration=configuration, author=request.user, body=body, parent=parent)
    comment._history_user = request.user
    comment.save()
    messages.success(request, "Your reply was added." if parent else "Your comment was added.")
    return HttpResponseRedirect(f"{change_url}#comment-{comment.pk}")


# --- the start page -------------------------------------------------------------------------------


def own_work(user):
    """The start page's panel: the user's own drafts (those they created), the returned ones first
    with the comment that returned them, and how many configurations await their review. Three
    queries at most."""
    if not (user and user.is_authenticated and user.is_staff):
        return None
    returns = ConfigurationComment.objects.filter(configuration=OuterRef("pk"), kind=ConfigurationComment.Kind.RETURN)
    latest_return = returns.order_by("-created_at", "-pk")
    drafts = list(
        with_submission(CMOConfiguration.objects.filter(status=ReviewStatus.DRAFT, created_by=user))
        .annotate(
            returned_at=Max("comments__created_at", filter=Q(comments__kind=ConfigurationComment.Kind.RETURN)),
            return_comment=Subquery(latest_return.values("body")[:1]),
            returned_by_name=Subquery(latest_return.values("author__username")[:1]),
        )
        .select_related("programme")
        .only("pk", "slug", "title", "status", "updated_at", "programme__slug", "programme__name")
        .order_by("-updated_at", "pk")[:50]
    )
    for draft in drafts:
        # Returned: a return comment newer than its last submission (a resubmission answers it).
        draft.returned = draft.returned_at is not None and (
            draft.submitted_at is None or draft.returned_at > draft.submitted_at
        )
    drafts.sort(key=lambda d: not d.returned)
    from projects.programme_admin import writes_anywhere

    awaiting = None
    if leads_anywhere(user):
        awaiting = CMOConfiguration.objects.filter(
            status=ReviewStatus.IN_REVIEW, programme__in=membership.publishable_programmes(user).values("pk")
        ).count()
    return {"drafts": drafts, "returned": [d for d in drafts if d.returned], "awaiting_review": awaiting,
            "queue_url": queue_url() if writes_anywhere(user) else None}
