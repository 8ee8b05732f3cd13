"""API resources of the projects app: programmes, teams, quality domains, relationship levels."""

from django.db.models import Prefetch
from rest_framework import serializers

from cmo_kb.api import KBModelViewSet, vocabulary_serializer
from cmo_kb.filters import KBFilterSet, SlugListFilter, VocabularyFilterSet
from cmo_kb.serializer_fields import (
    KBModelSerializer,
    StrictCharField,
    StrictSlugRelatedField,
)
from projects.models import (
    KeyFigure,
    Programme,
    QualityDomain,
    RelationshipLevel,
    Team,
    TeamQualityDomain,
    TeamRelationshipLevel,
)


def text_list_field(help_text):
    """A list of texts (a JSON list of strings; a form repeats the key). A JSONField would take any
    JSON, and `null` would reach the not-null column as a 409 rather than a 400 naming the field."""
    return serializers.ListField(child=StrictCharField(trim_whitespace=False), required=False, help_text=help_text)


class ProgrammeSerializer(KBModelSerializer):
    headline_messages = text_list_field("The evaluation's headline messages, in order.")

    class Meta:
        model = Programme
        fields = [
            "slug", "name", "short_name", "funder", "evaluator", "start_year", "end_year", "summary",
            "headline_messages", "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class ProgrammeViewSet(KBModelViewSet):
    """The funded programmes (Closing the Gap through Changing Relationships)."""

    queryset = Programme.objects.all()
    serializer_class = ProgrammeSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


QualityDomainSerializer = vocabulary_serializer(QualityDomain)
RelationshipLevelSerializer = vocabulary_serializer(RelationshipLevel)


class QualityDomainViewSet(KBModelViewSet):
    """The Institute of Medicine's six dimensions of quality."""

    queryset = QualityDomain.objects.all()
    serializer_class = QualityDomainSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


class RelationshipLevelViewSet(KBModelViewSet):
    """Appendix 1's three levels at which relationships are changed."""

    queryset = RelationshipLevel.objects.all()
    serializer_class = RelationshipLevelSerializer
    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    filterset_class = VocabularyFilterSet


class TeamQualityDomainSerializer(KBModelSerializer):
    quality_domain = StrictSlugRelatedField(slug_field="slug", read_only=True)
    evidence = StrictSlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = TeamQualityDomain
        fields = ["quality_domain", "basis", "note", "evidence"]


class TeamRelationshipLevelSerializer(KBModelSerializer):
    relationship_level = StrictSlugRelatedField(slug_field="slug", read_only=True)
    evidence = StrictSlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = TeamRelationshipLevel
        fields = ["relationship_level", "basis", "note", "evidence"]


class KeyFigureSerializer(KBModelSerializer):
    evidence = StrictSlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = KeyFigure
        fields = ["slug", "label", "display", "value", "value_max", "unit", "evidence"]


class TeamSerializer(KBModelSerializer):
    programme = StrictSlugRelatedField(slug_field="slug", queryset=Programme.objects.all())
    quality_domains = TeamQualityDomainSerializer(source="teamqualitydomain_set", many=True, read_only=True)
    relationship_levels = TeamRelationshipLevelSerializer(source="teamrelationshiplevel_set", many=True, read_only=True)
    key_figures = KeyFigureSerializer(many=True, read_only=True)
    configurations_url = serializers.SerializerMethodField(help_text="This team's configurations in the API.")
    aliases = text_list_field("Other names the sources use for this team.")

    class Meta:
        model = Team
        fields = [
            "slug", "name", "short_name", "aliases", "organisation", "programme", "order",
            "objective", "target", "scope", "delivery", "background", "aims", "achievements",
            "quality_domains", "relationship_levels", "key_figures", "configurations_url", "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_configurations_url(self, team) -> str:
        return f"/api/configurations/?team={team.slug}"


class TeamFilterSet(KBFilterSet):
    programme = SlugListFilter(Programme, field_name="programme", list_url="/api/programmes/")
    quality_domain = SlugListFilter(QualityDomain, noun="quality domain", field_name="quality_domains",
                                    list_url="/api/quality-domains/")

    class Meta:
        model = Team
        fields = []


class TeamViewSet(KBModelViewSet):
    """The funded project teams and their improvement stories (Figure 4 and Appendix 3), with the
    quality domains and relationship levels they targeted (stated or inferred) and key figures."""

    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    list_reads_rows = True  # cmo_kb/api.py ValuesRows

    def get_queryset(self):
        # 1 query for teams + programme, 1 per prefetch (quality domains, relationship levels, key figures).
        return Team.objects.select_related("programme").prefetch_related(
            Prefetch("teamqualitydomain_set", TeamQualityDomain.objects.select_related("quality_domain", "evidence")),
            Prefetch(
                "teamrelationshiplevel_set", TeamRelationshipLevel.objects.select_related("relationship_level", "evidence")
            ),
            Prefetch("key_figures", KeyFigure.objects.select_related("evidence")),
        )
