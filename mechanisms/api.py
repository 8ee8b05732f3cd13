"""API resources of the mechanisms app: the CMO vocabularies, configurations and the matrix."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from cmo_kb.api import (
    KBAPIDefaults,
    KBModelViewSet,
    SearchHitSerializerMixin,
    vocabulary_serializer,
)
from cmo_kb.filters import (
    ChoiceListFilter,
    DateTimeFilter,
    IntegerListFilter,
    KBFilterSet,
    SearchParamFilter,
    SlugListFilter,
    StrictBooleanFilter,
    TextListFilter,
    VocabularyFilterSet,
    WholeNumberFilter,
    _boolean,
)
from cmo_kb.internal_notes import EvaluatorOnlyFieldsMixin, shows_internal_notes
from cmo_kb.openapi import filter_parameters
from cmo_kb.pagination import KBCursorPagination
from cmo_kb.permissions import request_is_evaluator, visible_configuration, visible_configurations
from cmo_kb.serializer_fields import (
    KBModelSerializer,
    StrictCharField,
    StrictSlugRelatedField,
    programme_field,
)
from cmo_kb.vocabulary import RULE, ReviewStatus
from projects.membership import can_publish
from evidence.models import EvidenceLink, Stance
from evidence.search import search_configurations
from mechanisms import configuration_export, workflow
from mechanisms.confidence import ASSESSMENT_FIELDS, AssessedConfidence, assessment_errors, evidence_profile, link_facts
from mechanisms.matrix import AXES, IDS_LIMIT, build_matrix
from mechanisms.models import (
    CMOConfiguration,
    ConceptMapping,
    Confidence,
    ConfigurationPathway,
    Context,
    Effect,
    EnablingMechanism,
    Framework,
    FrameworkConcept,
    Influence,
    MechanismTheme,
    Outcome,
    OutcomeKind,
    Pathway,
    RelationshipPair,
    WishDimension,
    WishPole,
    WishShift,
)
from projects.models import QualityDomain, RelationshipLevel, Team

# --- Vocabularies -------------------------------------------------------------------------------

def _configurations_url(self, obj) -> str:
    return f"/api/configurations/?mechanism={obj.slug}"


MechanismSerializer = vocabulary_serializer(
    EnablingMechanism,
    ["short_name", "examples", "themes", "configurations_url"],
    themes=StrictSlugRelatedField(slug_field="slug", many=True, read_only=True),
    configurations_url=serializers.SerializerMethodField(help_text="This mechanism's configurations in the API."),
    get_configurations_url=_configurations_url,
)


class MechanismViewSet(KBModelViewSet):
    """The four enabling mechanisms (section 4), each with its themes."""

    queryset = EnablingMechanism.objects.prefetch_related("themes")
    serializer_class = MechanismSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


class ThemeFilterSet(VocabularyFilterSet):
    mechanism = SlugListFilter(EnablingMechanism, noun="mechanism", field_name="mechanism", list_url="/api/mechanisms/")


ThemeSerializer = vocabulary_serializer(
    MechanismTheme, ["mechanism"], mechanism=StrictSlugRelatedField(slug_field="slug", queryset=EnablingMechanism.objects.all())
)


class ThemeViewSet(KBModelViewSet):
    """Mechanism themes: section 4's sub-headings under each mechanism (e.g. Targeting)."""

    queryset = MechanismTheme.objects.select_related("mechanism")
    serializer_class = ThemeSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = ThemeFilterSet


class WishPoleSerializer(KBModelSerializer):
    class Meta:
        model = WishPole
        fields = ["slug", "name", "description", "position"]


WishDimensionSerializer = vocabulary_serializer(WishDimension, ["poles"], poles=WishPoleSerializer(many=True, read_only=True))


class WishDimensionViewSet(KBModelViewSet):
    """Wish's four relationship dimensions, each a spectrum between two poles (position -1 and +1)."""

    queryset = WishDimension.objects.prefetch_related("poles")
    serializer_class = WishDimensionSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


PathwaySerializer = vocabulary_serializer(
    Pathway, ["letter", "example", "example_team"],
    example_team=StrictSlugRelatedField(slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False),
)


class PathwayViewSet(KBModelViewSet):
    """RAND Europe's pathways A–D between intervention, relationship change and quality."""

    queryset = Pathway.objects.select_related("example_team")
    serializer_class = PathwaySerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


class ContextFilterSet(VocabularyFilterSet):
    category = TextListFilter(field_name="category", help_text="Context category, e.g. organisational.")


ContextSerializer = vocabulary_serializer(Context, ["category"])


class ContextViewSet(KBModelViewSet):
    """Contexts: circumstances that decide whether a mechanism fires."""

    queryset = Context.objects.all()
    serializer_class = ContextSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = ContextFilterSet


class OutcomeFilterSet(VocabularyFilterSet):
    kind = SlugListFilter(OutcomeKind, noun="outcome kind", field_name="kind", list_url="/api/outcome-kinds/")
    quality_domain = SlugListFilter(QualityDomain, noun="quality domain", field_name="quality_domains",
                                    list_url="/api/quality-domains/")


OutcomeSerializer = vocabulary_serializer(
    Outcome, ["kind", "quality_domains"],
    kind=StrictSlugRelatedField(slug_field="slug", queryset=OutcomeKind.objects.all()),
    quality_domains=StrictSlugRelatedField(slug_field="slug", queryset=QualityDomain.objects.all(), many=True, required=False),
)


class OutcomeViewSet(KBModelViewSet):
    """Outcomes, with their kind (relationship change, quality, patient, professional, system) and
    the quality domains they touch."""

    queryset = Outcome.objects.select_related("kind").prefetch_related("quality_domains")
    serializer_class = OutcomeSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = OutcomeFilterSet


class OutcomeKindViewSet(KBModelViewSet):
    """Kinds of outcome (values of the configurations' `outcome_kind` filter)."""

    queryset = OutcomeKind.objects.all()
    serializer_class = vocabulary_serializer(OutcomeKind)
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


class RelationshipPairViewSet(KBModelViewSet):
    """Between whom a Wish shift happens (values of the configurations' `wish_between` filter)."""

    queryset = RelationshipPair.objects.all()
    serializer_class = vocabulary_serializer(RelationshipPair)
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


# --- Shared frameworks and the crosswalk --------------------------------------------------------


class FrameworkConceptSerializer(KBModelSerializer):
    class Meta:
        model = FrameworkConcept
        fields = ["slug", "name", "description", "order"]


FrameworkSerializer = vocabulary_serializer(
    Framework, ["concepts"], concepts=FrameworkConceptSerializer(many=True, read_only=True),
)


class FrameworkViewSet(KBModelViewSet):
    """Shared frameworks from the literature (Normalisation Process Theory, diffusion of innovations...)
    and their concepts, global: every programme may use them (a programme's `frameworks`), and the
    crosswalk (/api/concept-mappings/) maps a programme's own terms onto their concepts."""

    queryset = Framework.objects.prefetch_related("concepts")
    serializer_class = FrameworkSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


class ConceptMappingSerializer(KBModelSerializer):
    """A crosswalk entry: one of a programme's own terms is a case of a shared framework concept."""

    programme = programme_field(required=False, help_text="The programme whose term is mapped (see /api/programmes/); "
                                "optional when you write in one programme only.")
    concept = StrictSlugRelatedField(slug_field="slug", queryset=FrameworkConcept.objects.all(),
                                     help_text="Slug of the shared concept (global; see /api/frameworks/).")
    framework = StrictSlugRelatedField(source="concept.framework", slug_field="slug", read_only=True,
                                       help_text="The concept's framework.")
    mechanism = StrictSlugRelatedField(slug_field="slug", queryset=EnablingMechanism.objects.all(), allow_null=True,
                                       required=False, help_text="A mechanism of the programme (slug within it).")
    theme = StrictSlugRelatedField(slug_field="slug", queryset=MechanismTheme.objects.all(), allow_null=True,
                                   required=False, help_text="A mechanism theme of the programme.")
    context = StrictSlugRelatedField(slug_field="slug", queryset=Context.objects.all(), allow_null=True,
                                     required=False, help_text="A context of the programme.")
    outcome = StrictSlugRelatedField(slug_field="slug", queryset=Outcome.objects.all(), allow_null=True,
                                     required=False, help_text="An outcome of the programme.")

    class Meta:
        model = ConceptMapping
        fields = ["id", "programme", "concept", "framework", "mechanism", "theme", "context", "outcome", "note"]

    def get_validators(self):
        return []  # a term mapped to a concept once: checked in validate, on the term's field

    def validate(self, attrs):
        terms = ConceptMapping.TERMS
        if self.instance is not None and any(name in attrs for name in terms):
            for name in terms:  # the term sent replaces the stored one
                attrs.setdefault(name, None)
        final = {name: attrs[name] if name in attrs else getattr(self.instance, name, None) for name in terms}
        chosen = [name for name, value in final.items() if value is not None]
        message = "Give exactly one of mechanism, theme, context or outcome: the programme's term that is a case of the concept."
        if not chosen:
            raise serializers.ValidationError({name: [message] for name in terms}, code="required")
        if len(chosen) > 1:
            raise serializers.ValidationError({name: [f"{message} Got {', '.join(chosen)}."] for name in chosen})
        name = chosen[0]
        concept = attrs.get("concept", getattr(self.instance, "concept", None))
        twice = ConceptMapping.objects.filter(**{name: final[name], "concept": concept})
        if self.instance is not None:
            twice = twice.exclude(pk=self.instance.pk)
        if concept is not None and twice.exists():
            raise serializers.ValidationError({name: [
                f"'{final[name].slug}' is already mapped to the concept '{concept.slug}'."]}, code="unique")
        return attrs


class ConceptMappingFilterSet(KBFilterSet):
    concept = SlugListFilter(FrameworkConcept, noun="framework concept", field_name="concept", list_url="/api/frameworks/")
    framework = SlugListFilter(Framework, field_name="concept__framework", list_url="/api/frameworks/")
    mechanism = SlugListFilter(EnablingMechanism, noun="mechanism", field_name="mechanism", list_url="/api/mechanisms/")
    theme = SlugListFilter(MechanismTheme, noun="theme", field_name="theme", list_url="/api/themes/")
    context = SlugListFilter(Context, field_name="context", list_url="/api/contexts/")
    outcome = SlugListFilter(Outcome, field_name="outcome", list_url="/api/outcomes/")

    class Meta:
        model = ConceptMapping
        fields = []


class ConceptMappingViewSet(KBModelViewSet):
    """The crosswalk: which of a programme's own terms (a mechanism, a theme, a context or an outcome,
    exactly one) is a case of which shared framework concept, so that configurations of programmes
    with different vocabularies compare on the shared axis: ?concept= on /api/configurations/ and
    the matrix's `concept` axis. Read with the programme (a private programme's mappings are its
    members'); written by the programme's evaluators and leads (403 naming the programme for anyone
    else). Looked up by id."""

    lookup_field = "pk"
    queryset = ConceptMapping.objects.select_related("programme", "concept__framework", "mechanism", "theme", "context",
                                                     "outcome").order_by("programme__slug", "concept__slug", "pk")
    serializer_class = ConceptMappingSerializer
    filterset_class = ConceptMappingFilterSet
    list_reads_rows = True  # cmo_kb/api.py ValuesRows


# --- Configurations -------------------------------------------------------------------------------


class ConceptFilter(SlugListFilter):
    """Configurations that the crosswalk maps to any of these shared concepts: their mechanism or
    theme, or one of their contexts or outcomes, is mapped to it (mechanisms.models.ConceptMapping)."""

    def apply(self, qs, value):
        return qs.filter(configurations_mapped_to(ConceptMapping.objects.filter(concept__slug__in=value)))


def configurations_mapped_to(mappings):
    """A Q of the configurations whose terms ``mappings`` (a ConceptMapping queryset) map: subqueries,
    so a configuration with two mapped contexts is one row."""
    config = CMOConfiguration
    contexts = config.contexts.through.objects.filter(
        context__in=mappings.filter(context__isnull=False).values("context")).values("cmoconfiguration_id")
    outcomes = config.outcomes.through.objects.filter(
        outcome__in=mappings.filter(outcome__isnull=False).values("outcome")).values("cmoconfiguration_id")
    return (Q(mechanism__in=mappings.filter(mechanism__isnull=False).values("mechanism"))
            | Q(theme__in=mappings.filter(theme__isnull=False).values("theme"))
            | Q(pk__in=contexts) | Q(pk__in=outcomes))


class ConfigurationFilterSet(KBFilterSet):
    """Filters of /api/configurations/ and /api/matrix/."""

    id = IntegerListFilter(field_name="pk", help_text="Configuration ids (as in matrix cells).")
    slug = TextListFilter(field_name="slug", help_text="Part of the configuration's slug.")
    team = SlugListFilter(Team, field_name="teams", list_url="/api/teams/")
    mechanism = SlugListFilter(EnablingMechanism, noun="mechanism", field_name="mechanism", list_url="/api/mechanisms/")
    theme = SlugListFilter(MechanismTheme, noun="theme", field_name="theme", list_url="/api/themes/")
    effect = ChoiceListFilter(Effect.choices, field_name="effect", help_text="Whether the mechanism fired.")
    influence = ChoiceListFilter(Influence.choices, field_name="influence", help_text="Barrier or enabler.")
    barrier_or_enabler = ChoiceListFilter(Influence.choices, field_name="influence", help_text="Alias of `influence`.")
    context = SlugListFilter(Context, field_name="contexts", list_url="/api/contexts/")
    outcome = SlugListFilter(Outcome, field_name="outcomes", list_url="/api/outcomes/")
    outcome_kind = SlugListFilter(OutcomeKind, noun="outcome kind", field_name="outcomes__kind", list_url="/api/outcome-kinds/")
    wish_dimension = SlugListFilter(
        WishDimension, noun="Wish dimension", field_name="dimension", list_url="/api/wish-dimensions/",
        help_text="Slug of a Wish dimension the configuration shifts (see /api/wish-dimensions/). "
        "Combined with wish_direction and wish_between, all must hold for the same shift.",
    )
    wish_direction = SlugListFilter(
        WishPole, noun="Wish pole", field_name="toward", list_url="/api/wish-dimensions/",
        help_text="Slug of the Wish pole a shift moves toward, e.g. agency (poles are listed under /api/wish-dimensions/).",
    )
    wish_between = SlugListFilter(
        RelationshipPair, noun="relationship pair", field_name="between", list_url="/api/relationship-pairs/",
        help_text="Between whom the shift happens, e.g. clinician-patient (see /api/relationship-pairs/).",
    )
    quality_domain = SlugListFilter(QualityDomain, noun="quality domain", field_name="quality_domains",
                                    list_url="/api/quality-domains/")
    pathway = SlugListFilter(Pathway, field_name="pathways", list_url="/api/pathways/")
    relationship_level = SlugListFilter(RelationshipLevel, noun="relationship level", field_name="relationship_level",
                                        list_url="/api/relationship-levels/")
    concept = ConceptFilter(
        FrameworkConcept, noun="framework concept", field_name="concept", list_url="/api/frameworks/",
        help_text="Slug of a shared framework concept (see /api/frameworks/): configurations whose mechanism, theme, "
        "a context or an outcome the crosswalk maps to it (/api/concept-mappings/), in every programme in play: "
        "the way to compare programmes whose own vocabularies differ. Several values: comma-separated or "
        "repeated; a row matches any of them.",
    )
    status = ChoiceListFilter(
        ReviewStatus.choices, field_name="status",
        help_text="Review status. Anonymous clients and analysts see published configurations only.",
    )
    confidence = ChoiceListFilter(Confidence.choices, field_name="confidence", help_text="The curator's confidence.")
    has_evidence = StrictBooleanFilter(method="filter_has_evidence", help_text="Linked to at least one excerpt (false: a hypothesis).")
    assessed_confidence = ChoiceListFilter(AssessedConfidence.choices, field_name="assessed_confidence",
                                           help_text="The overall confidence assessed with GRADE-CERQual.")
    has_challenging = StrictBooleanFilter(method="filter_has_challenging",
                                          help_text="At least one excerpt challenges it (false: none does).")
    min_sources = WholeNumberFilter(method="filter_min_sources",
                                    help_text="Evidenced from at least this many distinct sources.")
    updated_since = DateTimeFilter(field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time.")
    search = SearchParamFilter(search_configurations)

    WISH_FILTERS = ("wish_dimension", "wish_direction", "wish_between")

    class Meta:
        model = CMOConfiguration
        fields = []

    def filter_has_evidence(self, queryset, name, value):
        if value is None:
            return queryset
        linked = Exists(EvidenceLink.objects.filter(configuration=OuterRef("pk")))
        return queryset.filter(linked) if value else queryset.exclude(linked)

    def filter_has_challenging(self, queryset, name, value):
        if value is None:
            return queryset
        challenged = Exists(EvidenceLink.objects.filter(configuration=OuterRef("pk"), stance=Stance.CHALLENGES))
        return queryset.filter(challenged) if value else queryset.exclude(challenged)

    def filter_min_sources(self, queryset, name, value):
        if not value:
            return queryset
        enough = (EvidenceLink.objects.order_by().values("configuration_id")
                  .annotate(sources=Count("excerpt__source", distinct=True)).filter(sources__gte=value))
        return queryset.filter(pk__in=enough.values("configuration_id"))

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        status = data.get("status") or []
        hidden = set(status) - {ReviewStatus.PUBLISHED}
        if hidden and hidden <= set(ReviewStatus.values) and not request_is_evaluator(self.request):
            # A well-formed request for what this client may not see: 403 (as the exports answer
            # ?include_drafts=1), with the body naming the parameter.
            raise exceptions.PermissionDenied(
                {"status": ["Only evaluators can see draft and in-review configurations. Accepted here: published."]}
            )
        shift = {}
        for name, value in data.items():
            if name in self.WISH_FILTERS:
                if value:
                    self.filters[name].validate(value)
                    shift[f"{self.filters[name].field_name}__slug__in"] = value
                continue
            queryset = self.filters[name].filter(queryset, value)
        if shift:
            # One shift must match every Wish condition (power toward agency between clinician-patient).
            queryset = queryset.filter(pk__in=WishShift.objects.filter(**shift).values("configuration_id"))
        return queryset

    @property
    def search_active(self):
        return bool((self.form.cleaned_data.get("search") or "").strip())


class NamedSerializer(serializers.Serializer):
    slug = StrictCharField()
    name = StrictCharField()


class TeamRefSerializer(NamedSerializer):
    short_name = StrictCharField()


class ContextRefSerializer(NamedSerializer):
    category = StrictCharField()


class OutcomeRefSerializer(NamedSerializer):
    kind = StrictCharField(source="kind.slug")


class WishShiftSerializer(KBModelSerializer):
    dimension = StrictSlugRelatedField(slug_field="slug", queryset=WishDimension.objects.all())
    toward = StrictSlugRelatedField(slug_field="slug", queryset=WishPole.objects.all(), help_text="The pole it moves toward.")
    toward_position = serializers.IntegerField(source="toward.position", read_only=True,
                                               help_text="-1: toward the first pole, +1: toward the second.")
    between = StrictSlugRelatedField(slug_field="slug", queryset=RelationshipPair.objects.all())

    class Meta:
        model = WishShift
        fields = ["dimension", "toward", "toward_position", "between", "note"]

    def validate(self, attrs):
        # A PATCH replaces the configuration's whole list of shifts, so each shift is whole; DRF lets
        # a partial update reach nested serializers, where it would skip their required fields.
        missing = {
            name: [field.error_messages["required"]] for name, field in self.fields.items()
            if field.required and not field.read_only and field.source not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        if attrs["toward"].dimension_id != attrs["dimension"].pk:
            raise serializers.ValidationError(
                {"toward": [f"'{attrs['toward'].slug}' is a pole of {attrs['toward'].dimension.slug}, not of {attrs['dimension'].slug}."]},
                code=RULE,
            )
        return attrs


class EvidenceSerializer(serializers.Serializer):
    """An evidence link with its excerpt inlined."""

    id = serializers.IntegerField(help_text="The evidence link's id (/api/evidence-links/<id>/).")
    excerpt = StrictCharField(source="excerpt.slug")
    text = StrictCharField(source="excerpt.text")
    attribution = StrictCharField(source="excerpt.attribution")
    kind = StrictCharField(source="excerpt.kind")
    team = StrictCharField(source="excerpt.team.slug", allow_null=True)
    speaker_role = StrictCharField(source="excerpt.speaker_role.slug", allow_null=True)
    source = StrictCharField(source="excerpt.source.slug")
    section = StrictCharField(source="excerpt.section")
    start = serializers.IntegerField(source="excerpt.start")
    end = serializers.IntegerField(source="excerpt.end")
    stance = StrictCharField()
    part = StrictCharField()
    note = StrictCharField()
    relevance = StrictCharField(help_text="Pawson's relevance: high, moderate, low, or empty until appraised.")
    rigour = StrictCharField(help_text="Pawson's rigour: high, moderate, low, or empty until appraised.")
    appraisal_note = StrictCharField()


class EvidenceProfileSerializer(serializers.Serializer):
    """Counted from the evidence links, not stored (mechanisms/confidence.py evidence_profile): links
    by stance, distinct sources, teams and speaker roles, participant quotes against evaluator
    findings; `hypothesis` is true when there is no evidence at all."""

    links = serializers.IntegerField(min_value=0)
    supporting = serializers.IntegerField(min_value=0)
    challenging = serializers.IntegerField(min_value=0)
    illustrating = serializers.IntegerField(min_value=0)
    sources = serializers.IntegerField(min_value=0, help_text="Distinct sources.")
    teams = serializers.IntegerField(min_value=0, help_text="Distinct teams.")
    speaker_roles = serializers.IntegerField(min_value=0, help_text="Distinct speaker roles.")
    participant_quotes = serializers.IntegerField(min_value=0)
    evaluator_findings = serializers.IntegerField(min_value=0)
    hypothesis = serializers.BooleanField(help_text="True when the configuration has no evidence.")

    def to_representation(self, instance):
        return evidence_profile(link_facts(link) for link in instance.evidence_links.all())


class ConfigurationSerializer(EvaluatorOnlyFieldsMixin, SearchHitSerializerMixin, KBModelSerializer):
    """The expanded configuration: C, M and O with their names, Wish shifts and the evidence itself."""

    evaluator_only_fields = ("notes",)  # cmo_kb/internal_notes.py

    teams = TeamRefSerializer(many=True, read_only=True)
    contexts = ContextRefSerializer(many=True, read_only=True)
    mechanism = NamedSerializer(read_only=True, allow_null=True)
    theme = NamedSerializer(read_only=True, allow_null=True)
    outcomes = OutcomeRefSerializer(many=True, read_only=True)
    wish_shifts = WishShiftSerializer(many=True, read_only=True)
    pathways = serializers.SerializerMethodField(help_text="Pathway slugs in order (e.g. A then D).")
    relationship_level = StrictSlugRelatedField(slug_field="slug", read_only=True)
    quality_domains = StrictSlugRelatedField(slug_field="slug", many=True, read_only=True)
    evidence = EvidenceSerializer(source="evidence_links", many=True, read_only=True)
    has_evidence = serializers.SerializerMethodField(help_text="False for a hypothesis with no evidence yet.")
    evidence_profile = EvidenceProfileSerializer(source="*", read_only=True)
    leads_to = serializers.SerializerMethodField(
        help_text="Slugs of the configurations this one leads to (its outcome is their context; /api/chains/).")
    follows = serializers.SerializerMethodField(help_text="Slugs of the configurations that lead to this one.")
    created_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    updated_by = StrictSlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CMOConfiguration
        fields = [
            "id", "slug", "title", "status", "teams", "contexts", "activity", "resource", "reasoning", "mechanism", "theme", "effect",
            "influence", "outcomes", "wish_shifts", "pathways", "relationship_level", "quality_domains",
            "statement", "confidence", *ASSESSMENT_FIELDS, "evidence", "has_evidence", "evidence_profile",
            "leads_to", "follows", "notes", "created_by", "updated_by", "created_at", "updated_at", "rank", "snippet",
        ]

    def get_pathways(self, obj) -> list[str]:
        return [link.pathway.slug for link in obj.configurationpathway_set.all()]

    def get_has_evidence(self, obj) -> bool:
        return bool(obj.evidence_links.all())

    def _chain(self, obj):
        if not hasattr(obj, "_chain_neighbours"):
            from mechanisms.chains import neighbours

            leads_to, follows = neighbours([obj.pk], visible_configuration(self.context.get("request")))
            obj._chain_neighbours = leads_to.get(obj.pk, []), follows.get(obj.pk, [])
        return obj._chain_neighbours

    def get_leads_to(self, obj) -> list[str]:
        return self._chain(obj)[0]

    def get_follows(self, obj) -> list[str]:
        return self._chain(obj)[1]



class CompactConfigurationSerializer(ConfigurationSerializer):
    """?view=compact: relations as slugs, evidence as a count; one row per configuration in CSV."""

    teams = StrictSlugRelatedField(slug_field="slug", many=True, read_only=True)
    contexts = StrictSlugRelatedField(slug_field="slug", many=True, read_only=True)
    mechanism = StrictSlugRelatedField(slug_field="slug", read_only=True)
    theme = StrictSlugRelatedField(slug_field="slug", read_only=True)
    outcomes = StrictSlugRelatedField(slug_field="slug", many=True, read_only=True)
    wish_shifts = serializers.SerializerMethodField(help_text="'dimension>pole (between)' for each shift.")
    evidence_count = serializers.SerializerMethodField()

    class Meta(ConfigurationSerializer.Meta):
        # Without the evidence and the chain (leads_to, follows: the full view and /api/chains/).
        fields = [f for f in ConfigurationSerializer.Meta.fields
                  if f not in ("evidence", "evidence_profile", "leads_to", "follows")] + ["evidence_count"]

    def get_wish_shifts(self, obj) -> list[str]:
        return [f"{s.dimension.slug}>{s.toward.slug} ({s.between.slug})" for s in obj.wish_shifts.all()]

    def get_evidence_count(self, obj) -> int:
        return len(obj.evidence_links.all())


def _slugs(model, **kwargs):
    return StrictSlugRelatedField(slug_field="slug", queryset=model.objects.all(), **kwargs)


class ConfigurationWriteSerializer(EvaluatorOnlyFieldsMixin, KBModelSerializer):
    """What an evaluator sends: relations by slug, Wish shifts inline (they replace the old ones),
    pathways as an ordered list. Evidence is linked through /api/evidence-links/."""

    evaluator_only_fields = ("notes",)  # cmo_kb/internal_notes.py

    teams = _slugs(Team, many=True, required=False)
    contexts = _slugs(Context, many=True, required=False)
    mechanism = _slugs(EnablingMechanism, allow_null=True, required=False)
    theme = _slugs(MechanismTheme, allow_null=True, required=False)
    outcomes = _slugs(Outcome, many=True, required=False)
    pathways = _slugs(Pathway, many=True, required=False, help_text="In order, e.g. [\"a\", \"d\"].")
    relationship_level = _slugs(RelationshipLevel, allow_null=True, required=False)
    quality_domains = _slugs(QualityDomain, many=True, required=False)
    wish_shifts = WishShiftSerializer(many=True, required=False)

    class Meta:
        model = CMOConfiguration
        fields = [
            "slug", "title", "status", "teams", "contexts", "activity", "resource", "reasoning", "mechanism", "theme", "effect", "influence",
            "outcomes", "wish_shifts", "pathways", "relationship_level", "quality_domains", "statement", "confidence",
            *ASSESSMENT_FIELDS, "notes",
        ]

    def validate(self, attrs):
        mechanism = attrs.get("mechanism", getattr(self.instance, "mechanism", None))
        theme = attrs.get("theme", getattr(self.instance, "theme", None))
        if theme is not None and mechanism is not None and theme.mechanism_id != mechanism.pk:
            raise serializers.ValidationError(
                {"theme": [f"Theme '{theme.slug}' belongs to another mechanism, not '{mechanism.slug}'."]}, code=RULE
            )
        # The GRADE-CERQual assessment's rules (mechanisms/confidence.py): 422s naming the field.
        assessment = {name: attrs.get(name, getattr(self.instance, name, "")) for name in ASSESSMENT_FIELDS}
        errors = assessment_errors(assessment)
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()}, code=RULE)
        request = self.context["request"]
        current = getattr(self.instance, "status", None)
        # Changing a published configuration is the publish lock's to refuse (mechanisms/publish_lock.py,
        # at save); publishing is the workflow's.
        programme = attrs.get("programme", getattr(self.instance, "programme", None))
        if attrs.get("status") == ReviewStatus.PUBLISHED and current != ReviewStatus.PUBLISHED and not can_publish(
            request.user, programme
        ):
            from projects.membership import ProgrammeWriteRefused

            raise ProgrammeWriteRefused(programme, (
                f"Only lead evaluators can publish a configuration, each in the programmes they lead: you do "
                f"not lead '{getattr(programme, 'slug', programme)}'. Submit it for review (status=in_review) instead."
            ))
        return attrs

    def _move_to(self, instance, status):
        """Status changes go through the review workflow (mechanisms/workflow.py), as in the admin:
        draft → in review → published, and back to draft; a refusal is a 400 on `status`."""
        if status is None or status == instance.status:
            return
        action = {
            ReviewStatus.IN_REVIEW: workflow.submit_for_review,
            ReviewStatus.PUBLISHED: workflow.publish,
            ReviewStatus.DRAFT: workflow.return_to_draft,
        }[status]
        try:
            action(instance, self.context["request"].user)
        except workflow.WorkflowError as error:
            raise serializers.ValidationError({"status": [str(error)]}, code=RULE) from error

    def _save_related(self, instance, related):
        for name in ("teams", "contexts", "outcomes", "quality_domains"):
            if name in related:
                getattr(instance, name).set(related[name])
        # Pathways and Wish shifts are replaced, unless sent back as they are (not a change, so the
        # publish lock lets an evaluator send a published configuration back unchanged).
        if "pathways" in related and [p.pk for p in related["pathways"]] != list(
            instance.configurationpathway_set.order_by("order").values_list("pathway_id", flat=True)
        ):
            ConfigurationPathway.objects.filter(configuration=instance).delete()
            for order, pathway in enumerate(related["pathways"], start=1):
                ConfigurationPathway.objects.create(configuration=instance, pathway=pathway, order=order)
        if "wish_shifts" in related and [
            (s["dimension"].pk, s["toward"].pk, s["between"].pk, s.get("note", "")) for s in related["wish_shifts"]
        ] != list(instance.wish_shifts.order_by("pk").values_list("dimension_id", "toward_id", "between_id", "note")):
            instance.wish_shifts.all().delete()
            for shift in related["wish_shifts"]:
                WishShift.objects.create(configuration=instance, **shift)
        if instance.status == ReviewStatus.PUBLISHED:
            problems = instance.publication_problems()
            if problems:
                raise serializers.ValidationError({"status": [f"Cannot publish: {'; '.join(problems)}."]}, code=RULE)

    def _split(self, validated_data):
        names = ("teams", "contexts", "outcomes", "quality_domains", "pathways", "wish_shifts")
        return {name: validated_data.pop(name) for name in names if name in validated_data}

    def create(self, validated_data):
        related = self._split(validated_data)
        status = validated_data.pop("status", None)
        with transaction.atomic():
            instance = CMOConfiguration(**validated_data, status=ReviewStatus.DRAFT)
            instance.clean()
            instance.save()
            self._save_related(instance, related)
            self._move_to(instance, status)
        return instance

    def update(self, instance, validated_data):
        related = self._split(validated_data)
        status = validated_data.pop("status", None)
        with transaction.atomic():
            # A request that only moves the status writes just the workflow step (which records its user).
            if set(validated_data) - {"updated_by"} or related:
                for key, value in validated_data.items():
                    setattr(instance, key, value)
                instance.save()
                self._save_related(instance, related)
            # After the fields, so publishing sees the outcomes or contexts sent in the same request.
            self._move_to(instance, status)
        return instance

    def to_representation(self, instance):
        instance = configuration_queryset(self.context["request"]).get(pk=instance.pk)
        return ConfigurationSerializer(instance, context=self.context).data


# Their models' orderings leave ties (two shifts on one dimension, two excerpts at the same offset
# of different sources); the id settles them, so a configuration's lists come in one order, and the
# list's rows (ConfigurationRows) and the serializer's agree.
WISH_SHIFT_ORDER = ("dimension__order", "pk")
EVIDENCE_ORDER = ("part", "excerpt__start", "pk")


def configuration_queryset(request, view="full"):
    """Visible configurations with everything the representation shows, in a constant number of
    queries: 1 for the configurations (+ mechanism, theme, level, users) and 1 per prefetch below.
    (The list reads rows, not instances: ConfigurationRows below.)"""
    evidence = EvidenceLink.objects.select_related(
        "excerpt__team", "excerpt__speaker_role", "excerpt__source"
    ).defer("excerpt__source__full_text").order_by("configuration", *EVIDENCE_ORDER)
    return (
        visible_configurations(request)
        .select_related("programme", "mechanism", "theme", "relationship_level", "created_by", "updated_by")
        .defer("search_vector")  # search_text stays: the SQLite search fallback highlights it
        .prefetch_related(
            "teams",
            "contexts",
            Prefetch("outcomes", Outcome.objects.select_related("kind")),
            "quality_domains",
            Prefetch("configurationpathway_set", ConfigurationPathway.objects.select_related("pathway")),
            Prefetch("wish_shifts", WishShift.objects.select_related("dimension", "toward", "between").order_by(
                "configuration", *WISH_SHIFT_ORDER)),
            Prefetch("evidence_links", evidence if view == "full" else EvidenceLink.objects.only("id", "configuration_id")),
        )
    )


def _by_configuration(rows):
    """{configuration id: [rest of the row, ...]} of (configuration id, ...) rows, in their order."""
    grouped = {}
    for cid, *rest in rows:
        grouped.setdefault(cid, []).append(rest)
    return grouped


def _m2m_rows(relation, ids, *columns):
    """(configuration id, *columns of the related row) of a plain many-to-many, in the related model's
    own ordering (the order prefetch_related gives), for the configurations `ids`: one query."""
    through = relation.through
    target = relation.field.m2m_reverse_field_name()
    ordering = [f"-{target}__{o[1:]}" if o.startswith("-") else f"{target}__{o}"
                for o in relation.field.related_model._meta.ordering]
    return _by_configuration(
        through.objects.filter(cmoconfiguration_id__in=ids).order_by(*ordering, f"{target}_id")
        .values_list("cmoconfiguration_id", *(f"{target}__{c}" for c in columns))
    )


class ConfigurationRows:
    """The configuration list as rows, not model instances: the columns the serializers show, read
    with values() (the mechanism's, theme's, level's and users' slugs and names only), and the
    page's related rows in one query per relation (teams, contexts, outcomes, quality domains,
    pathways, Wish shifts, evidence or its count): 8 queries whatever the page size, as before.

    Why not the serializers: at 50 rows, prefetch_related built some 1,500 model instances (each
    evidence link with its excerpt, team, role and source) and ran the nested serializers' fields
    for each, 9x the SQL's cost; these rows are the same JSON and CSV, key for key, as
    ConfigurationSerializer and CompactConfigurationSerializer give (tests/api/test_configurations.py
    compares them)."""

    COLUMNS = (
        "id", "slug", "title", "status", "activity", "resource", "reasoning", "effect", "influence", "statement", "confidence", "notes",
        *ASSESSMENT_FIELDS, "mechanism__slug", "mechanism__name", "theme__slug", "theme__name", "relationship_level__slug",
        "created_by__username", "updated_by__username", "created_at", "updated_at", "programme__slug",
    )
    EVIDENCE_COLUMNS = (
        "id", "excerpt__slug", "excerpt__text", "excerpt__attribution", "excerpt__kind", "excerpt__team__slug",
        "excerpt__speaker_role__slug", "excerpt__source__slug", "excerpt__section", "excerpt__start", "excerpt__end",
        "stance", "part", "note", "relevance", "rigour", "appraisal_note",
    )
    EVIDENCE_KEYS = ("id", "excerpt", "text", "attribution", "kind", "team", "speaker_role", "source", "section", "start",
                     "end", "stance", "part", "note", "relevance", "rigour", "appraisal_note")

    @classmethod
    def queryset(cls, request):
        return visible_configurations(request).values(*cls.COLUMNS)

    @classmethod
    def related(cls, ids, view, request=None):
        """The page's related rows, by configuration id: 7 queries, 8 in the full view (none without rows)."""
        config = CMOConfiguration
        related = {
            "teams": _m2m_rows(config.teams, ids, "slug", "name", "short_name"),
            "contexts": _m2m_rows(config.contexts, ids, "slug", "name", "category"),
            "outcomes": _m2m_rows(config.outcomes, ids, "slug", "name", "kind__slug"),
            "quality_domains": _m2m_rows(config.quality_domains, ids, "slug"),
            "pathways": _by_configuration(
                ConfigurationPathway.objects.filter(configuration_id__in=ids).order_by("configuration_id", "order", "pk")
                .values_list("configuration_id", "pathway__slug")
            ),
            "wish_shifts": _by_configuration(
                WishShift.objects.filter(configuration_id__in=ids).order_by("configuration_id", *WISH_SHIFT_ORDER)
                .values_list("configuration_id", "dimension__slug", "toward__slug", "toward__position", "between__slug", "note")
            ),
        }
        links = EvidenceLink.objects.filter(configuration_id__in=ids)
        if view == "full":
            from mechanisms.chains import neighbours

            related["leads_to"], related["follows"] = neighbours(ids, visible_configuration(request))
            related["evidence"] = _by_configuration(
                links.order_by("configuration_id", *EVIDENCE_ORDER).values_list("configuration_id", *cls.EVIDENCE_COLUMNS)
            )
        else:
            related["evidence_count"] = dict(
                links.order_by().values("configuration_id").annotate(n=Count("id")).values_list("configuration_id", "n")
            )
        return related

    @classmethod
    def represent(cls, rows, request, view="full"):
        """The serializer's representation (ConfigurationSerializer, or CompactConfigurationSerializer
        with view="compact") of ``rows`` (dicts from queryset(), with rank and snippet after a search)."""
        if not rows:
            return []
        related = cls.related([row["id"] for row in rows], view, request)
        show_notes = shows_internal_notes(request)
        # The serializer's DateTimeField, with the request's time zone looked up once, not per value.
        when = serializers.DateTimeField(default_timezone=serializers.DateTimeField().default_timezone()).to_representation
        full = view == "full"
        data = []
        for row in rows:
            pk = row["id"]
            teams = related["teams"].get(pk, [])
            contexts = related["contexts"].get(pk, [])
            outcomes = related["outcomes"].get(pk, [])
            shifts = related["wish_shifts"].get(pk, [])
            mechanism, theme = row["mechanism__slug"], row["theme__slug"]
            if full:
                item = {
                    "id": pk, "slug": row["slug"], "title": row["title"], "status": row["status"],
                    "teams": [{"slug": s, "name": n, "short_name": short} for s, n, short in teams],
                    "contexts": [{"slug": s, "name": n, "category": c} for s, n, c in contexts],
                    "activity": row["activity"], "resource": row["resource"], "reasoning": row["reasoning"],
                    "mechanism": None if mechanism is None else {"slug": mechanism, "name": row["mechanism__name"]},
                    "theme": None if theme is None else {"slug": theme, "name": row["theme__name"]},
                    "effect": row["effect"], "influence": row["influence"],
                    "outcomes": [{"slug": s, "name": n, "kind": k} for s, n, k in outcomes],
                    "wish_shifts": [
                        {"dimension": d, "toward": t, "toward_position": p, "between": b, "note": note}
                        for d, t, p, b, note in shifts
                    ],
                }
            else:
                item = {
                    "id": pk, "slug": row["slug"], "title": row["title"], "status": row["status"],
                    "teams": [s for s, _, _ in teams], "contexts": [s for s, _, _ in contexts],
                    "activity": row["activity"], "resource": row["resource"], "reasoning": row["reasoning"],
                    "mechanism": mechanism, "theme": theme,
                    "effect": row["effect"], "influence": row["influence"],
                    "outcomes": [s for s, _, _ in outcomes],
                    "wish_shifts": [f"{d}>{t} ({b})" for d, t, _, b, _ in shifts],
                }
            item["pathways"] = [slug for (slug,) in related["pathways"].get(pk, [])]
            item["relationship_level"] = row["relationship_level__slug"]
            item["quality_domains"] = [slug for (slug,) in related["quality_domains"].get(pk, [])]
            item["statement"], item["confidence"] = row["statement"], row["confidence"]
            for name in ASSESSMENT_FIELDS:
                item[name] = row[name]
            if full:
                evidence = [dict(zip(cls.EVIDENCE_KEYS, link)) for link in related["evidence"].get(pk, [])]
                item["evidence"] = evidence
                item["has_evidence"] = bool(evidence)
                item["evidence_profile"] = evidence_profile(evidence)
                item["leads_to"] = related["leads_to"].get(pk, [])
                item["follows"] = related["follows"].get(pk, [])
            else:
                count = related["evidence_count"].get(pk, 0)
                item["has_evidence"] = bool(count)
            if show_notes:
                item["notes"] = row["notes"]
            item["created_by"], item["updated_by"] = row["created_by__username"], row["updated_by__username"]
            item["created_at"], item["updated_at"] = when(row["created_at"]), when(row["updated_at"])
            if "rank" in row:
                item["rank"] = float(row["rank"])
                item["snippet"] = str(row["snippet"]) if row["snippet"] is not None else None
            if not full:
                item["evidence_count"] = count
            item["programme"] = row["programme__slug"]  # last, where KBModelSerializer adds it
            data.append(item)
        return data


VIEW_PARAMETER = OpenApiParameter(
    "view", OpenApiTypes.STR, enum=["full", "compact"],
    description="`full` (default): contexts, mechanism, outcomes, Wish shifts and evidence excerpts inline. "
    "`compact`: relations as slugs and an evidence count (the default with ?format=csv).",
)

CONFIGURATION_DOC = """CMO configurations: "in context C, mechanism M (triggered or disabled) leads to outcome O",
with Wish shifts, RAND pathways, quality domains and the evidence that supports or challenges them.

Anonymous clients and analysts see published configurations; evaluators also see drafts and those in
review. Evaluators create and edit; new configurations start as drafts. `status` moves through the
same review workflow as the admin: draft → in_review (evaluators) → published (lead evaluators only),
and back to draft; a jump (draft → published) is a 400 on `status`. Only leads change a published
configuration or anything it shows (403 naming the configurations; see the publish lock in the
README), and publishing needs a mechanism, a context, an outcome and an
evidence link.

Cursor-paginated, ordered by slug (by rank, best first, with ?search=)."""


# ?view= decides the shape of a configuration: exactly one of the two (`evidence` or `evidence_count`).
CONFIGURATION_IN_VIEW = PolymorphicProxySerializer(
    component_name="ConfigurationInView",
    serializers=[ConfigurationSerializer, CompactConfigurationSerializer],
    resource_type_field_name=None,
)


@extend_schema_view(
    list=extend_schema(description=CONFIGURATION_DOC, parameters=[VIEW_PARAMETER], responses=CONFIGURATION_IN_VIEW),
    retrieve=extend_schema(parameters=[VIEW_PARAMETER], responses=CONFIGURATION_IN_VIEW),
    export=extend_schema(parameters=[VIEW_PARAMETER]),
    create=extend_schema(request=ConfigurationWriteSerializer, responses={201: ConfigurationSerializer}),
    update=extend_schema(request=ConfigurationWriteSerializer, responses=ConfigurationSerializer),
    partial_update=extend_schema(request=ConfigurationWriteSerializer, responses=ConfigurationSerializer),
)
class ConfigurationViewSet(KBModelViewSet):
    __doc__ = CONFIGURATION_DOC
    filterset_class = ConfigurationFilterSet
    pagination_class = KBCursorPagination
    cursor_ordering = ("slug",)
    schema_extra_error_codes = {"list": [403], "export": [403]}  # ?status=draft from a non-evaluator
    export_csv = configuration_export.export_csv  # on PostgreSQL, COPY writes the compact view's rows

    def get_view(self):
        if self.request is None:
            return "full"
        # CSV has one row per configuration, so it (and the CSV export) defaults to the compact form.
        csv = self.request.query_params.get("format") == "csv" or self.action == "export"
        default = "compact" if csv else "full"
        view = self.request.query_params.get("view") or default  # empty means absent, as for every parameter
        if view not in ("full", "compact"):
            raise exceptions.ValidationError({"view": [f"{view!r} is not a view. Accepted: full, compact."]})
        return view

    def get_queryset(self):
        if self.action == "list":
            return ConfigurationRows.queryset(self.request)
        return configuration_queryset(self.request, self.get_view() if self.action in ("retrieve", "export") else "full")

    def list(self, request, *args, **kwargs):
        view = self.get_view()  # a bad ?view= is a 400 before anything is read
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ConfigurationRows.represent(rows, request, view))

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return ConfigurationWriteSerializer
        if self.action in ("list", "retrieve", "export") and self.get_view() == "compact":
            return CompactConfigurationSerializer
        return ConfigurationSerializer

    def perform_destroy(self, instance):
        instance.delete()  # a published one only by a lead: the publish lock


# --- Matrix ---------------------------------------------------------------------------------------

_axis_names = list(AXES)
_cell = inline_serializer(
    "MatrixCell",
    {
        "row": StrictCharField(), "col": StrictCharField(), "count": serializers.IntegerField(),
        "triggered": serializers.IntegerField(), "disabled": serializers.IntegerField(),
        "ids": serializers.ListField(
            child=serializers.IntegerField(), required=False,
            help_text=f"With ?ids=true only: the cell's first {IDS_LIMIT} configuration ids, by slug.",
        ),
        "slugs": serializers.ListField(
            child=StrictCharField(), required=False, help_text="With ?ids=true only: their slugs, in the same order.",
        ),
        "ids_complete": serializers.BooleanField(
            required=False, help_text=f"With ?ids=true only: false when the cell holds more than {IDS_LIMIT}.",
        ),
        "configurations_url": StrictCharField(
            help_text="Every configuration of the cell: /api/configurations/ with this matrix's filters and the cell's two terms.",
        ),
    },
    many=True,
)
_header = inline_serializer(
    "MatrixHeader", {"key": StrictCharField(), "label": StrictCharField(), "count": serializers.IntegerField()},
    many=True,
)
_axis_ref = inline_serializer("MatrixAxis", {"key": StrictCharField(), "label": StrictCharField()})


class MatrixView(KBAPIDefaults, GenericAPIView):
    """Cross-team matrix: configurations counted at each crossing of two axes ("mechanisms in context").

    Axes: team, mechanism, theme, wish_dimension, quality_domain, pathway, effect, concept. Every
    configuration filter applies. Each cell has the count, how many were triggered and disabled, the
    configuration ids and slugs behind it, and a configurations_url to drill down. A configuration
    with several values on an axis (a cross-team one, say) counts in each of its cells; one with
    none (no theme) in none. Rows and columns list every term of the vocabulary, zeros included.

    Programmes: only configurations of programmes you may see count; teams, mechanisms and themes are
    a programme's own terms, listed for the programmes in play (those you see, or ?programme=); terms
    of several programmes with one slug share a row, as the slug filter matches them all. `concept` is
    the shared axis across programmes: a configuration counts under each framework concept the
    crosswalk (/api/concept-mappings/) maps its mechanism, theme, a context or an outcome to.

    ?format=csv gives the grid of counts: one line per row, one column per column term.
    """

    filterset_class = ConfigurationFilterSet
    extra_query_params = ("rows", "cols", "ids")
    pagination_class = None
    schema_extra_error_codes = {"get": [403]}  # ?status=draft from a non-evaluator

    def get_queryset(self):
        return visible_configurations(self.request)

    @extend_schema(
        parameters=[
            OpenApiParameter("rows", OpenApiTypes.STR, enum=_axis_names, required=True, description="Axis down the side."),
            OpenApiParameter("cols", OpenApiTypes.STR, enum=_axis_names, required=True, description="Axis across the top."),
            OpenApiParameter(
                "ids", OpenApiTypes.BOOL, description=f"Also list each cell's first {IDS_LIMIT} configuration ids and "
                "slugs (by slug). Without it a cell's configurations are behind its configurations_url.",
            ),
            *filter_parameters(ConfigurationFilterSet),
        ],
        responses=inline_serializer(
            "Matrix",
            {
                "row_axis": _axis_ref, "col_axis": _axis_ref, "rows": _header, "cols": _header,
                "cells": serializers.ListField(child=_cell, help_text="cells[i][j] is rows[i] × cols[j]."),
                "total": serializers.IntegerField(help_text="Distinct configurations in the matrix."),
            },
        ),
    )
    def get(self, request):
        errors = {}
        axes = {}
        for param in ("rows", "cols"):
            value = request.query_params.get(param)
            if value not in AXES:
                what = "is required" if not value else f"{value!r} is not an axis"
                errors[param] = [f"{param} {what}. Accepted: {', '.join(AXES)}."]
            axes[param] = value
        with_ids = False
        if request.query_params.get("ids", "") != "":
            try:
                with_ids = _boolean(request.query_params["ids"])
            except DjangoValidationError as exc:
                errors["ids"] = exc.messages
        if errors:
            raise exceptions.ValidationError(errors)
        queryset = self.filter_queryset(self.get_queryset())
        # A programme's own terms (teams, mechanisms, themes) of the programmes in play: those the user
        # may see, narrowed by ?programme= (checked by the filter).
        from projects.membership import visible_programmes

        programmes = visible_programmes(request.user)
        given = self.filterset.form.cleaned_data.get("programme") if getattr(self, "filterset", None) else None
        if given:
            programmes = programmes.filter(slug__in=given)
        matrix = build_matrix(queryset, axes["rows"], axes["cols"], ids_limit=IDS_LIMIT if with_ids else 0,
                              programmes=programmes.values("pk"))
        base = request.query_params.copy()
        for param in ("rows", "cols", "format", "ids"):
            base.pop(param, None)
        for row in matrix["cells"]:
            for cell in row:
                params = base.copy()
                params[axes["rows"]] = cell["row"]
                params[axes["cols"]] = cell["col"]
                cell["configurations_url"] = f"/api/configurations/?{params.urlencode(safe=',')}"
        if getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv":
            return Response({"csv_rows": self.csv_rows(matrix)})
        return Response(matrix)

    @staticmethod
    def csv_rows(matrix):
        rows = []
        for header, cells in zip(matrix["rows"], matrix["cells"]):
            line = {matrix["row_axis"]["label"]: header["label"]}
            for col, cell in zip(matrix["cols"], cells):
                line[col["label"]] = cell["count"]
            rows.append(line)
        return rows
