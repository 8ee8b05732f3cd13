"""evidence/bulk_write.py: new rows checked by every model rule in bulk, then written with their
history in one transaction; a broken rule names its row and field and nothing is written."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence import bulk_write
from evidence.bulk_write import RowError
from evidence.models import EvidenceExcerpt


def excerpts(kb, n, length=7, **extra):
    text = kb.source.full_text
    return [
        EvidenceExcerpt(slug=f"bulk-{i}", source_id=kb.source.pk, start=i, end=i + length, text=text[i : i + length],
                        team_id=kb.shc.pk, speaker_role_id=kb.patient_role.pk, **extra)
        for i in range(n)
    ]


def nothing_written(before):
    assert EvidenceExcerpt.objects.count() == before
    assert EvidenceExcerpt.history.filter(slug__startswith="bulk-").count() == 0


def test_writes_rows_and_their_history(kb, evaluator):
    written = bulk_write.bulk_write(EvidenceExcerpt, excerpts(kb, 40), change_reason="import", user=evaluator)
    stored = EvidenceExcerpt.objects.filter(slug__startswith="bulk-").order_by("start")
    assert [e.pk for e in written] == [e.pk for e in stored]
    assert [(e.start, e.text) for e in stored] == [(i, kb.source.full_text[i : i + 7]) for i in range(40)]
    history = EvidenceExcerpt.history.filter(slug__startswith="bulk-")
    assert history.count() == 40
    assert set(history.values_list("history_type", "history_change_reason", "history_user")) == {("+", "import", evaluator.pk)}


@pytest.mark.parametrize("row,break_it,field,says", [
    # the verbatim rule (the model's clean)
    (37, lambda e: setattr(e, "text", "Not the source's text"), "text", "does not match the source"),
    (5, lambda e: setattr(e, "end", 10_000), "end", "past the end of the source text"),
    (12, lambda e: setattr(e, "end", e.start), "end", "must be after start"),
    # field rules
    (50, lambda e: setattr(e, "slug", "not a slug!"), "slug", "slug"),
    (2, lambda e: setattr(e, "kind", "rumour"), "kind", "not a valid choice"),
    (44, lambda e: setattr(e, "attribution", "x" * 301), "attribution", "at most 300"),
    # foreign keys
    (30, lambda e: setattr(e, "source_id", 999_999), "source", "No source with id 999999"),
    (31, lambda e: setattr(e, "team_id", 999_999), "team", "No team with id 999999"),
    # uniqueness among the rows
    (20, lambda e: setattr(e, "slug", "bulk-3"), "slug", "row 4"),
])
def test_a_broken_rule_names_row_and_field_and_writes_nothing(kb, row, break_it, field, says):
    before = EvidenceExcerpt.objects.count()
    rows = excerpts(kb, 60)
    break_it(rows[row - 1])
    with pytest.raises(RowError) as raised:
        bulk_write.bulk_write(EvidenceExcerpt, rows, batch_size=16)
    assert (raised.value.row, raised.value.field) == (row, field)
    assert says in str(raised.value) and f"row {row}: {field}:" in str(raised.value)
    nothing_written(before)


def test_uniqueness_against_stored_rows(kb):
    before = EvidenceExcerpt.objects.count()
    rows = excerpts(kb, 30)
    rows[9].slug = kb.q_control.slug
    with pytest.raises(RowError, match="row 10: slug: A stored evidence excerpt already has q-control"):
        bulk_write.bulk_write(EvidenceExcerpt, rows)
    nothing_written(before)
    rows = excerpts(kb, 30)
    rows[25].start, rows[25].end, rows[25].text = kb.q_control.start, kb.q_control.end, kb.q_control.text
    with pytest.raises(RowError) as raised:
        bulk_write.bulk_write(EvidenceExcerpt, rows)
    assert (raised.value.row, raised.value.field) == (26, "source, start, end")
    nothing_written(before)


def test_a_later_batch_failing_leaves_the_earlier_ones_unwritten(kb):
    before = EvidenceExcerpt.objects.count()
    rows = excerpts(kb, 60)
    rows[-1].text = "wrong"
    with pytest.raises(RowError, match="row 60: text"):
        bulk_write.bulk_write(EvidenceExcerpt, rows, batch_size=8)
    nothing_written(before)


def _queries(kb, n, batch_size):
    EvidenceExcerpt.objects.filter(slug__startswith="bulk-").delete()
    with CaptureQueriesContext(connection) as queries:
        bulk_write.bulk_write(EvidenceExcerpt, excerpts(kb, n), batch_size=batch_size)
    return len(queries)


def test_query_count_grows_with_batches_not_rows(kb):
    # Per batch: the source, team and speaker role looked up (no wave given: no query); the slug
    # and the span checked for uniqueness; a savepoint, the rows' insert, the history rows' insert.
    # (At most 40 rows a batch here: SQLite splits an insert past 999 parameters.)
    assert _queries(kb, 10, 40) == _queries(kb, 40, 40)
    one, two, four = _queries(kb, 40, 40), _queries(kb, 40, 20), _queries(kb, 40, 10)
    per_batch = two - one
    assert four - one == 3 * per_batch
    assert 5 <= per_batch <= 10
