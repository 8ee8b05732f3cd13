"""Curators' internal notes are for evaluators only; public rationale is for everyone.

Every note field of the knowledge base, and which kind it is:

Internal (evaluators only: pages, API, CSV, REFI-QDA exports):
- CMOConfiguration.notes: the curator's working notes on a configuration (why this confidence, what
  the report leaves open, where the evidence sits, what to check).
- EvidenceExcerpt.note: transcription notes on the verbatim span (page breaks, footnote markers,
  how the quote was attributed).

Public rationale (shown to everyone, as today):
- EvidenceLink.note: why an excerpt supports, challenges or illustrates a part of a configuration.
- WishShift.note: what the shift along a Wish dimension consists of.
- TeamQualityDomain.note, TeamRelationshipLevel.note: where the report states (or why the curator
  infers) a team's quality domain or relationship level; they go with the stated/inferred basis.
- FrameworkConcept.note: how the source presents a reference framework's construct (admin only).
"""

from cmo_kb.permissions import request_is_evaluator

INTERNAL_NOTE_HELP = "Evaluators only; absent for others. The curator's internal notes, not public rationale."


def shows_internal_notes(request):
    """Whether this request may see internal notes (evaluators, leads, superusers). A query for a
    signed-in user, once per request; none for anonymous visitors."""
    return request_is_evaluator(request)


class EvaluatorOnlyFieldsMixin:
    """A serializer whose `evaluator_only_fields` exist for evaluators only: for anyone else they are
    dropped from the fields (so from JSON and CSV alike). The schema keeps them, not required, with
    INTERNAL_NOTE_HELP as their description."""

    evaluator_only_fields = ()

    def get_fields(self):
        fields = super().get_fields()
        view = self.context.get("view")
        generating_schema = getattr(view, "swagger_fake_view", False)
        visible = generating_schema or shows_internal_notes(self.context.get("request"))
        for name in self.evaluator_only_fields:
            if name not in fields:
                continue
            if visible:
                fields[name].help_text = INTERNAL_NOTE_HELP
                fields[name].required = False
            else:
                del fields[name]
        return fields


def context_processor(request):
    """`show_internal_notes` for templates, evaluated only where a template asks for it."""
    return {"show_internal_notes": lambda: shows_internal_notes(request)}
