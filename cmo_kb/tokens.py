"""Who may hold or hand out an API token for whom.

A token acts with its account's rights, so issuing one for a lead evaluator or a superuser would
let an evaluator publish or administer. Evaluators issue tokens for themselves and for accounts
that cannot write (analysts); superusers for anyone.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q

from cmo_kb.vocabulary import EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP


def token_grantable_users(user):
    """The active accounts `user` may see and issue API tokens for."""
    accounts = get_user_model().objects.filter(is_active=True)
    if user.is_superuser:
        return accounts
    read_only = Q(is_staff=False, is_superuser=False) & ~Q(groups__name__in=[EVALUATOR_GROUP, LEAD_EVALUATOR_GROUP])
    return accounts.filter(Q(pk=user.pk) | read_only).distinct()
