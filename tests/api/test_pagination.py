"""Cursor pages are keyset pages: a deep page filters on the last position seen and reads LIMIT n
rows, with no OFFSET, so it costs what the first page costs."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.mark.parametrize("url,count", [
    ("/api/configurations/?page_size=3", 2 + 9),
    ("/api/excerpts/?page_size=3", 3 + 9),
    ("/api/evidence-links/?page_size=3", 2 + 18),
])
def test_deep_cursor_pages_use_no_offset(kb, grow, anon_client, url, count):
    grow(9)
    seen, pages = [], 0
    while url:
        with CaptureQueriesContext(connection) as ctx:
            body = anon_client.get(url).json()
        main_query = ctx.captured_queries[0]["sql"]
        assert "OFFSET" not in main_query.upper(), main_query
        assert "LIMIT 4" in main_query.upper()  # page_size + 1, to know whether a next page exists
        seen += [item.get("slug", item.get("id")) for item in body["results"]]
        url, pages = body["next"], pages + 1
    assert len(seen) == len(set(seen)) == count
    assert pages == -(-count // 3)


def test_previous_links_walk_back(kb, grow, anon_client):
    grow(5)
    first = anon_client.get("/api/configurations/?page_size=3").json()
    second = anon_client.get(first["next"]).json()
    back = anon_client.get(second["previous"]).json()
    assert [c["slug"] for c in back["results"]] == [c["slug"] for c in first["results"]]
