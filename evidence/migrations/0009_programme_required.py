import django.db.models.deletion
from django.db import migrations, models


def _programme(related_name):
    return models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name=related_name,
                             to="projects.programme")


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0008_programmes"),
        ("projects", "0005_programme_ownership"),
    ]

    operations = [
        migrations.AlterField("source", "programme", _programme("sources")),
        migrations.AlterField("speakerrole", "programme", _programme("%(class)s_terms")),
        migrations.AlterField("evaluationwave", "programme", _programme("%(class)s_terms")),
    ]
