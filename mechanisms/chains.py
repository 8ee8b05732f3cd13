"""Chains of configurations: the outcome of one configuration is the context of the next (a
"ripple"). A ConfigurationChain row says that ``from_configuration`` leads to ``to_configuration``,
with a note and the excerpts that evidence the link.

Rules, on every path (save() runs them, as the excerpt's verbatim rule): both configurations are of
one programme; a configuration does not lead to itself; no cycle (a → b → … → a is refused, naming
the path); the evidence is of the same programme (an m2m_changed receiver, connected below).

``upstream`` / ``downstream`` walk a configuration's chain among the configurations a reader may
see, a query per step, at most MAX_DEPTH steps.

The model is declared here and imported by mechanisms/models.py.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import m2m_changed
from simple_history.models import HistoricalRecords

from cmo_kb.vocabulary import RULE, Curated

MAX_DEPTH = 20


class ConfigurationChain(Curated):
    """The outcome of ``from_configuration`` is (part of) the context of ``to_configuration``."""

    from_configuration = models.ForeignKey("mechanisms.CMOConfiguration", on_delete=models.CASCADE,
                                           related_name="chains_out", verbose_name="leads from")
    to_configuration = models.ForeignKey("mechanisms.CMOConfiguration", on_delete=models.CASCADE,
                                         related_name="chains_in", verbose_name="leads to")
    note = models.TextField(blank=True, help_text="How the outcome of the first becomes the context of the next.")
    evidence = models.ManyToManyField("evidence.EvidenceExcerpt", blank=True, related_name="chains",
                                      help_text="Excerpts that evidence the link.")

    history = HistoricalRecords(m2m_fields=[evidence])

    programme_path = "from_configuration__programme"

    class Meta:
        ordering = ["from_configuration", "to_configuration"]
        verbose_name = "configuration chain link"
        constraints = [
            models.UniqueConstraint(fields=["from_configuration", "to_configuration"], name="chain_link_once",
                                    violation_error_message="These configurations are already linked in this direction."),
            models.CheckConstraint(condition=~models.Q(from_configuration=models.F("to_configuration")),
                                   name="chain_link_not_to_itself",
                                   violation_error_message="A configuration cannot lead to itself."),
        ]

    def __str__(self):
        return f"{self.from_configuration.slug} → {self.to_configuration.slug}"

    @property
    def programme(self):
        return self.from_configuration.programme

    def clean(self):
        super().clean()
        if not (self.from_configuration_id and self.to_configuration_id):
            return
        if self.from_configuration_id == self.to_configuration_id:
            raise ValidationError({"to_configuration": ValidationError(
                "A configuration cannot lead to itself.", code=RULE)})
        if self.from_configuration.programme_id != self.to_configuration.programme_id:
            raise ValidationError({"to_configuration": ValidationError(
                f"'{self.to_configuration.slug}' is of another programme than '{self.from_configuration.slug}'.",
                code=RULE)})
        path = path_between(self.to_configuration_id, self.from_configuration_id, exclude=self.pk)
        if path:
            from mechanisms.models import CMOConfiguration

            slugs = dict(CMOConfiguration.objects.filter(pk__in=path).values_list("pk", "slug"))
            cycle = " → ".join([self.from_configuration.slug] + [slugs[pk] for pk in path])
            raise ValidationError({"to_configuration": ValidationError(
                f"This link would close a cycle: {cycle}. A chain runs one way.", code=RULE)})

    def save(self, *args, **kwargs):
        # The cycle rule reads other rows, so no constraint can hold it: it runs on every save.
        self.clean()
        super().save(*args, **kwargs)


def path_between(start, goal, exclude=None):
    """The configuration ids from ``start`` to ``goal`` along the stored chain links (both ends
    included), or [] when ``goal`` cannot be reached. A query per step."""
    if start == goal:
        return [start]
    links = ConfigurationChain.objects.all()
    if exclude is not None:
        links = links.exclude(pk=exclude)
    came_from = {start: None}
    frontier = [start]
    while frontier:
        step = {}
        for origin, target in links.filter(from_configuration_id__in=frontier).values_list(
                "from_configuration_id", "to_configuration_id"):
            if target not in came_from and target not in step:
                step[target] = origin
        came_from.update(step)
        if goal in step:
            path = [goal]
            while came_from[path[-1]] is not None:
                path.append(came_from[path[-1]])
            return path[::-1]
        frontier = list(step)
    return []


def walk(configuration, visible, direction, max_depth=MAX_DEPTH):
    """The chain links upstream (direction "up": what leads here) or downstream ("down"), breadth
    first, among the configurations ``visible(prefix)`` admits (a Q on a configuration reached
    through ``prefix``): [(depth, link)] with the link's configurations and evidence loaded. A query
    or two per step."""
    from evidence.models import EvidenceExcerpt

    mine, theirs = ("to_configuration", "from_configuration") if direction == "up" else ("from_configuration", "to_configuration")
    seen = {configuration.pk}
    frontier = [configuration.pk]
    found = []
    for depth in range(1, max_depth + 1):
        links = list(
            ConfigurationChain.objects.filter(visible(f"{theirs}__"), **{f"{mine}_id__in": frontier})
            .select_related("from_configuration", "to_configuration")
            .defer(*(f"{end}__{name}" for end in ("from_configuration", "to_configuration")
                     for name in ("search_vector", "search_text")))
            .prefetch_related(models.Prefetch("evidence", queryset=EvidenceExcerpt.objects.defer("search_vector")))
            .order_by(f"{theirs}__slug")
        )
        frontier = []
        for link in links:
            other = getattr(link, f"{theirs}_id")
            found.append((depth, link))
            if other not in seen:
                seen.add(other)
                frontier.append(other)
        if not frontier:
            break
    return found


def neighbours(ids, visible):
    """The configurations the configurations ``ids`` lead to and follow, among those ``visible(prefix)``
    admits (a Q on a configuration reached through ``prefix``): ({id: [slug, ...]}, {id: [slug, ...]}),
    slugs in order. One query."""
    ids = set(ids)
    leads_to, follows = {}, {}
    if not ids:
        return leads_to, follows
    rows = (
        ConfigurationChain.objects.filter(models.Q(from_configuration_id__in=ids) | models.Q(to_configuration_id__in=ids))
        .filter(visible("from_configuration__"), visible("to_configuration__"))
        .values_list("from_configuration_id", "from_configuration__slug", "to_configuration_id", "to_configuration__slug")
    )
    for origin, origin_slug, target, target_slug in rows:
        if origin in ids:
            leads_to.setdefault(origin, []).append(target_slug)
        if target in ids:
            follows.setdefault(target, []).append(origin_slug)
    for found in (leads_to, follows):
        for slugs in found.values():
            slugs.sort()
    return leads_to, follows


def _evidence_guard(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A chain link's evidence is of its configurations' programme, whichever door sets it."""
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    from projects.membership import refuse_unless_writer

    if not reverse:
        refuse_unless_writer(instance.from_configuration.programme)
    if action != "pre_add" or not pk_set:
        return
    if reverse:
        links = ConfigurationChain.objects.filter(pk__in=pk_set).exclude(
            from_configuration__programme_id=instance.source.programme_id)
        if links.exists():
            raise ValidationError({"chains": ValidationError(
                f"Excerpt '{instance.slug}' is of another programme than the chain link.", code=RULE)})
        return
    strays = sorted(model._base_manager.filter(pk__in=pk_set).exclude(
        source__programme_id=instance.from_configuration.programme_id).values_list("slug", flat=True))
    if strays:
        raise ValidationError({"evidence": ValidationError(
            f"Excerpts of another programme than '{instance.from_configuration.programme.slug}': {', '.join(strays)}.",
            code=RULE)})


m2m_changed.connect(_evidence_guard, sender=ConfigurationChain.evidence.through, dispatch_uid="chain_evidence_programme")
