"""The publish lock: what a published configuration shows changes only by a lead evaluator.

The rule (README, "The publish lock"): a change by anyone who is not a lead evaluator (nor a
superuser) to anything a published CMO configuration shows is refused with PublishedKnowledgeLocked,
naming the published configurations concerned, and nothing is written. "Shows" is SHOWN_BY below:
the configuration's own fields and many-to-many relations, its Wish shifts, pathways and evidence
links, the excerpts those links cite and their sources, and the vocabulary rows it uses. Saving a
row unchanged is not a change (it is compared with the stored row).

Besides, for everyone, leads included: a source's full text is verbatim and never changes once an
excerpt points into it (check_source_text).

It is enforced at the model layer (pre_save, pre_delete and m2m_changed receivers connected in
connect()), so the admin, its inlines and actions, history revert, the API, management commands and
the shell all go through it. Admin forms and API serializers may call check_save()/check_delete()
earlier to show the refusal as a form error; the receivers remain the guarantee.

Who acts: ActingUserMiddleware keeps the current request in a context variable and
request.user is read at check time, so DRF's token users are seen (DRF sets the HttpRequest's user
when it authenticates). Outside any request (management commands, the shell, tests' own ORM calls)
the actor is the server operator, who acts with lead rights; acting_as(user) says otherwise.
"""

import contextlib
import contextvars

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.db.models.signals import m2m_changed, pre_delete, pre_save

from cmo_kb.vocabulary import RULE, ReviewStatus

PUBLISH_PERMISSION = "mechanisms.publish_cmoconfiguration"

# How to reach each model from CMOConfiguration: the lookups (ORM paths) along which a configuration
# shows a row of it, on its page or in its API representation.
SHOWN_BY = {
    "mechanisms.CMOConfiguration": ("pk",),
    "mechanisms.WishShift": ("wish_shifts",),
    "mechanisms.ConfigurationPathway": ("configurationpathway",),
    "evidence.EvidenceLink": ("evidence_links",),
    "mechanisms.ConfigurationChain": ("chains_out", "chains_in"),
    "evidence.EvidenceExcerpt": ("evidence_links__excerpt", "chains_out__evidence", "chains_in__evidence"),
    "evidence.Source": ("evidence_links__excerpt__source",),
    "evidence.SpeakerRole": ("evidence_links__excerpt__speaker_role",),
    "projects.Team": ("teams", "evidence_links__excerpt__team"),
    "mechanisms.Context": ("contexts",),
    "mechanisms.Outcome": ("outcomes",),
    "mechanisms.OutcomeKind": ("outcomes__kind",),
    "mechanisms.EnablingMechanism": ("mechanism",),
    "mechanisms.MechanismTheme": ("theme",),
    "mechanisms.WishDimension": ("wish_shifts__dimension",),
    "mechanisms.WishPole": ("wish_shifts__toward",),
    "mechanisms.RelationshipPair": ("wish_shifts__between",),
    "mechanisms.Pathway": ("pathways",),
    "projects.QualityDomain": ("quality_domains",),
    "projects.RelationshipLevel": ("relationship_level",),
}

# Rows that belong to a configuration (a chain link to two), by the attributes naming it: a change
# that moves them to another configuration touches that one too.
CONFIGURATION_CHILDREN = {
    "mechanisms.WishShift": ("configuration_id",),
    "mechanisms.ConfigurationPathway": ("configuration_id",),
    "evidence.EvidenceLink": ("configuration_id",),
    "mechanisms.ConfigurationChain": ("from_configuration_id", "to_configuration_id"),
}

# Many-to-many relations of shown rows: (model, field name). Their through tables change without a
# save of either row.
SHOWN_M2M = (
    ("mechanisms.CMOConfiguration", "teams"),
    ("mechanisms.CMOConfiguration", "contexts"),
    ("mechanisms.CMOConfiguration", "outcomes"),
    ("mechanisms.CMOConfiguration", "quality_domains"),
    ("mechanisms.CMOConfiguration", "pathways"),
    ("mechanisms.Outcome", "quality_domains"),
    ("mechanisms.ConfigurationChain", "evidence"),
)

# Bookkeeping, not content: who and when, and search columns derived from the content.
NOT_CONTENT = {"created_by", "updated_by", "created_at", "updated_at", "search_text", "search_vector"}


class PublishedKnowledgeLocked(PermissionDenied):
    """A change refused by the publish lock. `configurations` is [(slug, title)] of the published
    configurations concerned; the API answers 403 {"detail": message, "configurations": [slugs]}."""

    def __init__(self, what, configurations):
        self.what = what
        self.configurations = list(configurations)
        self.message = locked_message(what, self.configurations)
        super().__init__(self.message)

    @property
    def slugs(self):
        return [slug for slug, _ in self.configurations]


def locked_message(what, configurations):
    count = len(configurations)
    shown = ", ".join(f"{slug} (“{title}”)" for slug, title in configurations[:20])
    more = f" and {count - 20} more" if count > 20 else ""
    noun = "a published configuration" if count == 1 else f"{count} published configurations"
    return (
        f"{what} is shown by {noun}: {shown}{more}. Only a lead evaluator can change what a published "
        "configuration shows; ask one to make the change, or to return the configuration to draft first."
    )


# --- Who acts ------------------------------------------------------------------------------------

OPERATOR = object()  # no request: a management command, the shell, a test's own ORM calls
_request = contextvars.ContextVar("publish_lock_request", default=None)
_actor = contextvars.ContextVar("publish_lock_actor", default=None)


class ActingUserMiddleware:
    """Keeps the request for the lock to read request.user lazily (put it right after
    AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextlib.contextmanager
def acting_as(user):
    """Check as if `user` made the changes inside the block (OPERATOR: lead rights)."""
    token = _actor.set(user)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor():
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    if request is None:
        return OPERATOR
    return getattr(request, "user", None)


def may_change_published(user, programme=None):
    """The operator and superusers change anything; a lead evaluator changes what the published
    configurations of the programmes they lead show (given ``programme``: whether they lead it)."""
    if user is OPERATOR:
        return True
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if programme is None:
        return False
    from projects.membership import can_publish

    return can_publish(user, programme)


# --- Which published configurations a row or a change concerns -----------------------------------


def _label(model):
    return model._meta.label


def is_shown_model(model):
    return _label(model) in SHOWN_BY


def published_showing(model, pks):
    """Published configurations that show any of the `model` rows `pks`, as [(slug, title)]. One query."""
    from mechanisms.models import CMOConfiguration

    pks = [pk for pk in pks if pk is not None]
    lookups = SHOWN_BY.get(_label(model))
    if not pks or not lookups:
        return []
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{f"{lookup}__in": pks})
    published = CMOConfiguration.objects.published().filter(condition)
    actor = current_actor()
    if actor is not OPERATOR and actor is not None and actor.is_authenticated:
        # A lead changes what the published configurations of the programmes they lead show.
        from projects.membership import publishable_programmes

        published = published.exclude(programme__in=publishable_programmes(actor).values("pk"))
    return list(published.order_by("slug").distinct().values_list("slug", "title"))


def configurations_concerned(instance):
    """Published configurations the row `instance` concerns: those showing it as stored, those it is
    being moved to (a Wish shift, pathway or link whose configuration changes), and itself for a
    configuration being made published."""
    from mechanisms.models import CMOConfiguration

    found = dict(published_showing(type(instance), [instance.pk]) if instance.pk is not None else [])
    owners = [getattr(instance, name) for name in CONFIGURATION_CHILDREN.get(_label(type(instance)), ())]
    if any(owners):
        found.update(published_showing(CMOConfiguration, owners))
    if (isinstance(instance, CMOConfiguration) and instance.status == ReviewStatus.PUBLISHED
            and not may_change_published(current_actor(), instance.programme_id)):
        found.setdefault(instance.slug, instance.title)
    return sorted(found.items())


def changed_fields(instance, update_fields=None):
    """Names of content fields whose value differs from the stored row (None for a new row).
    Costs one query."""
    model = type(instance)
    if instance.pk is None:
        return None
    deferred = instance.get_deferred_fields()
    fields = [
        f for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in NOT_CONTENT and f.attname not in deferred
        and (update_fields is None or f.name in update_fields or f.attname in update_fields)
    ]
    stored = model._base_manager.filter(pk=instance.pk).values(*[f.attname for f in fields]).first()
    if stored is None:
        return None
    changed = []
    for f in fields:
        try:
            value = f.to_python(getattr(instance, f.attname))
        except ValidationError:
            value = getattr(instance, f.attname)
        if value != stored[f.attname]:
            changed.append(f.name)
    return changed


def _describe(instance, stored=False):
    """'Context “Patients resigned…”', named as stored (a refused rename names the row it was)."""
    if stored and instance.pk is not None:
        instance = type(instance)._base_manager.filter(pk=instance.pk).first() or instance
    return f"{instance._meta.verbose_name[:1].upper()}{instance._meta.verbose_name[1:]} “{instance}”"


def _refuse_unless_allowed(what, configurations):
    if configurations and not may_change_published(current_actor()):
        raise PublishedKnowledgeLocked(what, configurations)


def check_save(instance, m2m=None, update_fields=None):
    """Raise if saving `instance` as it is now (and setting its many-to-many fields to `m2m`,
    {name: iterable of objects or pks}) is refused: the full-text rule for everyone, the lock for
    those who are not leads. Costs a query or two when the row is shown by anything."""
    model = type(instance)
    if _label(model) == "evidence.Source":
        check_source_text(instance)
    if not is_shown_model(model) or may_change_published(current_actor()):
        return
    changed = changed_fields(instance, update_fields)
    if changed is not None and not changed and not _m2m_changed(instance, m2m):
        return
    concerned = configurations_concerned(instance)
    if concerned:
        raise PublishedKnowledgeLocked(_describe(instance, stored=True), concerned)


def _m2m_changed(instance, m2m):
    if not m2m or instance.pk is None:
        return bool(m2m) and any(list(values) for values in m2m.values())
    for name, values in m2m.items():
        wanted = {getattr(v, "pk", v) for v in values}
        stored = set(getattr(instance, name).values_list("pk", flat=True))
        if wanted != stored:
            return True
    return False


def check_delete(instance):
    if not is_shown_model(type(instance)) or instance.pk is None:
        return
    if may_change_published(current_actor()):
        return
    _refuse_unless_allowed(_describe(instance), published_showing(type(instance), [instance.pk]))


def check_source_text(source, new_text=None):
    """A source's full text never changes once an excerpt points into it (for everyone)."""
    if source.pk is None:
        return
    if new_text is None:
        if "full_text" in source.get_deferred_fields():
            return
        new_text = source.full_text
    stored = type(source)._base_manager.filter(pk=source.pk).values_list("full_text", flat=True).first()
    if stored is None or stored == new_text:
        return
    count = source.excerpts.count()
    if count:
        raise ValidationError(
            {
                "full_text": ValidationError(
                    f"The full text is verbatim and cannot change: {count} excerpt{'s' if count != 1 else ''} "
                    f"point{'s' if count == 1 else ''} into it by character offsets. Add a new source for a "
                    "new version of the text.",
                    code=RULE,
                )
            }
        )


# --- The receivers -------------------------------------------------------------------------------


def _on_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw:  # loaddata restores rows as dumped
        return
    check_save(instance, update_fields=update_fields)


def _on_pre_delete(sender, instance, **kwargs):
    check_delete(instance)


def _m2m_receiver(owner, name):
    field = owner._meta.get_field(name)
    source_column = field.m2m_field_name()

    def receive(sender, instance, action, reverse, model, pk_set, **kwargs):
        if action not in ("pre_add", "pre_remove", "pre_clear"):
            return
        if may_change_published(current_actor()):
            return
        if action == "pre_clear":
            if reverse:
                owner_pks = list(owner._base_manager.filter(**{name: instance.pk}).values_list("pk", flat=True))
            else:
                owner_pks = [instance.pk] if sender._base_manager.filter(**{source_column: instance.pk}).exists() else []
        elif not pk_set:
            return
        else:
            owner_pks = list(pk_set) if reverse else [instance.pk]
        if not owner_pks:
            return
        what = f"The {field.verbose_name} of {_describe(instance)}" if not reverse else _describe(instance)
        _refuse_unless_allowed(what, published_showing(owner, owner_pks))

    return receive


def connect():
    """Connect the receivers (MechanismsConfig.ready). Idempotent."""
    from django.apps import apps

    for label in SHOWN_BY:
        model = apps.get_model(label)
        pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"publish_lock_save_{label}")
        pre_delete.connect(_on_pre_delete, sender=model, dispatch_uid=f"publish_lock_delete_{label}")
    for label, name in SHOWN_M2M:
        owner = apps.get_model(label)
        through = owner._meta.get_field(name).remote_field.through
        m2m_changed.connect(_m2m_receiver(owner, name), sender=through, weak=False,
                            dispatch_uid=f"publish_lock_m2m_{label}_{name}")
