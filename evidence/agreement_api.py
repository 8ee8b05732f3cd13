"""GET /api/agreement/?source=<slug>[,<slug>…]&coders=<username>,<username>[,…][&code=<id>[,<id>…]]:
inter-coder agreement per code (evidence/agreement.py says how it is counted).

Read like the rest: the sources must be ones the caller may see (a private programme's source is
unknown to others), all of one programme; the coders are usernames (at least two); the codes are ids
of that programme's codes (without ?code=, every code any of the coders used on the sources)."""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from cmo_kb.api import KBAPIDefaults
from projects.membership import scope

from .agreement import Comparison, compare
from .codes import Code, Coding
from .models import Source

MAX_SOURCES = 50
MAX_CODERS = 20
MAX_CODES = 200
# What the schema states of each parameter (schemathesis holds the API to it): a comma list of non-blank
# items, as many as the view takes; a well-formed list naming what does not exist is a 404 naming it.
_ITEM = r"\s*[^,\s\u0000][^,\u0000]*"  # (no NUL: no parameter may hold one, cmo_kb/middleware.py)
SOURCE_PATTERN = rf"^{_ITEM}(,{_ITEM}){{0,{MAX_SOURCES - 1}}}$"
CODERS_PATTERN = rf"^{_ITEM}(,{_ITEM}){{1,{MAX_CODERS - 1}}}$"
CODE_PATTERN = rf"^\s*[0-9]{{1,18}}\s*(,\s*[0-9]{{1,18}}\s*){{0,{MAX_CODES - 1}}}$"


def _listed(value):
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def resolve(user, source_slugs, coder_names, code_ids):
    """The Comparison a request asks for, or a ValidationError naming each parameter at fault (a 400:
    missing, blank or too many), or NotFound naming what does not exist (a 404)."""
    errors, missing = {}, {}
    sources = []
    if not source_slugs:
        errors["source"] = ["source is required: the slug of a source, or several separated by commas."]
    elif len(source_slugs) > MAX_SOURCES:
        errors["source"] = [f"At most {MAX_SOURCES} sources at a time (got {len(source_slugs)})."]
    else:
        from django.db.models.functions import Length

        found = {
            row[1]: row for row in scope(Source.objects.all(), user)
            .filter(slug__in=source_slugs).annotate(length=Length("full_text"))
            .values_list("pk", "slug", "title", "length", "programme_id")
        }
        unknown = [slug for slug in source_slugs if slug not in found]
        if unknown:
            missing["source"] = [f"Unknown source {', '.join(repr(slug) for slug in unknown)}."]
        elif len({row[4] for row in found.values()}) > 1:
            errors["source"] = ["The sources must all be of one programme (codes are a programme's own)."]
        else:
            sources = [found[slug][:4] for slug in dict.fromkeys(source_slugs)]
    coders = []
    names = list(coder_names)  # the same coder twice is compared with themselves
    if len(names) < 2:
        errors["coders"] = ["Give at least two coders' usernames, separated by commas."]
    elif len(names) > MAX_CODERS:
        errors["coders"] = [f"At most {MAX_CODERS} coders at a time (got {len(names)})."]
    else:
        users = {user.username: user for user in get_user_model()._default_manager.filter(username__in=names)}
        unknown = [name for name in names if name not in users]
        if unknown:
            missing["coders"] = [f"Unknown coder {', '.join(repr(name) for name in unknown)}."]
        coders = [users[name] for name in names if name in users]
    ids = []
    if len(code_ids) > MAX_CODES:
        errors["code"] = [f"At most {MAX_CODES} codes at a time (got {len(code_ids)})."]
        code_ids = []
    for value in code_ids:
        if not value.isdigit() or len(value) > 18:
            errors["code"] = [f"{value!r} is not a code id (a whole number)."]
            break
        ids.append(int(value))
    if errors:
        raise exceptions.ValidationError(errors)
    if missing:
        raise exceptions.NotFound(missing)
    from .blind_coding import refusal

    blind = refusal(user, sources)
    if blind:
        raise exceptions.PermissionDenied({"source": [blind]})
    programme_id = Source.objects.filter(pk=sources[0][0]).values_list("programme_id", flat=True).get()
    codes = Code.objects.filter(programme_id=programme_id).order_by("order", "id")
    if ids:
        codes = list(codes.filter(pk__in=ids))
        missing = sorted(set(ids) - {code.pk for code in codes})
        if missing:
            raise exceptions.NotFound({"code": [
                f"No code {', '.join(map(str, missing))} in this source's programme."]})
    else:
        used = Coding.objects.filter(excerpt__source_id__in=[row[0] for row in sources],
                                     coder__in=coders).values("code_id")
        codes = list(codes.filter(pk__in=used))
    return Comparison(sources=sources, coders=coders, codes=codes)


_pair = inline_serializer("AgreementPair", {
    "coders": serializers.ListField(child=serializers.CharField()),
    "percent_agreement": serializers.FloatField(allow_null=True),
    "kappa": serializers.FloatField(allow_null=True, help_text="Cohen's κ; null when undefined."),
}, many=True)
_figures = {
    "units": serializers.IntegerField(help_text="Characters compared."),
    "percent_agreement": serializers.FloatField(allow_null=True, help_text="0–100; the mean over pairs of coders."),
    "kappa": serializers.FloatField(allow_null=True, help_text="Cohen's κ, the mean over pairs; over several "
                                    "sources weighted by their length."),
    "alpha": serializers.FloatField(allow_null=True, help_text="Krippendorff's α (nominal) across all the coders; "
                                    "null when undefined (nobody coded anything, or everyone everything)."),
    "pairs": _pair,
}
_span = inline_serializer("AgreementDisagreement", {
    "start": serializers.IntegerField(), "end": serializers.IntegerField(),
    "coded_by": serializers.ListField(child=serializers.CharField(), help_text="The coders who coded this span."),
}, many=True)
_per_source = inline_serializer("AgreementSource", {
    "source": serializers.CharField(), "title": serializers.CharField(), **_figures,
    "disagreements_total": serializers.IntegerField(),
    "disagreements": _span,
}, many=True)
AgreementSerializer = inline_serializer("Agreement", {
    "sources": inline_serializer("AgreementSourceUnits", {
        "source": serializers.CharField(), "title": serializers.CharField(), "units": serializers.IntegerField()},
        many=True),
    "coders": serializers.ListField(child=serializers.CharField()),
    "results": inline_serializer("AgreementCode", {
        "code": serializers.IntegerField(), "code_name": serializers.CharField(), "guid": serializers.CharField(),
        **_figures, "sources": _per_source}, many=True),
    "overall": inline_serializer("AgreementOverall", _figures),
})


class AgreementView(KBAPIDefaults, GenericAPIView):
    """Inter-coder agreement on sources coded by two or more evaluators.

    Each character of a source is a unit, coded or not by each coder with each code (NVivo's method).
    Per code: percent agreement and Cohen's κ (the mean over pairs of coders, each pair listed) and
    Krippendorff's α (nominal, all coders at once), per source and over the sources (weighted by their
    length), with the spans where the coders disagree; then the overall figures across codes.
    """

    pagination_class = None
    filter_backends = []
    extra_query_params = ("source", "coders", "code")
    # A source, coder or code that does not exist (or is not yours to see): 404; a blind source's
    # comparison asked by someone who does not lead its programme: 403.
    schema_extra_error_codes = {"get": [403, 404]}

    def get_queryset(self):
        return Coding.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("source", {"type": "string", "pattern": SOURCE_PATTERN}, required=True,
                             description=f"A source's slug, or up to {MAX_SOURCES} of one programme separated by "
                             "commas. One you may not see, or none, is a 404 naming it."),
            OpenApiParameter("coders", {"type": "string", "pattern": CODERS_PATTERN}, required=True,
                             description=f"Two to {MAX_CODERS} usernames separated by commas (404 naming one "
                             "that does not exist)."),
            OpenApiParameter("code", {"type": "string", "pattern": CODE_PATTERN},
                             description=f"A code id, or up to {MAX_CODES} separated by commas (default: every "
                             "code the coders used on the sources; 404 naming one not of their programme)."),
        ],
        responses=AgreementSerializer,
    )
    def get(self, request):
        allowed = {"format", *self.extra_query_params}
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise exceptions.ValidationError(
                {name: [f"Unknown query parameter. Accepted: {', '.join(sorted(allowed))}."] for name in unknown})
        comparison = resolve(request.user, _listed(request.query_params.get("source")),
                             _listed(request.query_params.get("coders")), _listed(request.query_params.get("code")))
        report = compare(comparison)
        if getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv":
            return Response({"csv_rows": csv_rows(report)})
        return Response(report)


def csv_rows(report):
    """One line per code and source, then the code over all the sources, then overall."""
    rows = []

    def line(code, source, figures):
        return {"code": code, "source": source, "units": figures["units"],
                "percent_agreement": figures["percent_agreement"], "kappa": figures["kappa"],
                "alpha": figures["alpha"]}

    for result in report["results"]:
        for source in result["sources"]:
            rows.append(line(result["code_name"], source["source"], source))
        rows.append(line(result["code_name"], "(all sources)", result))
    rows.append(line("(all codes)", "(all sources)", report["overall"]))
    return rows
