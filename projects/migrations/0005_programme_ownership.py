"""Every row that a programme now owns goes to the programme it was made for.

Before programmes were workspaces the knowledge base held one evaluation (Closing the Gap, `ctg`):
every mechanism, theme, context, outcome, speaker role, wave, configuration and source belonged to
it implicitly. They (and their history records, so a revert restores them into the same programme)
are given to the programme `ctg`, or to the only programme there is; if there is none and rows
exist, the programme `ctg` is made. Nothing else changes: slugs, offsets, links and history ids stay
as they were. The programmes that existed were public, and stay so.
"""

from django.db import migrations

OWNED = [
    ("mechanisms", "EnablingMechanism"),
    ("mechanisms", "MechanismTheme"),
    ("mechanisms", "Context"),
    ("mechanisms", "Outcome"),
    ("mechanisms", "CMOConfiguration"),
    ("evidence", "SpeakerRole"),
    ("evidence", "EvaluationWave"),
    ("evidence", "Source"),
]


def _home_programme(Programme):
    programme = Programme.objects.filter(slug="ctg").first()
    if programme is None and Programme.objects.count() == 1:
        programme = Programme.objects.get()
    if programme is None:
        programme = Programme.objects.create(
            slug="ctg", name="Closing the Gap through Changing Relationships", short_name="Closing the Gap",
            funder="The Health Foundation", is_public=True,
        )
    return programme


def forwards(apps, schema_editor):
    Programme = apps.get_model("projects", "Programme")
    Programme.objects.update(is_public=True)
    apps.get_model("projects", "HistoricalProgramme").objects.update(is_public=True)
    models = []
    for app_label, name in OWNED:
        models.append(apps.get_model(app_label, name))
        models.append(apps.get_model(app_label, "Historical" + name))
    if not any(model.objects.filter(programme__isnull=True).exists() for model in models):
        return
    programme = _home_programme(Programme)
    for model in models:
        model.objects.filter(programme__isnull=True).update(programme=programme.pk)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0004_programmes"),
        ("mechanisms", "0005_programmes"),
        ("evidence", "0008_programmes"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
