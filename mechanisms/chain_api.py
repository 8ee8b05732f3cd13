"""/api/chains/: links between configurations (the outcome of one is the context of the next),
with a note and the excerpts that evidence them (mechanisms/chains.py says the rules).

A link is visible when both its configurations are (a link to a draft is for evaluators of its
programme only); written by the programme's evaluators, under the publish lock when either end is
published. Looked up by id; cursor-paginated by id."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from cmo_kb.api import KBModelViewSet
from cmo_kb.filters import KBFilterSet, SlugListFilter
from cmo_kb.pagination import KBCursorPagination
from cmo_kb.permissions import visible_configuration, visible_configurations
from cmo_kb.serializer_fields import KBModelSerializer, StrictSlugRelatedField, programme_field
from evidence.models import EvidenceExcerpt

from .chains import ConfigurationChain
from .models import CMOConfiguration


class ChainFilterSet(KBFilterSet):
    from_configuration = SlugListFilter(CMOConfiguration, noun="configuration", field_name="from_configuration",
                                        list_url="/api/configurations/", queryset=visible_configurations,
                                        help_text="Links leading from these configurations.")
    to_configuration = SlugListFilter(CMOConfiguration, noun="configuration", field_name="to_configuration",
                                      list_url="/api/configurations/", queryset=visible_configurations,
                                      help_text="Links leading to these configurations.")

    class Meta:
        model = ConfigurationChain
        fields = []


class ChainSerializer(KBModelSerializer):
    from_configuration = StrictSlugRelatedField(slug_field="slug", queryset=CMOConfiguration.objects.defer("search_vector"),
                                                help_text="The configuration whose outcome leads on.")
    to_configuration = StrictSlugRelatedField(slug_field="slug", queryset=CMOConfiguration.objects.defer("search_vector"),
                                              help_text="The configuration whose context it becomes.")
    evidence = StrictSlugRelatedField(slug_field="slug", many=True, required=False,
                                      queryset=EvidenceExcerpt.objects.defer("search_vector"),
                                      help_text="Slugs of the excerpts that evidence the link.")
    programme = programme_field(source="from_configuration.programme", read_only=True,
                                help_text="The programme of both configurations.")
    created_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    updated_by = StrictSlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ConfigurationChain
        fields = ["id", "from_configuration", "to_configuration", "programme", "note", "evidence",
                  "created_by", "updated_by", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # the pair's uniqueness is checked in validate(), with the field named

    def validate(self, attrs):
        current = {} if self.instance is None else {
            "from_configuration": self.instance.from_configuration, "to_configuration": self.instance.to_configuration}
        values = {**current, **{k: v for k, v in attrs.items() if k in ("from_configuration", "to_configuration")}}
        probe = ConfigurationChain(pk=getattr(self.instance, "pk", None), **values)
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc))  # with the rule's code (422)
        clash = ConfigurationChain.objects.filter(from_configuration=values["from_configuration"],
                                                  to_configuration=values["to_configuration"])
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                {"to_configuration": ["These configurations are already linked in this direction."]}, code="unique")
        programme_id = values["from_configuration"].programme_id
        strays = sorted(e.slug for e in attrs.get("evidence", []) if e.source.programme_id != programme_id)
        if strays:
            raise serializers.ValidationError(
                {"evidence": [f"Excerpts of another programme than the configurations: {', '.join(strays)}."]},
                code="rule")
        return attrs


class ChainViewSet(KBModelViewSet):
    """Chains: the outcome of one configuration is (part of) the context of the next. Each link has a
    note and the excerpts that evidence it; cycles are refused (422 naming the cycle). A link is
    visible when both its configurations are. Looked up by id; cursor-paginated by id."""

    list_reads_rows = True  # cmo_kb/api.py ValuesRows
    lookup_field = "pk"
    filterset_class = ChainFilterSet
    serializer_class = ChainSerializer
    pagination_class = KBCursorPagination
    cursor_ordering = ("pk",)

    def get_queryset(self):
        # Both ends visible, by join (a link to a draft is for the draft's writers).
        visible = visible_configuration(self.request)
        return (
            ConfigurationChain.objects.filter(visible("from_configuration__"), visible("to_configuration__"))
            .select_related("from_configuration__programme", "to_configuration", "created_by", "updated_by")
            .defer("from_configuration__search_vector", "from_configuration__search_text",
                   "to_configuration__search_vector", "to_configuration__search_text")
            .prefetch_related(Prefetch("evidence", queryset=EvidenceExcerpt.objects.only("id", "slug")))
        )
