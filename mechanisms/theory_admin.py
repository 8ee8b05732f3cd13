"""Programme theories in the workbench (mechanisms/theories.py): theories, their versions with the
entries of each version inline, and the entries on their own (so their history and search work as
for every curated model).

Who sees what is projects/programme_admin.py's rule, with the models' reader_condition(): a draft
version and its entries (and an entry about a configuration readers do not see) are for the
programme's writers only. The models' rules (one programme, replaced_by only when refined, a
configuration once per version) are errors on their fields."""

from django.contrib import admin

from projects.admin import CuratedAdmin
from projects.programme_admin import ProgrammeInlineMixin

from .theories import ProgrammeTheory, TheoryVersion, TheoryVersionEntry


@admin.register(ProgrammeTheory)
class ProgrammeTheoryAdmin(CuratedAdmin):
    list_display = ("name", "slug", "programme", "updated_by")
    list_select_related = ("programme", "updated_by")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}

    def view_on_site(self, obj):
        return obj.get_absolute_url()


class TheoryVersionEntryInline(ProgrammeInlineMixin, admin.StackedInline):
    model = TheoryVersionEntry
    extra = 0
    fields = ("configuration", "verdict", "replaced_by", "note", "evidence")
    autocomplete_fields = ("configuration", "replaced_by", "evidence")


@admin.register(TheoryVersion)
class TheoryVersionAdmin(CuratedAdmin):
    list_display = ("theory", "number", "label", "date", "status")
    list_filter = ("status",)
    list_select_related = ("theory__programme",)
    search_fields = ("label", "summary", "theory__name", "theory__slug")
    autocomplete_fields = ("prompted_by_wave", "prompted_by_source")
    inlines = [TheoryVersionEntryInline]


@admin.register(TheoryVersionEntry)
class TheoryVersionEntryAdmin(CuratedAdmin):
    list_display = ("configuration", "verdict", "replaced_by", "version")
    list_filter = ("verdict",)
    list_select_related = ("configuration", "replaced_by", "version__theory")
    search_fields = ("configuration__title", "configuration__slug", "note", "version__label", "version__theory__name")
    autocomplete_fields = ("version", "configuration", "replaced_by", "evidence")
