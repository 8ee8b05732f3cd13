"""The workbench's inter-coder agreement page (/admin/evidence/coding/agreement/), linked from the
codings list: pick sources of one programme, two or more coders and optionally codes; see per code
percent agreement, Cohen's kappa and Krippendorff's alpha, per source and over them, and the passages
where the coders disagree, each one click from the text (the source's coding page). The figures are
evidence/agreement.py's, as GET /api/agreement/ gives them."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from rest_framework.exceptions import APIException

from projects.membership import scope

from .agreement import compare
from .agreement_api import resolve
from .codes import Coding
from .models import Source

SHOWN_TEXT = 160


class AgreementForm(forms.Form):
    sources = forms.ModelMultipleChoiceField(queryset=Source.objects.none(), help_text="Sources of one programme.")
    coders = forms.ModelMultipleChoiceField(queryset=get_user_model().objects.none(), to_field_name="username",
                                            help_text="Two or more people who coded them.")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        sources = scope(Source.objects.defer("full_text"), user).filter(excerpts__codings__isnull=False).distinct()
        self.fields["sources"].queryset = sources.order_by("title")
        coded = Coding.objects.filter(excerpt__source__in=sources.values("pk")).values("coder_id")
        self.fields["coders"].queryset = get_user_model()._default_manager.filter(pk__in=coded).order_by("username")


def agreement_view(model_admin, request):
    form = AgreementForm(request.GET or None, user=request.user)
    report, sources = None, {}
    if form.is_bound and form.is_valid():
        try:
            comparison = resolve(request.user, [s.slug for s in form.cleaned_data["sources"]],
                                 [u.username for u in form.cleaned_data["coders"]], [])
        except APIException as refused:  # a 400 or 404 of the API: the field it names
            for field, messages in refused.detail.items():
                form.add_error("sources" if field == "source" else "coders" if field == "coders" else None,
                               ValidationError([str(message) for message in messages]))
        else:
            report = compare(comparison)
            texts = {source.slug: source for source in Source.objects.filter(pk__in=[s[0] for s in comparison.sources])}
            for result in report["results"]:
                for part in result["sources"]:
                    source = texts[part["source"]]
                    part["pk"] = source.pk
                    for span in part["disagreements"]:
                        text = source.full_text[span["start"]:span["end"]]
                        span["text"] = text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT - 1] + "…"
            sources = texts
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Inter-coder agreement",
        "form": form,
        "report": report,
        "sources": sources,
    }
    return TemplateResponse(request, "admin/evidence/coding/agreement.html", context)
