"""Who sees and who writes in which programme.

A programme is public or private. Everyone sees a public programme's published knowledge; a private
programme, and everything in it, exists only for its members. Within a programme a member's role
decides the rest: a lead evaluator publishes there, an evaluator writes there (and sees its drafts),
an analyst reads it. Superusers are members of every programme as leads.

Every model of a programme's knowledge says how to reach its programme (``programme_path``, a
lookup: "programme", "source__programme", "configuration__programme"); models without one are the
shared frameworks, global. ``scope`` narrows any queryset to the programmes a user may see with a
subquery, so it costs no query of its own and the rows read are those the user may see.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save

from projects.models import Programme, ProgrammeMembership, Role

WRITING_ROLES = (Role.LEAD, Role.EVALUATOR)


def _authenticated(user):
    return user is not None and getattr(user, "is_authenticated", False)


def visible_programmes(user):
    """The programmes the user may see: public ones and those they are a member of."""
    if _authenticated(user) and user.is_superuser:
        return Programme.objects.all()
    if not _authenticated(user):
        return Programme.objects.filter(is_public=True)
    member_of = ProgrammeMembership.objects.filter(user=user).values("programme_id")
    return Programme.objects.filter(Q(is_public=True) | Q(pk__in=member_of))


def programmes_with_role(user, roles):
    if not _authenticated(user):
        return Programme.objects.none()
    if user.is_superuser:
        return Programme.objects.all()
    return Programme.objects.filter(pk__in=ProgrammeMembership.objects.filter(user=user, role__in=roles).values("programme_id"))


def writable_programmes(user):
    """The programmes the user writes in (evaluator or lead there)."""
    return programmes_with_role(user, WRITING_ROLES)


def publishable_programmes(user):
    """The programmes the user publishes in (lead there)."""
    return programmes_with_role(user, (Role.LEAD,))


def role_in(user, programme):
    """The user's role in the programme (a Role value), or None. Superusers are leads everywhere."""
    if not _authenticated(user) or programme is None:
        return None
    if user.is_superuser:
        return Role.LEAD
    programme_id = getattr(programme, "pk", programme)
    cache = getattr(user, "_kb_roles", None)
    if cache is None:
        cache = user._kb_roles = dict(ProgrammeMembership.objects.filter(user=user).values_list("programme_id", "role"))
    return cache.get(programme_id)


def forget_roles(user):
    """Drop the roles role_in cached on this user object (after a membership changes)."""
    if hasattr(user, "_kb_roles"):
        del user._kb_roles


def can_see(user, programme):
    return programme is not None and (programme.is_public or role_in(user, programme) is not None)


def can_write(user, programme):
    return role_in(user, programme) in WRITING_ROLES


def can_publish(user, programme):
    return role_in(user, programme) == Role.LEAD


def programme_path(model):
    return getattr(model, "programme_path", None)


def scope(queryset, user):
    """The rows of ``queryset`` in programmes the user may see (all rows of a shared model)."""
    path = programme_path(queryset.model)
    if path is None or (_authenticated(user) and user.is_superuser):
        return queryset
    return queryset.filter(**{f"{path}__in": visible_programmes(user).values("pk")})


def visible_curated(queryset, user):
    """Reviewed rows (configurations): published rows of the programmes the user may see, and every
    row of the programmes the user writes in."""
    return queryset.filter(curated_condition(queryset.model, user))


def curated_condition(model, user, prefix=""):
    """visible_curated's condition as a Q, on rows of ``model`` reached through ``prefix`` (e.g.
    "from_configuration__" from a chain link): a join and two small subqueries on the programmes,
    where ``pk__in=visible_curated(...)`` made the database hash every visible row first."""
    from cmo_kb.vocabulary import ReviewStatus

    if _authenticated(user) and user.is_superuser:
        return Q()
    path = prefix + programme_path(model)
    published = Q(**{f"{prefix}status": ReviewStatus.PUBLISHED, f"{path}__in": visible_programmes(user).values("pk")})
    if not _authenticated(user):
        return published
    return published | Q(**{f"{path}__in": writable_programmes(user).values("pk")})


def programme_of(instance):
    """The programme an instance belongs to (None for a shared-framework row)."""
    path = programme_path(type(instance))
    if path is None:
        return None
    if path == "pk":
        return instance
    value = instance
    for part in path.split("__"):
        if value is None:
            return None
        value = getattr(value, part, None)
    return value


# --- The write rule, at the model layer ------------------------------------------------------------
# Like the publish lock (mechanisms/publish_lock.py), and with its notion of who acts, so the admin,
# its inlines and actions, history revert, the API, management commands and imports all obey it:
# a change to a programme's knowledge is made by an evaluator or lead of that programme; a change to
# the programme itself or its members by its lead; anyone who writes anywhere may create a programme
# (and becomes its lead). Outside a request the operator acts, with every right.


class ProgrammeWriteRefused(PermissionDenied):
    """A change refused because the user does not hold the role it needs in the programme. The API
    answers 403 {"detail": message, "programme": slug}."""

    def __init__(self, programme, message):
        self.programme = getattr(programme, "slug", programme)
        self.message = message
        super().__init__(message)


def _actor():
    from mechanisms.publish_lock import OPERATOR, current_actor

    actor = current_actor()
    if actor is OPERATOR or (actor is not None and getattr(actor, "is_superuser", False)):
        return None  # every right
    return actor


def _programme(programme_or_id):
    if programme_or_id is None or isinstance(programme_or_id, Programme):
        return programme_or_id
    return Programme.objects.filter(pk=programme_or_id).first()


def refuse_unless_writer(programme, actor=None, lead=False):
    """Raise ProgrammeWriteRefused unless the acting user writes (``lead``: leads) in ``programme``."""
    actor = _actor() if actor is None else actor
    if actor is None or programme is None:
        return
    programme = _programme(programme)
    role = role_in(actor, programme)
    if lead and role != Role.LEAD:
        raise ProgrammeWriteRefused(programme, (
            f"Only a lead evaluator of the programme '{programme.slug}' can change the programme or its members."
        ))
    if not lead and role not in WRITING_ROLES:
        raise ProgrammeWriteRefused(programme, (
            f"You do not write in the programme '{programme.slug}': only its evaluators and lead evaluators "
            "can change it. Ask its lead to add you as a member."
        ))


def _stored_programme_id(instance):
    path = programme_path(type(instance))
    if instance.pk is None or path in (None, "pk"):
        return None
    return type(instance)._base_manager.filter(pk=instance.pk).values_list(path, flat=True).first()


def check_write(instance, deleting=False):
    """Raise ProgrammeWriteRefused if the acting user may not save (or delete) ``instance``."""
    actor = _actor()
    if actor is None:
        return
    if isinstance(instance, Programme):
        if instance.pk is None:
            from cmo_kb.vocabulary import user_is_evaluator

            if not user_is_evaluator(actor):
                raise ProgrammeWriteRefused(instance.slug, "Only evaluators can create a programme.")
            return
        refuse_unless_writer(instance, actor, lead=True)
        return
    if isinstance(instance, ProgrammeMembership):
        refuse_unless_writer(instance.programme_id, actor, lead=True)
        stored = _stored_programme_id(instance)
        if stored is not None and stored != instance.programme_id:
            refuse_unless_writer(stored, actor, lead=True)
        return
    programme = programme_of(instance)
    if programme is None and programme_path(type(instance)) is None:
        return
    refuse_unless_writer(programme, actor)
    if not deleting:
        stored = _stored_programme_id(instance)
        if stored is not None and stored != getattr(programme, "pk", None):
            refuse_unless_writer(stored, actor)


def _on_pre_save(sender, instance, raw=False, **kwargs):
    if not raw:
        check_write(instance)


def _on_pre_delete(sender, instance, **kwargs):
    check_write(instance, deleting=True)


def _creator_leads(sender, instance, created, raw=False, **kwargs):
    """The creator of a programme becomes its lead (superusers and the operator need no membership)."""
    actor = _actor()
    if created and not raw and actor is not None:
        from mechanisms.publish_lock import OPERATOR, acting_as

        with acting_as(OPERATOR):  # the creator is not its lead until this row exists
            ProgrammeMembership.objects.get_or_create(programme=instance, user=actor, defaults={"role": Role.LEAD})
        forget_roles(actor)


def _m2m_guard(owner, name):
    """A configuration's teams, contexts and outcomes are of its own programme (for everyone); only
    writers of the programme change them."""
    field = owner._meta.get_field(name)
    target = field.related_model
    same_programme = programme_path(target) == "programme"

    def receive(sender, instance, action, reverse, model, pk_set, **kwargs):
        if action not in ("pre_add", "pre_remove", "pre_clear"):
            return
        refuse_unless_writer(programme_of(instance))
        if action != "pre_add" or not pk_set or not same_programme:
            return
        others = model._base_manager.filter(pk__in=pk_set).exclude(programme_id=instance.programme_id)
        strays = sorted(others.values_list("slug", flat=True))
        if strays:
            noun = owner._meta.verbose_name if reverse else field.verbose_name
            raise ValidationError({name if not reverse else "configurations": ValidationError(
                f"{noun.capitalize()} of another programme than '{instance.programme.slug}': {', '.join(strays)}.",
                code="rule",
            )})

    return receive


def _frameworks_guard(sender, instance, action, reverse, **kwargs):
    if action in ("pre_add", "pre_remove", "pre_clear") and not reverse:
        refuse_unless_writer(instance, lead=True)


def connect():
    """Connect the receivers (ProjectsConfig.ready). Idempotent."""
    from django.apps import apps

    for model in apps.get_models():
        if programme_path(model) is None or model._meta.app_label not in ("projects", "mechanisms", "evidence"):
            continue
        label = model._meta.label
        pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"programme_guard_save_{label}")
        pre_delete.connect(_on_pre_delete, sender=model, dispatch_uid=f"programme_guard_delete_{label}")
    post_save.connect(_creator_leads, sender=Programme, dispatch_uid="programme_creator_leads")
    m2m_changed.connect(_frameworks_guard, sender=Programme.frameworks.through, dispatch_uid="programme_frameworks_guard")
    from mechanisms.models import CMOConfiguration

    for name in ("teams", "contexts", "outcomes", "quality_domains", "pathways"):
        through = CMOConfiguration._meta.get_field(name).remote_field.through
        m2m_changed.connect(_m2m_guard(CMOConfiguration, name), sender=through, weak=False,
                            dispatch_uid=f"programme_guard_m2m_{name}")
