"""The form an evaluator starts a programme with (/programmes/new/, projects/views.py programme_new)."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from mechanisms.models import Framework
from projects.membership import visible_programmes
from projects.models import Programme, Team
from projects.programme_setup import copy_vocabulary

# Addresses under /programmes/ that are pages, not programmes.
RESERVED_SLUGS = {"new"}
TEAM_NAME_MAX = Team._meta.get_field("name").max_length
TEAM_SHORT_MAX = Team._meta.get_field("short_name").max_length
TEAM_SLUG_MAX = Team._meta.get_field("slug").max_length
SLUG_MAX = Programme._meta.get_field("slug").max_length


class ProgrammeForm(forms.ModelForm):
    """A programme, its teams (one name a line), the shared frameworks it uses and its starting
    vocabulary (none, or a copy of a programme the user may see). ``save`` writes all of it in one
    transaction, as the user (the model-layer write rule makes the creator its lead)."""

    slug = forms.SlugField(
        max_length=SLUG_MAX, required=False, label="Address (slug)",
        help_text="Its address: /programmes/<slug>/. Letters, digits and hyphens; leave it empty to make one from the name.",
    )
    is_public = forms.BooleanField(
        required=False, label="Public",
        help_text="Anyone can read its published configurations. Unticked, only its members know it exists.",
    )
    start_year = forms.IntegerField(required=False, min_value=1900, max_value=2200, label="Start year")
    end_year = forms.IntegerField(required=False, min_value=1900, max_value=2200, label="End year")
    teams = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), label="Teams",
        help_text="One funded team a line, by its name. You can add more, and their stories, later.",
    )
    frameworks = forms.ModelMultipleChoiceField(
        queryset=Framework.objects.all(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Shared frameworks it uses",
    )
    vocabulary_from = forms.ModelChoiceField(
        queryset=Programme.objects.none(), required=False, label="Starting vocabulary",
        empty_label="Empty: start with no mechanisms, contexts or outcomes",
        help_text="Or copy another programme's mechanisms (with their themes), contexts, outcomes, speaker roles "
                  "and waves, and the frameworks it uses. Its evidence and configurations stay where they are.",
    )

    class Meta:
        model = Programme
        fields = ["name", "slug", "short_name", "funder", "evaluator", "start_year", "end_year", "is_public", "frameworks"]
        labels = {"name": "Name", "short_name": "Short name", "funder": "Funder", "evaluator": "Evaluator"}
        help_texts = {"evaluator": "Who evaluated the programme.", "short_name": "For the header and breadcrumbs, e.g. CtG."}

    field_order = ["name", "slug", "short_name", "funder", "evaluator", "start_year", "end_year", "is_public",
                   "teams", "frameworks", "vocabulary_from"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["vocabulary_from"].queryset = visible_programmes(user).order_by("name")

    def clean_slug(self):
        if not self.cleaned_data.get("slug") and not self.cleaned_data.get("name"):
            return ""  # the name's own error says what is missing
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data["name"])[:SLUG_MAX].strip("-")
        if not slug:
            raise ValidationError("Give the programme an address: its name has no letters or digits to make one from.")
        if slug in RESERVED_SLUGS:
            raise ValidationError(f"'{slug}' is not free to be a programme's address; choose another.")
        if Programme.objects.filter(slug=slug).exists():
            raise ValidationError(f"A programme already has the address '{slug}'; choose another.")
        return slug

    def clean_teams(self):
        names, seen = [], set()
        for number, line in enumerate(self.cleaned_data.get("teams", "").splitlines(), start=1):
            name = " ".join(line.split())
            if not name:
                continue
            if len(name) > TEAM_NAME_MAX:
                raise ValidationError(f"Line {number}: a team's name has at most {TEAM_NAME_MAX} characters (it has {len(name)}).")
            if name.casefold() in seen:
                raise ValidationError(f"Line {number}: '{name}' is listed twice.")
            seen.add(name.casefold())
            names.append(name)
        return names

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_year"), cleaned.get("end_year")
        if start is not None and end is not None and end < start:
            self.add_error("end_year", "The programme cannot end before it starts.")
        return cleaned

    @transaction.atomic
    def save(self, commit=True):
        """The programme, its teams, frameworks and vocabulary: all or nothing."""
        programme = super().save(commit=False)
        programme.created_by = programme.updated_by = self.user
        try:
            with transaction.atomic():
                programme.save()
        except IntegrityError:
            # Another programme took the address between the check and the save.
            self.add_error("slug", f"A programme already has the address '{programme.slug}'; choose another.")
            raise
        for order, name in enumerate(self.cleaned_data["teams"], start=1):
            Team.objects.create(programme=programme, name=name, order=order, created_by=self.user,
                                updated_by=self.user, **team_names(name, programme))
        source = self.cleaned_data.get("vocabulary_from")
        if source is not None:
            copy_vocabulary(source, programme)
        programme.frameworks.add(*self.cleaned_data["frameworks"])
        return programme


def team_names(name, programme):
    """A new team's slug (unique among all teams) and short name (unique in the programme), made
    from its name: 2 queries."""
    base = slugify(name)[:TEAM_SLUG_MAX - 4].strip("-") or "team"  # room for a "-999"
    taken = set(Team.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    short = name[:TEAM_SHORT_MAX].strip()
    shorts = set(Team.objects.filter(programme=programme).values_list("short_name", flat=True))
    candidate, n = short, 1
    while candidate in shorts:
        n += 1
        suffix = f" {n}"
        candidate = short[:TEAM_SHORT_MAX - len(suffix)] + suffix
    return {"slug": slug, "short_name": candidate}
