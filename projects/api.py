"""API resources of the projects app: programmes and their members, teams, quality domains, relationship levels."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, permissions, serializers, viewsets

from cmo_kb.api import KBAPIDefaults, KBModelViewSet, WriteRecordsUserMixin, vocabulary_serializer
from cmo_kb.concurrency import VersionedWritesMixin
from cmo_kb.csv_export import CSVExportMixin
from cmo_kb.filters import ChoiceListFilter, KBFilterSet, SlugListFilter, VocabularyFilterSet
from cmo_kb.vocabulary import RULE
from mechanisms.models import Framework
from projects.membership import forget_roles
from cmo_kb.serializer_fields import (
    KBModelSerializer,
    StrictCharField,
    StrictSlugRelatedField,
)
from projects.models import (
    KeyFigure,
    Programme,
    ProgrammeMembership,
    QualityDomain,
    RelationshipLevel,
    Role,
    Team,
    TeamQualityDomain,
    TeamRelationshipLevel,
)


def text_list_field(help_text):
    """A list of texts (a JSON list of strings; a form repeats the key). A JSONField would take any
    JSON, and `null` would reach the not-null column as a 409 rather than a 400 naming the field."""
    return serializers.ListField(child=StrictCharField(trim_whitespace=False), required=False, help_text=help_text)


ROLE_HELP = (
    "Your role in this programme: lead (publishes there, manages its members), evaluator (writes there, sees "
    "its drafts) or analyst (reads it); null when you are not a member. Superusers are leads."
)


class ProgrammeSerializer(KBModelSerializer):
    """A programme: the workspace that owns its vocabulary, configurations and sources."""

    headline_messages = text_list_field("The evaluation's headline messages, in order.")
    frameworks = StrictSlugRelatedField(
        slug_field="slug", queryset=Framework.objects.all(), many=True, required=False,
        help_text="The shared frameworks from the literature this evaluation uses (slugs, see /api/frameworks/).",
    )
    role = serializers.SerializerMethodField(help_text=ROLE_HELP)
    copy_vocabulary_from = StrictSlugRelatedField(
        slug_field="slug", queryset=Programme.objects.all(), write_only=True, required=False,
        help_text="When creating: start with a copy of this programme's own vocabulary (its mechanisms and themes, "
        "contexts, outcomes, speaker roles, waves) and its frameworks; a programme you can read. Not its evidence "
        "or configurations.",
    )

    class Meta:
        model = Programme
        fields = [
            "slug", "name", "short_name", "funder", "evaluator", "start_year", "end_year", "summary",
            "headline_messages", "is_public", "frameworks", "role", "copy_vocabulary_from", "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True, help_text=ROLE_HELP))
    def get_role(self, programme):
        from projects.membership import role_in

        request = self.context.get("request")
        role = role_in(getattr(request, "user", None), programme)
        return None if role is None else str(role)

    def validate(self, attrs):
        start = attrs.get("start_year", getattr(self.instance, "start_year", None))
        end = attrs.get("end_year", getattr(self.instance, "end_year", None))
        if start is not None and end is not None and end < start:
            # (the database's check, programme_years_in_order, said it as a 409 without the field)
            raise serializers.ValidationError(
                {"end_year": [f"The programme cannot end ({end}) before it starts ({start})."]}, code=RULE)
        return attrs

    def create(self, validated_data):
        from projects.programme_setup import copy_vocabulary

        source = validated_data.pop("copy_vocabulary_from", None)
        with transaction.atomic():  # the programme, its lead, its frameworks and the copy: all or nothing
            programme = super().create(validated_data)
            if source is not None:
                copy_vocabulary(source, programme)
        return programme


class ProgrammeRoleFilter(ChoiceListFilter):
    """?role=: the programmes where you hold one of these roles."""

    def filter(self, qs, value):
        if not value:
            return qs
        if any(v not in self.choice_values for v in value):
            return super().filter(qs, value)  # the 400 naming the parameter and the choices
        from projects.membership import programmes_with_role

        request = getattr(getattr(self, "parent", None), "request", None)
        user = getattr(request, "user", None)
        if getattr(user, "is_superuser", False):  # a lead everywhere (projects/membership.py role_in)
            return qs if Role.LEAD in value else qs.none()
        return qs.filter(pk__in=programmes_with_role(user, value).values("pk"))


class ProgrammeFilterSet(VocabularyFilterSet):
    role = ProgrammeRoleFilter(Role.choices, field_name="role",
                               help_text="Programmes where you hold this role (none for anonymous clients).")

    class Meta:
        model = Programme
        fields = []


class ProgrammeUpdateSerializer(ProgrammeSerializer):
    """A programme's fields as PUT and PATCH take them: its vocabulary is copied once, when it is created,
    so `copy_vocabulary_from` is not one of them (the schema's update body lacks it; sent anyway, a 400
    says why rather than ignoring it)."""

    class Meta(ProgrammeSerializer.Meta):
        fields = [name for name in ProgrammeSerializer.Meta.fields if name != "copy_vocabulary_from"]

    def validate(self, attrs):
        if isinstance(self.initial_data, dict) and "copy_vocabulary_from" in self.initial_data:
            raise serializers.ValidationError({"copy_vocabulary_from": [
                "Only when creating a programme: its vocabulary is copied once, into an empty programme."
            ]})
        return super().validate(attrs)


@extend_schema_view(
    create=extend_schema(description="An evaluator opens a programme and becomes its lead; `copy_vocabulary_from` "
                         "starts it with another programme's vocabulary (in the same transaction)."),
    update=extend_schema(description="Its lead only (403 naming the programme otherwise)."),
    partial_update=extend_schema(description="Its lead only (403 naming the programme otherwise)."),
    destroy=extend_schema(description="Its lead only; a programme that still owns rows cannot be deleted (409)."),
)
class ProgrammeViewSet(KBModelViewSet):
    """The funded programmes, each a workspace with its own vocabulary, configurations and sources.

    Public programmes are read by everyone; a private one exists only for its members (a 404 for
    anyone else, here and on every resource). `role` is your role in it. Evaluators create programmes
    (and lead the ones they create); a programme's lead changes it and manages its members
    (/api/programmes/<slug>/members/)."""

    serializer_class = ProgrammeSerializer
    filterset_class = ProgrammeFilterSet

    def get_serializer_class(self):
        return ProgrammeUpdateSerializer if self.action in ("update", "partial_update") else ProgrammeSerializer

    def get_queryset(self):
        return Programme.objects.prefetch_related("frameworks")

    def perform_destroy(self, instance):
        from projects.membership import refuse_unless_writer

        # Its lead's to delete, before what still depends on it is counted (a 403, not a 409, for others).
        refuse_unless_writer(instance, self.request.user, lead=True)
        instance.delete()


class MemberSerializer(KBModelSerializer):
    """A member of a programme and their role there."""

    username = StrictSlugRelatedField(
        source="user", slug_field="username", queryset=get_user_model()._default_manager.all(),
        help_text="The member's username.",
    )
    programme = StrictSlugRelatedField(slug_field="slug", read_only=True, help_text="The programme (as in the URL).")

    class Meta:
        model = ProgrammeMembership
        fields = ["username", "role", "programme", "created_at"]
        read_only_fields = ["created_at"]

    def to_internal_value(self, data):
        # The programme is the URL's (not resolved from the body as a programme's rows are).
        self._target_programme = self.context["programme"]
        return serializers.ModelSerializer.to_internal_value(self, data)

    def get_validators(self):
        return []  # (programme, user) once: checked in validate, on the username

    def validate(self, attrs):
        programme = self.context["programme"]
        user = attrs.get("user")
        if self.instance is None and user is not None:
            existing = ProgrammeMembership.objects.filter(programme=programme, user=user).first()
            if existing is not None:
                raise serializers.ValidationError({"username": [
                    f"'{user.username}' is already a member of '{programme.slug}' ({existing.role}): change their "
                    f"role with PATCH /api/programmes/{programme.slug}/members/{user.username}/."
                ]}, code="unique")
        if self.instance is not None and self.instance.role == Role.LEAD and attrs.get("role", Role.LEAD) != Role.LEAD:
            refuse_last_lead(self.instance, "role")
        return attrs


class MemberUpdateSerializer(MemberSerializer):
    username = StrictSlugRelatedField(source="user", slug_field="username", read_only=True,
                                      help_text="The member's username (as in the URL).")


def refuse_last_lead(membership, field):
    """A programme keeps a lead: its only one cannot step down or leave (a 422 on ``field``)."""
    others = ProgrammeMembership.objects.filter(programme=membership.programme_id, role=Role.LEAD).exclude(pk=membership.pk)
    if not others.exists():
        raise serializers.ValidationError({field: [
            f"'{membership.user.username}' is the only lead of '{membership.programme.slug}': make another member "
            "its lead first."
        ]}, code=RULE)


_PROGRAMME_PARAMETER = OpenApiParameter("programme_slug", str, OpenApiParameter.PATH,
                                        description="The programme's slug (see /api/programmes/).")
_USERNAME_PARAMETER = OpenApiParameter("username", str, OpenApiParameter.PATH, description="The member's username.")


@extend_schema_view(
    list=extend_schema(parameters=[_PROGRAMME_PARAMETER]),
    create=extend_schema(parameters=[_PROGRAMME_PARAMETER]),
    retrieve=extend_schema(parameters=[_PROGRAMME_PARAMETER, _USERNAME_PARAMETER]),
    update=extend_schema(parameters=[_PROGRAMME_PARAMETER, _USERNAME_PARAMETER]),
    partial_update=extend_schema(parameters=[_PROGRAMME_PARAMETER, _USERNAME_PARAMETER]),
    destroy=extend_schema(parameters=[_PROGRAMME_PARAMETER, _USERNAME_PARAMETER]),
    export=extend_schema(parameters=[_PROGRAMME_PARAMETER]),
)
class ProgrammeMemberViewSet(KBAPIDefaults, CSVExportMixin, VersionedWritesMixin, WriteRecordsUserMixin,
                             viewsets.ModelViewSet):
    """A programme's members and their roles: lead (publishes, manages members), evaluator (writes,
    sees drafts), analyst (reads; a private programme is visible to its members only).

    Members of the programme read the list (anyone else: 403; a private programme's non-members:
    404, as the programme itself). Its lead adds members by username (POST), changes a role (PATCH)
    and removes members (DELETE); anyone else gets a 403 naming the programme. A programme keeps at
    least one lead (422 on `role` or `username`). A member's detail answers an ETag; a change or a
    removal with a stale If-Match is a 412 naming what changed (cmo_kb/concurrency.py)."""

    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = "[^/]+"  # usernames may hold dots
    schema_extra_error_codes = {"list": [403, 404], "retrieve": [403], "export": [403, 404]}

    @cached_property
    def programme(self):
        from projects.membership import visible_programmes

        slug = self.kwargs.get("programme_slug")
        programme = visible_programmes(self.request.user).filter(slug=slug).first()
        if programme is None:
            raise exceptions.NotFound(f"No programme '{slug}' (or not visible to you).")
        return programme

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ProgrammeMembership.objects.none()
        return ProgrammeMembership.objects.filter(programme=self.programme).select_related("user", "programme").order_by(
            "user__username")

    def get_serializer_class(self):
        return MemberUpdateSerializer if self.action in ("update", "partial_update") else MemberSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and "programme_slug" in self.kwargs:
            context["programme"] = self.programme
        return context

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        from projects.membership import ProgrammeWriteRefused, role_in

        role = role_in(request.user, self.programme)
        if request.method in permissions.SAFE_METHODS:
            if role is None:
                raise exceptions.PermissionDenied(
                    f"Only members of the programme '{self.programme.slug}' see its members.")
        elif role != Role.LEAD:
            raise ProgrammeWriteRefused(self.programme, (
                f"Only a lead evaluator of the programme '{self.programme.slug}' can change its members."))

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save(programme=self.programme)
        forget_roles(serializer.instance.user)

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()
        forget_roles(serializer.instance.user)

    def perform_destroy(self, instance):
        if instance.role == Role.LEAD:
            refuse_last_lead(instance, "username")
        instance.delete()
        forget_roles(instance.user)


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
    # (?programme= is KBFilterSet's, as on every programme's list)
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
