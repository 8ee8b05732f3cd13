"""The search engine on both databases (FTS5 on SQLite, tsvector on PostgreSQL): what user input may
hold, whole words only, the index following writes, drafts never found, the candidate bound, and
the price of a search in queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence import search as search_module
from evidence.models import EvidenceExcerpt
from evidence.search import fts_query, search_configurations, search_excerpts
from mechanisms.models import CMOConfiguration


def slugs(results):
    return [r.slug for r in results]


@pytest.mark.parametrize("q", [
    '"', '"control', 'control"', '(control', 'control)', '*', 'contr*', '^control', 'NEAR(control jobs)',
    'control NEAR jobs', 'control AND', 'NOT control', 'OR', '- -', '"" ""', "'", ":", "col:control", "{a b}",
    "control + jobs", "\\", "%", "_", "control'--", "a:b:c OR (d",
])
def test_special_characters_never_500(kb, anon_client, q):
    for url in ("/api/excerpts/", "/api/configurations/"):
        response = anon_client.get(url, {"search": q})
        assert response.status_code == 200, (url, q, response.content[:300])
    assert anon_client.get("/programmes/ctg/search/", {"q": q}).status_code == 200


def test_syntax_in_user_input_is_only_words(kb):
    everything = EvidenceExcerpt.objects.all()
    # the words around the syntax still count; the syntax itself is no operator
    assert slugs(search_excerpts(everything, '"control')) == ["q-control"]
    assert slugs(search_excerpts(everything, "(control)")) == ["q-control"]
    assert slugs(search_excerpts(everything, "NEAR(control")) == []  # "near" is a word to find, not an operator
    assert slugs(search_excerpts(everything, "*")) == []


def test_whole_words_only_never_inside_a_word(kb):
    everything = EvidenceExcerpt.objects.all()
    assert slugs(search_excerpts(everything, "control")) == ["q-control"]
    assert slugs(search_excerpts(everything, "ontrol")) == []
    assert slugs(search_excerpts(everything, "contro")) == []


def test_stemming_finds_other_forms(kb):
    assert slugs(search_excerpts(EvidenceExcerpt.objects.all(), "controlling")) == ["q-control"]


def test_zero_hits_and_only_exclusions(kb):
    everything = EvidenceExcerpt.objects.all()
    assert list(search_excerpts(everything, "xylophone")) == []
    assert list(search_excerpts(everything, "-control")) == []


def test_the_index_follows_updates_and_deletes(kb):
    excerpt = EvidenceExcerpt.objects.get(slug="q-control")
    excerpt.attribution = "(a zebra keeper)"
    excerpt.save()
    everything = EvidenceExcerpt.objects.all()
    assert slugs(search_excerpts(everything, "zebra")) == ["q-control"]
    configuration = CMOConfiguration.objects.get(slug="shc-fear")
    configuration.title = "Walrus"
    configuration.save()
    assert slugs(search_configurations(CMOConfiguration.objects.all(), "walrus")) == ["shc-fear"]
    configuration.delete()
    assert slugs(search_configurations(CMOConfiguration.objects.all(), "walrus")) == []


def test_drafts_never_leak_through_search(kb, anon_client, analyst_client, evaluator_client):
    # "four-hour" and "waiting" are words of the draft pathway-targets only
    for client in (anon_client, analyst_client):
        assert client.get("/api/configurations/", {"search": "waiting"}).json()["results"] == []
        assert "pathway-targets" not in client.get("/programmes/ctg/search/", {"q": "waiting"}).content.decode()
    found = evaluator_client.get("/api/configurations/", {"search": "waiting"}).json()["results"]
    assert [c["slug"] for c in found] == ["pathway-targets"]


def test_a_hit_ranks_on_its_own_words_whatever_other_rows_hold(kb):
    """A rank reads the hit only (ts_rank on PostgreSQL; the weighted match count on SQLite, not
    bm25's corpus statistics), so adding draft text that holds the word moves no published rank."""
    published = CMOConfiguration.objects.filter(slug__in=["shc-control", "shc-fear"])
    before = {c.slug: c.rank for c in search_configurations(published, "control")}
    assert before and all(rank > 0 for rank in before.values())
    draft = CMOConfiguration.objects.get(slug="pathway-targets")
    draft.statement = "control " * 40
    draft.save()
    assert {c.slug: c.rank for c in search_configurations(published, "control")} == before
    assert "pathway-targets" in slugs(search_configurations(CMOConfiguration.objects.all(), "control"))


def test_a_long_query_is_a_400(kb, anon_client):
    q = " ".join(f"word{i}" for i in range(40))
    response = anon_client.get("/api/excerpts/", {"search": q})
    assert response.status_code == 400
    assert "search" in response.json()
    assert anon_client.get("/programmes/ctg/search/", {"q": q}).status_code == 400
    one_long_word = "a" * 5000
    assert anon_client.get("/api/excerpts/", {"search": one_long_word}).status_code == 200


def test_fts_query_translation():
    assert fts_query('dialysis "in control" OR power -nurses') == '"dialysis" AND ("in control" OR "power") NOT "nurses"'
    assert fts_query('say "hi') == '"say" AND """hi"'
    assert fts_query("* ^") is None


@pytest.mark.parametrize("url", ["/api/excerpts/", "/api/configurations/"])
def test_search_results_page_by_cursor_in_rank_order(kb, anon_client, url):
    every = anon_client.get(url, {"search": "haemodialysis OR control OR resigned OR patients", "page_size": 50}).json()["results"]
    seen, page = [], anon_client.get(url, {"search": "haemodialysis OR control OR resigned OR patients", "page_size": 1}).json()
    while True:
        seen += page["results"]
        if not page["next"]:
            break
        page = anon_client.get(page["next"]).json()
    assert [r["slug"] for r in seen] == [r["slug"] for r in every]
    assert len(seen) >= 2
    ranks = [r["rank"] for r in seen]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.parametrize("url,queries", [
    # excerpts, visible links
    ("/api/excerpts/", 2),
    # configurations + 7 prefetches
    ("/api/configurations/", 9),
])
def test_search_query_count_is_independent_of_page_size(kb, anon_client, url, queries):
    for size in (1, 50):
        with CaptureQueriesContext(connection) as ctx:
            response = anon_client.get(url, {"search": "control OR haemodialysis OR resigned OR patients", "page_size": size})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 1
        assert len(ctx.captured_queries) == queries, [q["sql"][:120] for q in ctx.captured_queries]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the candidate bound is PostgreSQL's design")
def test_postgres_ranks_a_bounded_candidate_set(kb, monkeypatch):
    everything = EvidenceExcerpt.objects.all()
    matches = {e.pk for e in search_excerpts(everything, "haemodialysis")}
    assert len(matches) == 2
    monkeypatch.setattr(search_module, "SEARCH_CANDIDATES", 1)
    bounded = [e.pk for e in search_excerpts(everything, "haemodialysis")]
    assert len(bounded) == 1 and set(bounded) <= matches
    sql = str(search_excerpts(everything, "haemodialysis").query)
    assert "LIMIT 1" in sql and "ts_rank" in sql
