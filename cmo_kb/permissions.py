"""Who may do what through the REST API: anyone reads (what they see is decided by the queryset),
only evaluators write."""

from rest_framework import permissions

from cmo_kb.vocabulary import user_is_evaluator


class IsEvaluatorOrReadOnly(permissions.BasePermission):
    """Anyone reads (what they may see is decided by the queryset); only evaluators write."""

    message = "Only evaluators can change the knowledge base; analysts and anonymous clients read."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return request_is_evaluator(request)


def request_is_evaluator(request):
    """user_is_evaluator(request.user), computed once per request (it costs a query)."""
    if request is None:
        return False
    cached = getattr(request, "_kb_is_evaluator", None)
    if cached is None:
        cached = user_is_evaluator(request.user)
        request._kb_is_evaluator = cached
    return cached


def visible_configurations(request):
    """Configurations this request may see: published ones of the programmes the user may see, and
    all of those the user writes in (projects/membership.py visible_curated)."""
    from mechanisms.models import CMOConfiguration

    return CMOConfiguration.objects.visible_to(getattr(request, "user", None))


def visible_configuration(request):
    """visible_configurations as a condition on a configuration reached through a prefix: a callable
    ``prefix -> Q`` (mechanisms/chains.py filters both ends of a link with it, by join)."""
    from mechanisms.models import CMOConfiguration
    from projects.membership import curated_condition

    user = getattr(request, "user", None)
    return lambda prefix="": curated_condition(CMOConfiguration, user, prefix)
