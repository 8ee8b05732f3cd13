import django.db.models.deletion
from django.db import migrations, models


def _programme(related_name):
    return models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name=related_name,
                             to="projects.programme")


class Migration(migrations.Migration):
    dependencies = [
        ("mechanisms", "0005_programmes"),
        ("projects", "0005_programme_ownership"),
    ]

    operations = [
        migrations.AlterField("cmoconfiguration", "programme", _programme("configurations")),
        migrations.AlterField("context", "programme", _programme("%(class)s_terms")),
        migrations.AlterField("enablingmechanism", "programme", _programme("%(class)s_terms")),
        migrations.AlterField("mechanismtheme", "programme", _programme("%(class)s_terms")),
        migrations.AlterField("outcome", "programme", _programme("%(class)s_terms")),
    ]
