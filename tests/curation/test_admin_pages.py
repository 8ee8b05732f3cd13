"""Every admin page of every curated model opens for a lead evaluator, with the kb fixture's rows."""

import pytest
from django.contrib import admin
from django.urls import reverse

CURATED_APPS = {"projects", "mechanisms", "evidence"}
# Curated models read and written on their parent's page, not on pages of their own.
ON_PARENT_PAGE = {
    # A configuration's comments (mechanisms/comments.py): only its programme's evaluators and leads
    # read them, a rule a list of their own would have to repeat (tests/review/test_comments.py).
    "mechanisms.ConfigurationComment",
}


def curated_models():
    return sorted(
        # (with an audit history: import runs are records of imports, with pages of their own,
        # tests/imports/test_configuration_import_doors.py)
        (m for m in admin.site._registry if m._meta.app_label in CURATED_APPS and hasattr(m, "history")),
        key=lambda m: m._meta.label
    )


def test_every_curated_model_is_registered_with_history_and_search():
    from django.apps import apps
    from simple_history.admin import SimpleHistoryAdmin

    registered = set(admin.site._registry)
    missing = [
        m._meta.label for app in CURATED_APPS for m in apps.get_app_config(app).get_models()
        # Curated models are those with an audit history (the seed loader's bookkeeping is not).
        if hasattr(m, "history") and not m.__name__.startswith("Historical") and m not in registered
        and m._meta.label not in ON_PARENT_PAGE
    ]
    assert missing == []
    for model in curated_models():
        model_admin = admin.site._registry[model]
        assert isinstance(model_admin, SimpleHistoryAdmin), model
        assert model_admin.search_fields, model


@pytest.mark.parametrize("model", curated_models(), ids=lambda m: m._meta.label)
def test_changelist_add_and_change_pages_open(kb, leo_client, model):
    opts = model._meta
    response = leo_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    response = leo_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert response.status_code == 200
    obj = model.objects.first()
    if obj is not None:
        for view in ("change", "history", "delete"):
            response = leo_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk]))
            assert response.status_code == 200, (view, response.status_code)


def test_changelist_search_works_for_every_model(kb, eva_client):
    for model in curated_models():
        opts = model._meta
        response = eva_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {"q": "shc"})
        assert response.status_code == 200, model
