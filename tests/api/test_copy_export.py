"""On PostgreSQL the excerpts' and configurations' CSV exports are written by COPY
(cmo_kb/copy_csv.py): these tests hold its bytes equal to the Python path's (csv.writer over the
serializer's or excerpt_export.export_rows' cells, which tests/api/test_csv_export.py holds equal to
the list's ?format=csv pages) on the cells where the two could part: quotes, commas, CR, LF, control
bytes, empty strings and NULLs, non-ASCII, microseconds, summer
time; for each role, filtered, and sent in blocks."""

import datetime as dt
import threading
import zoneinfo

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework import serializers

from cmo_kb import copy_csv
from evidence.api import ExcerptViewSet
from mechanisms.api import ConfigurationViewSet

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")

TRICKY = 'He said "no, never",\r\nthen\x01left.\nNext\x01\x02 line\r ok; café — ünïcode\x01\x03 \\ end\n'
VIEWS = {"excerpts": ExcerptViewSet, "configurations": ConfigurationViewSet}


@pytest.fixture
def tricky(kb, grow):
    from evidence.models import EvidenceExcerpt, EvidenceLink, Source
    from mechanisms.models import CMOConfiguration

    grow(3)
    source = Source.objects.create(slug="tricky", kind=kb.report, programme=kb.programme, title="Tricky, \"source\"",
                                   full_text=TRICKY)
    excerpt = EvidenceExcerpt.objects.create(
        slug="x-tricky", source=source, text=TRICKY, start=0, end=len(TRICKY), team=kb.shc, attribution="",
        section='1, "Intro"\n', note='evaluator\nonly "note"\x01,',
    )
    bare = EvidenceExcerpt.objects.create(slug="x-bare", source=source, text="He", start=0, end=2)
    published = CMOConfiguration.objects.create(
        slug="tricky-published", title='Tricky, "quoted"\ntitle, café', statement="Line\r\nbreak\x01\x03", status="published",
        notes="\x01\x02\n notes, \"evaluators\"", mechanism=kb.patient_beliefs, activity="",
    )
    published.teams.set([kb.shc, kb.pathway_team])
    published.contexts.set([kb.four_hour, kb.resigned])
    draft = CMOConfiguration.objects.create(programme=kb.programme, slug="tricky-draft", title="Draft, unseen", statement="S", status="draft")
    EvidenceLink.objects.create(excerpt=excerpt, configuration=published, part="context",
                                note='He wrote "yes"\nand\ttab \\ \x01 ✓')
    EvidenceLink.objects.create(excerpt=excerpt, configuration=draft, part="outcome")
    EvidenceLink.objects.create(excerpt=excerpt, configuration=kb.shc_control, part="outcome", stance="challenges")
    # Microseconds and summer time (+01:00 in Europe/London), and a winter second with none.
    summer, winter = dt.datetime(2024, 6, 1, 11, 59, 58, 5, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
    EvidenceExcerpt.objects.filter(pk=excerpt.pk).update(created_at=summer, updated_at=winter)
    EvidenceExcerpt.objects.filter(pk=bare.pk).update(created_at=winter, updated_at=summer)
    CMOConfiguration.objects.filter(pk=published.pk).update(created_at=summer, updated_at=winter)
    return kb


def both(client, url, view, monkeypatch):
    """The export's bytes from COPY, then from the Python path."""
    def body():
        response = client.get(url)
        assert response.status_code == 200, response.content
        return b"".join(response.streaming_content)

    copied = body()
    with monkeypatch.context() as patch:
        patch.setattr(view, "export_csv", None)
        written = body()
    return copied, written


@pytest.mark.parametrize("resource", VIEWS)
@pytest.mark.parametrize("role", ["anon_client", "analyst_client", "evaluator_client"])
def test_copy_writes_the_bytes_csv_writer_writes(tricky, request, monkeypatch, role, resource):
    client = request.getfixturevalue(role)
    copied, written = both(client, f"/api/{resource}/export/", VIEWS[resource], monkeypatch)
    assert copied == written
    assert b"\r\n" in copied and b"\x01\x03" in copied and "café".encode() in copied
    evaluator = role == "evaluator_client"
    assert (b"Draft, unseen" in copied or b"tricky-draft" in copied) == evaluator  # drafts: evaluators only
    assert (b"evaluators\"" in copied or b"evaluator\nonly" in copied) == evaluator  # internal notes likewise


@pytest.mark.parametrize("url", ["/api/excerpts/export/?team=shc", "/api/configurations/export/?team=shc"])
def test_copy_keeps_the_filters(tricky, evaluator_client, monkeypatch, url):
    resource = url.split("/")[2]
    copied, written = both(evaluator_client, url, VIEWS[resource], monkeypatch)
    assert copied == written
    everything, _ = both(evaluator_client, url.split("?")[0], VIEWS[resource], monkeypatch)
    assert 2 < copied.count(b"\r\n") < everything.count(b"\r\n")


def test_rows_pass_in_blocks(tricky, anon_client, monkeypatch):
    # Blocks of a few rows and a queue of one: the COPY's thread waits for the response to send each.
    whole, _ = both(anon_client, "/api/excerpts/export/", ExcerptViewSet, monkeypatch)
    monkeypatch.setattr(copy_csv, "BLOCK_BYTES", 100)
    monkeypatch.setattr(copy_csv, "QUEUE_BLOCKS", 1)
    response = anon_client.get("/api/excerpts/export/")
    parts = list(response.streaming_content)
    assert len(parts) > 3 and b"".join(parts) == whole


@pytest.mark.django_db(transaction=True)  # as served: the cancelled COPY must leave the connection usable
def test_an_abandoned_download_stops_the_copy(tricky, anon_client, monkeypatch):
    monkeypatch.setattr(copy_csv, "BLOCK_BYTES", 100)
    monkeypatch.setattr(copy_csv, "QUEUE_BLOCKS", 1)
    response = anon_client.get("/api/excerpts/export/")
    parts = iter(response.streaming_content)
    next(parts), next(parts)  # the header, one block
    response.close()  # as the server does when the client goes away
    assert not [thread for thread in threading.enumerate() if thread.name == "copy-csv"]
    # The connection is fine afterwards.
    assert anon_client.get("/api/excerpts/").status_code == 200


@pytest.mark.parametrize("zone", ["Europe/London", "America/St_Johns", "Asia/Kolkata", "UTC", "Pacific/Chatham"])
def test_when_is_drf_datetime(db, zone):
    field = serializers.DateTimeField()
    moments = [
        dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), dt.datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 31, 1, tzinfo=dt.UTC), dt.datetime(1970, 6, 1, 0, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(1800, 1, 1, 12, tzinfo=dt.UTC),  # local mean time: an offset with seconds (-00:01:15 in London)
    ]
    with timezone.override(zoneinfo.ZoneInfo(zone)), connection.cursor() as cursor:
        for moment in moments:
            cursor.execute("SELECT " + copy_csv.when("%(moment)s::timestamptz"), {"zone": zone, "moment": moment})
            assert cursor.fetchone()[0] == field.to_representation(moment), (zone, moment)


def test_a_filter_no_row_can_meet_exports_the_header_alone(kb, evaluator_client, anon_client):
    """min_sources past the range of a count (the fuzz run found it): Django knows before any SQL that no
    row matches; the export is the header alone, as the list is empty, on either path (COPY or the
    serializer), not a stream broken after its header."""
    huge = "min_sources=9223372036854775806"
    assert anon_client.get(f"/api/configurations/?{huge}").json()["results"] == []
    for client in (anon_client, evaluator_client):
        response = client.get(f"/api/configurations/export/?{huge}")
        assert response.status_code == 200
        lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("id,slug,title,status,")
