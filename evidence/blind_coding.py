"""Blind comparison: two or more evaluators code the same source independently, each seeing only
their own codings until a lead of the programme reveals them all (issue 13).

A source's ``coding_blind`` flag says a comparison is running. While it is on, a coding of that
source is seen by its coder and by the programme's leads (and superusers), by no one else: not in
/api/codings/, the workspace, the workbench's codings list, nor the agreement report, which a
non-lead asks for in vain (403 naming the source) until the lead reveals the codings. Only a lead
turns the flag on or off, whichever door changes it (a pre_save guard, as the write rule is).
"""

from django.db.models import Q


def _leads_everything(user):
    return bool(user and user.is_authenticated and user.is_superuser)


def led_programmes(user):
    from projects.models import ProgrammeMembership, Role

    if not (user and user.is_authenticated):
        return ProgrammeMembership.objects.none().values("programme_id")
    return ProgrammeMembership.objects.filter(user=user, role=Role.LEAD).values("programme_id")


def hidden_codings(user, prefix=""):
    """A Q matching the codings ``user`` may not see because their source's coding is blind
    (``prefix`` reaches a coding from another model, e.g. "codings__")."""
    blind = Q(**{f"{prefix}excerpt__source__coding_blind": True})
    if _leads_everything(user):
        return Q(pk__in=[])
    if not (user and user.is_authenticated):
        return blind
    return blind & ~Q(**{f"{prefix}coder": user}) & ~Q(**{f"{prefix}excerpt__source__programme__in": led_programmes(user)})


def visible_codings(codings, user):
    """``codings`` without those a blind comparison hides from ``user``."""
    return codings.exclude(hidden_codings(user))


def refusal(user, sources):
    """Why ``user`` may not compare the codings of ``sources`` (Source rows, or (pk, slug, ...) rows),
    or None: a blind source is compared by the programme's leads only, until they reveal it."""
    from evidence.models import Source

    if _leads_everything(user):
        return None
    ids = [getattr(source, "pk", None) or source[0] for source in sources]
    blind = Source.objects.filter(pk__in=ids, coding_blind=True)
    if user and user.is_authenticated:
        blind = blind.exclude(programme__in=led_programmes(user))
    slugs = sorted(blind.values_list("slug", flat=True))
    if not slugs:
        return None
    return (f"Coding of {', '.join(slugs)} is blind: each coder sees only their own codings until a lead of the "
            "programme reveals them, and only leads compare them meanwhile.")


def _guard(sender, instance, raw=False, **kwargs):
    """Only a lead of the programme starts or ends a blind comparison."""
    if raw or instance.pk is None and not instance.coding_blind:
        return
    stored = type(instance)._base_manager.filter(pk=instance.pk).values_list("coding_blind", flat=True).first()
    if stored is None and not instance.coding_blind or stored == instance.coding_blind:
        return
    from projects.membership import ProgrammeWriteRefused, _actor, role_in
    from projects.models import Role

    actor = _actor()
    if actor is not None and role_in(actor, instance.programme_id) != Role.LEAD:
        raise ProgrammeWriteRefused(instance.programme, (
            f"Only a lead evaluator of '{instance.programme.slug}' can start or end a blind comparison of a "
            f"source's coding."))
