"""Starting a programme: its starting vocabulary copied from another programme.

An evaluator who opens a new evaluation starts from an empty vocabulary or from another programme's
(the terms, not the evidence or configurations): its enabling mechanisms and their themes, contexts,
outcomes, speaker roles and waves, with their slugs, names, descriptions and order, and the shared
frameworks it uses. Nothing in the source programme changes.
"""

from django.db import transaction

from projects.models import Programme

# (model label, fields copied besides slug/name/description/order)
COPIED_TERMS = (
    ("mechanisms.EnablingMechanism", ("short_name", "examples")),
    ("mechanisms.MechanismTheme", ()),  # its mechanism: the copy of the source's
    ("mechanisms.Context", ("category",)),
    ("mechanisms.Outcome", ("kind_id",)),
    ("evidence.SpeakerRole", ()),
    ("evidence.EvaluationWave", ("number", "period")),
)
BASE_FIELDS = ("slug", "name", "description", "order")


def copy_vocabulary(source: Programme, target: Programme):
    """Copy ``source``'s own terms into ``target`` (which must have none of the same slugs). Returns
    {model label: rows copied}. One transaction: all of it or nothing."""
    from django.apps import apps

    copied = {}
    with transaction.atomic():
        mechanisms = {}
        for label, extra in COPIED_TERMS:
            model = apps.get_model(label)
            count = 0
            for term in model.objects.filter(programme=source).order_by("pk"):
                values = {name: getattr(term, name) for name in BASE_FIELDS + extra}
                if label == "mechanisms.MechanismTheme":
                    values["mechanism_id"] = mechanisms[term.mechanism_id]
                copy = model(programme=target, **values)
                copy.full_clean()
                copy.save()
                if label == "mechanisms.EnablingMechanism":
                    mechanisms[term.pk] = copy.pk
                if label == "mechanisms.Outcome":
                    copy.quality_domains.set(term.quality_domains.all())
                count += 1
            copied[label] = count
        target.frameworks.add(*source.frameworks.all())
    return copied
