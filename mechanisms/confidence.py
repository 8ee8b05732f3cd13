"""Confidence assessed rather than asserted: a GRADE-CERQual style assessment of a configuration, and
the evidence profile computed from its links.

GRADE-CERQual (Lewin et al. 2018) judges confidence in a review finding from four components, each
with its concerns (none, minor, moderate, serious) and an explanation:

    methodological_limitations   the rigour of the studies or sources behind it
    coherence                    how well the finding fits the data across them
    adequacy                     the richness and quantity of the data
    relevance                    how far the data's context is the finding's

and gives an overall confidence (high, moderate, low, very low) with its reason. The fields live on
the configuration (CERQualAssessment, an abstract model it inherits), are blank until assessed, and
obey the same rules whichever door writes them (assessment_errors: the model's clean(), the API's
validation and a pre_save guard for the rest: commands, imports, history revert):

- an explanation goes with concerns, and concerns other than "none" need an explanation;
- an overall confidence needs all four components assessed and a reason.

The evidence profile (evidence_profile) is not stored: it is counted from the configuration's links,
so it cannot drift from them. A configuration without evidence is a hypothesis.
"""

from django.core.exceptions import ValidationError
from django.db import models

from cmo_kb.vocabulary import RULE


class Concerns(models.TextChoices):
    NONE = "none", "No or very minor concerns"
    MINOR = "minor", "Minor concerns"
    MODERATE = "moderate", "Moderate concerns"
    SERIOUS = "serious", "Serious concerns"


class AssessedConfidence(models.TextChoices):
    HIGH = "high", "High"
    MODERATE = "moderate", "Moderate"
    LOW = "low", "Low"
    VERY_LOW = "very_low", "Very low"


COMPONENTS = {
    "methodological_limitations": "Methodological limitations",
    "coherence": "Coherence",
    "adequacy": "Adequacy",
    "relevance": "Relevance",
}


def _concerns(label):
    return models.CharField(max_length=10, choices=Concerns, blank=True, default="", db_default="",
                            help_text=f"{label} (GRADE-CERQual): the concerns about it; blank until assessed.")


def _explanation(label):
    return models.TextField(blank=True, default="", db_default="",
                            help_text=f"Why these concerns about {label.lower()}.")


class CERQualAssessment(models.Model):
    """The GRADE-CERQual fields of a configuration (see the module's docstring)."""

    methodological_limitations = _concerns("Methodological limitations")
    methodological_limitations_explanation = _explanation("Methodological limitations")
    coherence = _concerns("Coherence")
    coherence_explanation = _explanation("Coherence")
    adequacy = _concerns("Adequacy")
    adequacy_explanation = _explanation("Adequacy")
    relevance = _concerns("Relevance")
    relevance_explanation = _explanation("Relevance")
    assessed_confidence = models.CharField(
        max_length=10, choices=AssessedConfidence, blank=True, default="", db_default="",
        help_text="The overall confidence in the configuration, assessed from the four components (GRADE-CERQual).")
    assessed_confidence_reason = models.TextField(blank=True, default="", db_default="",
                                                  help_text="Why this overall confidence.")

    class Meta:
        abstract = True


ASSESSMENT_FIELDS = [name for component in COMPONENTS for name in (component, f"{component}_explanation")] + [
    "assessed_confidence", "assessed_confidence_reason"]


def assessment_errors(values):
    """{field: message} for the assessment's rules broken by ``values`` (a configuration, or a dict
    of its fields); empty when it obeys them."""
    get = values.get if isinstance(values, dict) else (lambda name, default="": getattr(values, name, default))
    errors = {}
    for component, label in COMPONENTS.items():
        concerns, explanation = get(component, "") or "", (get(f"{component}_explanation", "") or "").strip()
        if explanation and not concerns:
            errors[component] = f"{label}: give the concerns that this explanation explains (none, minor, moderate or serious)."
        elif concerns and concerns != Concerns.NONE and not explanation:
            errors[f"{component}_explanation"] = (f"{label}: explain the {Concerns(concerns).label.lower()} "
                                                  "(GRADE-CERQual asks for the reason of every concern).")
    overall, reason = get("assessed_confidence", "") or "", (get("assessed_confidence_reason", "") or "").strip()
    if overall:
        missing = [label.lower() for component, label in COMPONENTS.items() if not get(component, "")]
        if missing:
            errors["assessed_confidence"] = ("An overall confidence is assessed from the four components: assess "
                                             f"{', '.join(missing)} first.")
        elif not reason:
            errors["assessed_confidence_reason"] = "Give the reason for the overall confidence."
    elif reason:
        errors["assessed_confidence"] = "Give the overall confidence (high, moderate, low or very low) this reason explains."
    return errors


def check_assessment(configuration):
    """Raise a ValidationError naming each field whose rule ``configuration`` breaks."""
    errors = assessment_errors(configuration)
    if errors:
        raise ValidationError({field: ValidationError(message, code=RULE) for field, message in errors.items()})


def _guard(sender, instance, raw=False, update_fields=None, **kwargs):
    """The rules at save, for the doors without a form or serializer (commands, imports, revert)."""
    if raw:
        return  # fixtures loaded as they were dumped
    if update_fields is not None and not set(update_fields) & set(ASSESSMENT_FIELDS):
        return
    check_assessment(instance)


# --- The evidence profile -------------------------------------------------------------------------


def evidence_profile(links):
    """What a configuration's evidence is, counted from its links. ``links``: dicts (or objects) with
    stance, kind, source, team and speaker_role (slugs or None). The same keys as the API's
    `evidence_profile`."""
    from evidence.models import ExcerptKind, Stance

    def get(link, name):
        return link.get(name) if isinstance(link, dict) else getattr(link, name)

    links = list(links)
    stances = [get(link, "stance") for link in links]
    kinds = [get(link, "kind") for link in links]
    return {
        "links": len(links),
        "supporting": stances.count(Stance.SUPPORTS),
        "challenging": stances.count(Stance.CHALLENGES),
        "illustrating": stances.count(Stance.ILLUSTRATES),
        "sources": len({get(link, "source") for link in links} - {None}),
        "teams": len({get(link, "team") for link in links} - {None}),
        "speaker_roles": len({get(link, "speaker_role") for link in links} - {None}),
        "participant_quotes": kinds.count(ExcerptKind.PARTICIPANT_QUOTE),
        "evaluator_findings": kinds.count(ExcerptKind.EVALUATOR_FINDING),
        "hypothesis": not links,
    }


def link_facts(link):
    """An EvidenceLink (its excerpt, source, team and role loaded) as evidence_profile reads it."""
    excerpt = link.excerpt
    return {"stance": link.stance, "kind": excerpt.kind, "source": excerpt.source_id, "team": excerpt.team_id,
            "speaker_role": excerpt.speaker_role_id}



def profile_of(configuration):
    """The evidence profile of one configuration, whatever page of its evidence is shown: one query."""
    from evidence.models import EvidenceLink

    rows = EvidenceLink.objects.filter(configuration=configuration).values_list(
        "stance", "excerpt__kind", "excerpt__source_id", "excerpt__team_id", "excerpt__speaker_role_id")
    return evidence_profile({"stance": stance, "kind": kind, "source": source, "team": team, "speaker_role": role}
                            for stance, kind, source, team, role in rows)


def components(configuration):
    """The four components as (label, concerns label, explanation), for pages; [] until assessed."""
    if not any(getattr(configuration, name) for name in COMPONENTS):
        return []
    return [(label, _display(configuration, name),
             getattr(configuration, f"{name}_explanation")) for name, label in COMPONENTS.items()]


def _display(configuration, name):
    value = getattr(configuration, name)
    return Concerns(value).label if value else "Not assessed"
