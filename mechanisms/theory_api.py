"""/api/theories/: a programme's theories, each with its versions (mechanisms/theories.py says the
rules). A theory is read by whoever may see its programme; looked up by slug, with ?programme= when
two visible programmes share one (409 otherwise, as for every programme resource).

What a reader sees of a theory: its published versions (drafts too, in the programmes the reader
writes in), and in each version the entries about configurations the reader may see (and, for a
refined one, whose replacement they may see). Written by the programme's evaluators: the theory's
own fields here; its versions and their entries in the workbench (/admin/mechanisms/theoryversion/),
where the nested rules show as errors on their fields. The versions are read-only in the API."""

from django.db.models import Prefetch, Q
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cmo_kb.api import KBModelViewSet
from cmo_kb.filters import KBFilterSet, TextListFilter
from cmo_kb.permissions import visible_configuration
from cmo_kb.serializer_fields import KBModelSerializer, StrictSlugRelatedField, programme_field
from cmo_kb.vocabulary import ReviewStatus
from evidence.models import EvidenceExcerpt
from projects.membership import writable_programmes

from .theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry


class TheoryFilterSet(KBFilterSet):
    name = TextListFilter(field_name="name", help_text="Part of the name.")

    class Meta:
        model = ProgrammeTheory
        fields = []


class TheoryEntrySerializer(serializers.ModelSerializer):
    configuration = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    replaced_by = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True,
        help_text="The configuration that replaces it (refined only; null otherwise).")
    evidence = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True,
                                            help_text="Slugs of the excerpts that evidence the verdict.")

    class Meta:
        model = TheoryVersionEntry
        fields = ["configuration", "verdict", "replaced_by", "note", "evidence"]
        read_only_fields = fields


class PromptedBySerializer(serializers.Serializer):
    wave = serializers.CharField(allow_null=True, read_only=True, help_text="Slug of the evaluation wave, or null.")
    source = serializers.CharField(allow_null=True, read_only=True, help_text="Slug of the source, or null.")


class TheoryVersionSerializer(serializers.ModelSerializer):
    prompted_by = serializers.SerializerMethodField(help_text="The wave and/or source that prompted this version.")
    configurations = TheoryEntrySerializer(source="visible_entries", many=True, read_only=True,
                                           help_text="Its configurations with their verdict (those you may see).")

    class Meta:
        model = TheoryVersion
        fields = ["number", "label", "date", "status", "prompted_by", "summary", "configurations"]
        read_only_fields = fields

    @extend_schema_field(PromptedBySerializer)
    def get_prompted_by(self, version):
        return {"wave": version.prompted_by_wave.slug if version.prompted_by_wave_id else None,
                "source": version.prompted_by_source.slug if version.prompted_by_source_id else None}


class TheorySerializer(KBModelSerializer):
    programme = programme_field(required=False)
    versions = TheoryVersionSerializer(source="visible_versions", many=True, read_only=True,
                                       help_text="Its versions, oldest first (drafts only for the programme's writers).")
    created_by = StrictSlugRelatedField(slug_field="username", read_only=True)
    updated_by = StrictSlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ProgrammeTheory
        fields = ["slug", "programme", "name", "description", "versions", "created_by", "updated_by",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def to_representation(self, instance):
        if not hasattr(instance, "visible_versions"):
            # A theory just created: read back with the versions the requester may see.
            view = self.context.get("view")
            if view is not None:
                instance = view.get_queryset().get(pk=instance.pk)
            else:
                instance.visible_versions = []
        return super().to_representation(instance)


class TheoryViewSet(KBModelViewSet):
    """Programme theories: an initial theory and its refined versions, each dated and linked to the
    wave or source that prompted it, with a verdict on each configuration (supported, refuted,
    refined with the configuration replacing it, or new) and the excerpts that evidence it. Readers
    see published versions and the configurations they may see; the versions are edited in the
    workbench."""

    serializer_class = TheorySerializer
    filterset_class = TheoryFilterSet

    def get_queryset(self):
        # 1 query for the theories, 1 for their visible versions, 1 for those versions' visible
        # entries, 1 for the entries' evidence: 4, however many theories a page shows.
        user = getattr(self.request, "user", None)
        visible = visible_configuration(self.request)
        writes = Q(theory__programme__in=writable_programmes(user).values("pk")) if user is not None else Q(pk__in=[])
        versions = (TheoryVersion.objects.filter(Q(status=ReviewStatus.PUBLISHED) | writes)
                    .select_related("prompted_by_wave", "prompted_by_source").defer("prompted_by_source__full_text",
                                                                                      "prompted_by_source__outline")
                    .order_by("number"))
        entries = (TheoryVersionEntry.objects.filter(visible("configuration__"))
                   .filter(Q(replaced_by__isnull=True) | Q(pk__in=TheoryVersionEntry.objects.filter(visible("replaced_by__")).values("pk")))
                   .select_related("configuration", "replaced_by")
                   .only("version_id", "verdict", "note", "configuration__slug", "replaced_by__slug")
                   .prefetch_related(Prefetch("evidence", queryset=EvidenceExcerpt.objects.only("id", "slug")))
                   .order_by("configuration__slug"))
        return (ProgrammeTheory.objects.select_related("programme", "created_by", "updated_by")
                .prefetch_related(Prefetch("versions", queryset=versions.prefetch_related(
                    Prefetch("entries", queryset=entries, to_attr="visible_entries")), to_attr="visible_versions"))
                .order_by("programme__slug", "slug"))
