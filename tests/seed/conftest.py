"""Load the full CtG corpus once per test module: loading it per test would take ~1 s each.

The module fixture opens a transaction around the load and rolls it back at the end of the module,
so other modules start from an empty database. Each test's own `db` transaction nests inside it as
a savepoint, so what one test changes is undone before the next.
"""

import io
import shutil

import pytest
from django.core.management import call_command
from django.db import transaction


@pytest.fixture(scope="module")
def ctg(django_db_setup, django_db_blocker):
    """The output of the first `load_ctg` on an empty database (the corpus stays loaded for the module)."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            out = io.StringIO()
            call_command("load_ctg", stdout=out)
            yield out.getvalue()
            transaction.set_rollback(True)


@pytest.fixture
def fixtures_copy(tmp_path, settings):
    """A private copy of fixtures/ (ctg/ and sources/) that settings.CTG_FIXTURES_DIR points at."""
    root = tmp_path / "fixtures"
    shutil.copytree(settings.CTG_FIXTURES_DIR, root, ignore=shutil.ignore_patterns("*.md"))
    settings.CTG_FIXTURES_DIR = root
    return root
