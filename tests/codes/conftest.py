"""A small code tree on the `kb` fixture's programme (ctg), and one on the private programme `other`
(tests/programmes/conftest.py) for the visibility tests."""

from datetime import datetime, timezone

import pytest

from tests.curation.conftest import eva_client  # noqa: F401  (fixtures used here too)
from tests.programmes.conftest import clients, other  # noqa: F401

CREATED = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def tree(kb, evaluator):
    """ctg's codes: Beliefs (a group code) > Control > Fear; Jobs at the top; Control codes q-control
    (by eva) and Jobs q-jobs (coder unknown, as an import without users leaves it)."""
    from evidence.codes import Code, Coding

    ns = type("Tree", (), {})()
    ns.beliefs = Code.objects.create(programme=kb.programme, name="Beliefs", codable=False, order=1, colour="#2E7D32",
                                     guid="0b8e3c9a-1f2d-4e5f-8a9b-0c1d2e3f4a5b")
    ns.control = Code.objects.create(programme=kb.programme, parent=ns.beliefs, name="Control", order=1,
                                     description="Feeling in control of one's own care.")
    ns.fear = Code.objects.create(programme=kb.programme, parent=ns.control, name="Fear", order=2)
    ns.jobs = Code.objects.create(programme=kb.programme, name="Jobs", order=2)
    ns.eva_control = Coding.objects.create(excerpt=kb.q_control, code=ns.control, coder=evaluator, created=CREATED)
    ns.jobs_coding = Coding.objects.create(excerpt=kb.q_jobs, code=ns.jobs, coder=None, created=CREATED)
    return ns


@pytest.fixture
def other_tree(other):
    """`other`'s codes (private): Zebrafish, coding o-quote by oeva."""
    from evidence.codes import Code, Coding

    ns = type("OtherTree", (), {})()
    ns.zebrafish = Code.objects.create(programme=other.programme, name="Zebrafish")
    ns.coding = Coding.objects.create(excerpt=other.quote, code=ns.zebrafish, coder=other.oeva, created=CREATED)
    return ns
