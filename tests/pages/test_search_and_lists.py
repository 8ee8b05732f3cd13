"""The search page and the configuration list: the API's filters on a page, highlighted matches,
published configurations only, bad filter values refused with a message naming the filter."""

import re

import pytest

from tests.pages.test_pages import html, text


# --- configuration list (where matrix cells lead) ----------------------------------------------


def slugs(page):
    return re.findall(r'<article class="cmo cmo--\w+" id="cmo-([\w-]+)"', page)


def test_configuration_list_shows_published_only(client, kb):
    page = html(client.get("/programmes/ctg/configurations/"))
    assert slugs(page) == ["shc-control", "shc-fear"]
    assert "2 configurations" in text(client.get("/programmes/ctg/configurations/"))


@pytest.mark.parametrize(
    "params, expected",
    [
        ("team=shc&mechanism=patient-beliefs", ["shc-control", "shc-fear"]),
        ("effect=disabled", ["shc-fear"]),
        ("influence=enabler", ["shc-control"]),
        ("wish_dimension=power", ["shc-control", "shc-fear"]),
        ("quality_domain=safety", ["shc-fear"]),
        ("team=pathway", []),  # its only configuration is a draft
        ("mechanism=professional-beliefs", []),
        ("team=shc,pathway&effect=triggered", ["shc-control"]),  # several values, as the API takes them
    ],
)
def test_configuration_list_filters_like_the_api(client, kb, params, expected):
    page = html(client.get("/programmes/ctg/configurations/?" + params))
    assert slugs(page) == expected
    if not expected:
        assert "No published configuration matches these filters." in page


def test_configuration_list_says_which_filters_are_active(client, kb):
    words = text(client.get("/programmes/ctg/configurations/?team=shc&mechanism=patient-beliefs"))
    assert ("2 configurations for team: Shared Haemodialysis Care, mechanism: Changes to patient beliefs, "
            "attitudes and behaviours") in words
    page = html(client.get("/programmes/ctg/configurations/?team=shc"))
    assert '<option value="shc" selected>Shared Haemodialysis Care</option>' in page
    assert '<label for="filter-team">Team</label>' in page


def test_configuration_list_bad_filter_is_400_naming_it(client, kb):
    response = client.get("/programmes/ctg/configurations/?team=nobody")
    assert response.status_code == 400
    assert "Team: Unknown team &#x27;nobody&#x27;. Accepted: pathway, shc." in response.content.decode()
    response = client.get("/programmes/ctg/configurations/?effect=sometimes")
    assert response.status_code == 400
    assert "Triggered or disabled: &#x27;sometimes&#x27; is not a valid choice. Accepted: triggered, disabled." in (
        response.content.decode())


def test_configuration_list_never_resolves_a_draft(client, kb):
    # A configuration's slug is no filter here, and the theme of a draft only finds published rows.
    page = html(client.get("/programmes/ctg/configurations/?mechanism=professional-beliefs"))
    assert "Pathway targets" not in page


def test_configuration_list_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries):
    # the programme; 9 filter vocabularies (team, mechanism, theme, effect and influence need none,
    # Wish dimension, quality domain, outcome kind, pathway = 7); the team filter's slug check;
    # count; the page's ids; their cards; 7 prefetches (teams, contexts, outcomes, Wish shifts,
    # evidence links, quality domains, pathways).
    url = "/programmes/ctg/configurations/?team=shc"
    with django_assert_num_queries(19):
        small = client.get(url)
    grow_kb(25)  # more than a page
    with django_assert_num_queries(19):
        big = client.get(url)
    assert len(slugs(small.content.decode())) == 2 and len(slugs(big.content.decode())) == 20
    assert "Page 1 of 2" in big.content.decode()


# --- search -------------------------------------------------------------------------------------


def test_search_page_without_a_query_invites_one(client, kb):
    page = html(client.get("/programmes/ctg/search/"))
    assert '<label for="search-q">Words to find</label>' in page
    assert "Type a few words, or choose a filter." in page


def test_search_highlights_matches_in_excerpts_and_configurations(client, kb):
    page = html(client.get("/programmes/ctg/search/?q=control"))
    # (PostgreSQL's ts_headline trims stop words at the ends; SQLite shows the whole short text.)
    assert "feel more in <mark>control</mark> of my own dialysis" in page
    assert f'href="/excerpts/{kb.q_control.pk}/"' in page
    assert '<a href="/programmes/ctg/configurations/shc-control/">Shc control</a>' in page
    assert "evidence for <a href=\"/programmes/ctg/configurations/shc-control/\">Shc control</a>" in page
    words = text(client.get("/programmes/ctg/search/?q=control"))
    assert "Quotes and excerpts 1" in words and "Configurations 1" in words


def test_search_never_shows_drafts(client, kb):
    page = html(client.get("/programmes/ctg/search/?q=target"))
    # The finding is public evidence; the draft configuration it supports is not.
    assert "the four-hour <mark>target</mark>" in page
    assert "Pathway targets" not in page and "pathway-targets" not in page
    assert "No configurations match." in page


def test_search_filters_from_the_api(client, kb):
    assert "No quotes or excerpts match." in html(client.get("/programmes/ctg/search/?q=jobs&team=pathway"))
    page = html(client.get("/programmes/ctg/search/?q=jobs&team=shc"))
    assert "were worried our <mark>jobs</mark> would" in page


def test_search_excerpt_only_filter_hides_configurations_and_says_why(client, kb):
    page = html(client.get("/programmes/ctg/search/?q=control&speaker_role=patient"))
    assert "Configurations are not shown: Speaker applies to quotes and excerpts only." in page
    assert 'id="configurations-title"' not in page
    assert "<mark>control</mark>" in page


def test_search_configuration_only_filter_hides_excerpts_and_says_why(client, kb):
    page = html(client.get("/programmes/ctg/search/?q=shc&effect=disabled"))
    assert "Quotes and excerpts are not shown: Triggered or disabled applies to configurations only." in page
    assert '<a href="/programmes/ctg/configurations/shc-fear/">Shc fear</a>' in page
    assert "/programmes/ctg/configurations/shc-control/" not in page


def test_search_with_filters_and_no_words_browses(client, kb):
    page = html(client.get("/programmes/ctg/search/?team=shc&kind=participant_quote"))
    assert "I feel more in control of my own dialysis now." in page
    assert "We were worried our jobs would go." in page
    assert "four-hour target" not in page


@pytest.mark.parametrize(
    "params, message",
    [
        ("q=x&team=nobody", "Team: Unknown team &#x27;nobody&#x27;. Accepted: pathway, shc."),
        ("q=x&kind=rumour", "Kind of evidence: &#x27;rumour&#x27; is not a valid choice."),
        ("q=x&mechanism=telepathy", "Mechanism: Unknown mechanism &#x27;telepathy&#x27;."),
    ],
)
def test_search_bad_filter_is_400_naming_it(client, kb, params, message):
    response = client.get("/programmes/ctg/search/?" + params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_search_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries):
    # the programme; 7 filter vocabularies (team, mechanism, speaker role, wave, Wish dimension,
    # quality domain; kind, effect, influence need none = 6); excerpts: count (at most 1,000), page,
    # their first published links, how many configurations cite each; configurations: count, page,
    # their teams.
    with django_assert_num_queries(14):
        client.get("/programmes/ctg/search/?q=control")
    grow_kb(12)
    with django_assert_num_queries(14):
        client.get("/programmes/ctg/search/?q=control")


@pytest.mark.parametrize("cols", ["mechanism", "theme", "wish_dimension", "quality_domain", "pathway", "effect"])
def test_every_matrix_cell_drills_down_to_exactly_its_configurations(client, kb, grow_kb, cols):
    from mechanisms.matrix import build_matrix
    from mechanisms.models import CMOConfiguration

    grow_kb(4)
    matrix = build_matrix(CMOConfiguration.objects.published(), "team", cols, ids_limit=100)
    page = html(client.get(f"/programmes/ctg/matrix/?rows=team&cols={cols}"))
    checked = 0
    for row in matrix["cells"]:
        for cell in row:
            if not cell["count"]:
                continue
            url = f"/programmes/ctg/configurations/?team={cell['row']}&{cols}={cell['col']}"
            assert f'href="{url.replace("&", "&amp;")}"' in page
            assert sorted(slugs(html(client.get(url)))) == sorted(cell["slugs"]), url
            checked += 1
    assert checked >= 2
