"""Every list endpoint costs the same number of queries at any page size and any data size.

Each case is measured at page_size=2 and page_size=50, with 3 and then 11 extra configurations
(each with teams, contexts, outcomes, a quality domain, a pathway, a Wish shift, two evidence links
and an excerpt of its own). Anonymous clients need no query to authenticate; a token client costs two
more (the token and its user, then the user's groups for the evaluator check).
"""

import pytest

from evidence.models import EvaluationWave

CASES = [
    # count; programmes; their frameworks (instances, not rows: each says the reader's role, which
    # costs a token client one more query, the user's memberships)
    ("/api/programmes/", 3),
    # count; teams + programme; quality domains (+ domain, evidence); relationship levels; key figures
    ("/api/teams/", 5),
    # count; mechanisms; their themes
    ("/api/mechanisms/", 3),
    # count; themes + mechanism
    ("/api/themes/", 2),
    # count; dimensions; their poles
    ("/api/wish-dimensions/", 3),
    ("/api/quality-domains/", 2),
    ("/api/relationship-levels/", 2),
    # count; pathways + example team
    ("/api/pathways/", 2),
    ("/api/contexts/", 2),
    # count; outcomes + kind; their quality domains
    ("/api/outcomes/", 3),
    ("/api/outcome-kinds/", 2),
    ("/api/relationship-pairs/", 2),
    ("/api/speaker-roles/", 2),
    ("/api/waves/", 2),
    # count; sources + kind + programme, without the text; the page's texts' lengths
    ("/api/sources/", 3),
    # configurations (+ mechanism, theme, level, users); then one each for teams, contexts,
    # outcomes (+ kind), quality domains, pathways, Wish shifts (+ dimension, pole, pair),
    # evidence links (+ excerpt, team, role, source): no COUNT with cursor pages
    ("/api/configurations/", 9),  # + its chain (leads_to, follows)
    ("/api/configurations/?view=compact", 8),
    ("/api/configurations/?format=csv", 8),
    # the same 8, plus one query per slug filter checking the slugs exist (team, mechanism, wish_direction)
    ("/api/configurations/?team=shc&mechanism=patient-beliefs&wish_direction=agency", 12),
    ("/api/configurations/?search=extra", 9),
    # excerpts (+ source without text, team, role, wave, users); their visible links (+ configuration)
    ("/api/excerpts/", 2),
    ("/api/excerpts/?format=csv", 2),
    # the same 2, plus the team and mechanism slug checks
    ("/api/excerpts/?mechanism=patient-beliefs&team=shc", 4),
    ("/api/excerpts/?search=evidence", 2),
    # evidence links (+ excerpt, configuration, users), visibility in the same query
    ("/api/evidence-links/", 1),
    # matrix: the counts (one aggregate over configurations, team links and Wish shifts); team terms;
    # Wish dimension terms (the effect filter's choices need no query)
    ("/api/matrix/?rows=team&cols=wish_dimension", 3),
    ("/api/matrix/?rows=team&cols=mechanism&effect=triggered,disabled", 3),
    # and the ids behind the cells, when asked for
    ("/api/matrix/?rows=team&cols=mechanism&ids=true", 4),
]


@pytest.fixture
def kb_with_waves(kb):
    EvaluationWave.objects.create(programme=kb.programme, slug="wave-1", name="Wave 1", number=1)
    EvaluationWave.objects.create(programme=kb.programme, slug="wave-2", name="Wave 2", number=2)
    return kb


def _measure(client, url, expected, django_assert_num_queries):
    for page_size in (2, 50):
        sep = "&" if "?" in url else "?"
        target = url if "/matrix/" in url else f"{url}{sep}page_size={page_size}"
        with django_assert_num_queries(expected):
            response = client.get(target)
        assert response.status_code == 200, response.content
        if "/matrix/" not in url and "format=csv" not in url:
            assert response.json()["results"], f"{target} returned nothing: the count would prove little"


@pytest.mark.parametrize("url,expected", CASES)
def test_anonymous_query_counts(kb_with_waves, grow, anon_client, url, expected, django_assert_num_queries):
    grow(3)
    _measure(anon_client, url, expected, django_assert_num_queries)
    grow(8)
    _measure(anon_client, url, expected, django_assert_num_queries)


@pytest.mark.parametrize("url,expected", [
    # + token and user; + the user's groups (the evaluator check, once per request, where the
    # internal notes depend on it)
    ("/api/configurations/", 9 + 2), ("/api/excerpts/", 2 + 2),
    # + token and user only: which configurations a user sees is a subquery of the programmes they
    # belong to (projects/membership.py visible_curated), no evaluator check of its own
    ("/api/evidence-links/", 1 + 1), ("/api/matrix/?rows=team&cols=wish_dimension", 3 + 1),
    # + token and user only: teams are public, no evaluator check
    ("/api/teams/", 5 + 1),
])
def test_token_client_query_counts(kb_with_waves, grow, analyst_client, url, expected, django_assert_num_queries):
    grow(3)
    _measure(analyst_client, url, expected, django_assert_num_queries)
    grow(8)
    _measure(analyst_client, url, expected, django_assert_num_queries)


@pytest.mark.parametrize("url,expected", [
    # configuration + the 7 prefetches
    ("/api/configurations/extra-001/", 9),
    # team + its 3 prefetches
    ("/api/teams/shc/", 4),
    # excerpt + its visible links
    ("/api/excerpts/q-control/", 2),
])
def test_detail_query_counts(kb, grow, anon_client, url, expected, django_assert_num_queries):
    grow(3)
    with django_assert_num_queries(expected):
        assert anon_client.get(url).status_code == 200
    grow(8)
    with django_assert_num_queries(expected):
        assert anon_client.get(url).status_code == 200
