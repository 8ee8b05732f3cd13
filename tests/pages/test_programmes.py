"""Many evaluations in one knowledge base, on the public pages: `/` lists the programmes a visitor may
see; each programme's pages live under /programmes/<slug>/ and read only its rows (its vocabulary's
slugs are unique only within it); a private programme is a 404 to anyone who is no member; the
shared frameworks' pages count only what the visitor may see; the old addresses redirect to
Closing the Gap's.

`kb` (tests/conftest.py) is ctg, public; `mums` (tests/pages/builders.py second_programme) is
private, with its own `patient-beliefs` mechanism, `targeting` theme and `resigned-dependence`
context."""

import re

import pytest

from tests.conftest import join
from tests.pages.builders import second_programme
from tests.pages.test_pages import html, text


def text_of(page):
    """The words of a page's HTML, tags stripped (entities stay escaped)."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


@pytest.fixture
def mums(kb):
    return second_programme(kb)


@pytest.fixture
def member(db, django_user_model, mums):
    """Mia, an analyst of Mums' Power only (no evaluator anywhere)."""
    user = django_user_model.objects.create_user(username="mia", password="pw-mia")
    return join(user, mums.programme, "analyst")


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


# --- the programme list: / ------------------------------------------------------------------------


def cards(page):
    """{programme name: the words of its card} on the programme list."""
    found = {}
    for card in re.findall(r'<li class="card">(.*?)</li>', page, re.S):
        words = " ".join(re.sub(r"<[^>]+>", " ", card).split())
        name = re.search(r'<h3 class="card__title"><a href="[^"]+">([^<]+)</a>', card).group(1)
        found[name.replace("&#x27;", "'")] = words
    return found


def test_programme_list_shows_public_programmes_to_anonymous_visitors(client, kb, mums):
    kb.programme.evaluator = "OPM"
    kb.programme.start_year, kb.programme.end_year = 2011, 2014
    kb.programme.save()
    page = html(client.get("/"))
    assert list(cards(page)) == ["Closing the Gap"]
    assert cards(page)["Closing the Gap"] == (
        "Closing the Gap Funded by The Health Foundation · Evaluated by OPM · 2011–2014 "
        "2 teams · 2 published configurations"  # the draft pathway-targets is not counted
    )
    assert '<a href="/programmes/ctg/">Closing the Gap</a>' in page
    assert "Mums" not in page and "/programmes/mums/" not in page


def test_programme_list_shows_a_members_private_programme(member_client, kb, mums):
    page = html(member_client.get("/"))
    assert list(cards(page)) == ["Closing the Gap", "Mums' Power"]
    assert cards(page)["Mums' Power"] == (
        "Mums&#x27; Power Private Funded by The Maternity Trust · Evaluated by Peer Research Ltd · 2019–2022 "
        "1 team · 1 published configuration"  # mums-draft is not counted
    )
    assert '<a href="/programmes/mums/">Mums&#x27; Power</a>' in page


def test_programme_list_shows_superusers_every_programme(client, admin_user, kb, mums):
    client.force_login(admin_user)
    assert list(cards(html(client.get("/")))) == ["Closing the Gap", "Mums' Power"]


def test_programme_list_offers_a_new_programme_to_evaluators_only(client, kb, evaluator, analyst):
    new = '<a class="button" href="/programmes/new/">New programme</a>'
    assert new not in html(client.get("/"))
    client.force_login(analyst)
    assert new not in html(client.get("/"))
    client.force_login(evaluator)
    assert new in html(client.get("/"))


def test_programme_list_query_count_does_not_grow(client, kb, mums, evaluator, django_assert_num_queries):
    from projects.models import Programme, Team

    # Anonymous: 1 query (the programmes with their team and published configuration counts as subqueries).
    with django_assert_num_queries(1):
        client.get("/")
    for n in range(3):
        programme = Programme.objects.create(slug=f"extra-{n}", name=f"Extra {n}", is_public=True)
        Team.objects.create(programme=programme, slug=f"extra-team-{n}", name=f"Extra team {n}", short_name="X")
    with django_assert_num_queries(1):
        page = html(client.get("/"))
    assert len(cards(page)) == 4
    # Signed in: the session, the user, the programmes, whether the user is an evaluator.
    client.force_login(evaluator)
    join(evaluator, Programme.objects.get(slug="extra-0"), "analyst")
    with django_assert_num_queries(4):
        client.get("/")


def test_programme_list_without_programmes(client, db):
    words = text(client.get("/"))
    assert "CMO KB" in words and "No programme yet." in words


# --- each programme's pages read its own rows only -------------------------------------------------


# (page, what ctg's shows, what it must not show: Mums' rows, whose slugs clash with ctg's)
PROGRAMME_PAGES = [
    ("", ["Shared Haemodialysis Care", "Changes to patient beliefs", "2 published configurations"],
     ["Peer Mums", "Mothers&#x27; beliefs"]),
    ("teams/", ["Shared Haemodialysis Care"], ["Peer Mums"]),
    ("mechanisms/", ["Changes to patient beliefs, attitudes and behaviours", "Targeting"],
     ["Mothers&#x27; beliefs", "Peer targeting"]),
    ("mechanisms/patient-beliefs/", ["Changes to patient beliefs, attitudes and behaviours", "Shc control", "Shc fear"],
     ["Mothers&#x27; beliefs", "Mums voice", "Mothers resigned"]),
    ("matrix/", ["SHC", "Patient", "2 published configurations"], ["Peer Mums", "Mothers"]),
    ("configurations/", ["Shc control", "Shc fear"], ["Mums voice", "Mothers resigned"]),
    ("configurations/?mechanism=patient-beliefs", ["Shc control", "Shc fear"], ["Mums voice"]),
    ("configurations/?theme=targeting", ["Shc control"], ["Mums voice", "Peer targeting"]),
    ("search/?q=listened", ["No quotes or excerpts match."], ["Nobody listened"]),
    ("search/?mechanism=patient-beliefs", ["We were worried our jobs would go."], ["Nobody listened", "Mums voice"]),
]


@pytest.mark.parametrize("path, shown, hidden", PROGRAMME_PAGES)
def test_ctg_pages_show_only_ctg_rows_even_to_a_member_of_both(member_client, kb, mums, path, shown, hidden):
    join(mums.programme.memberships.get().user, kb.programme, "analyst")
    page = text_of(html(member_client.get("/programmes/ctg/" + path)))
    for words in shown:
        assert words in page, words
    for words in hidden:
        assert words not in page, words


MUMS_PAGES = [
    ("", ["Mums&#x27; Power", "Peer Mums Network", "Mothers&#x27; beliefs about their own voice", "1 published configuration"],
     ["Shared Haemodialysis Care", "Changes to patient beliefs"]),
    ("teams/", ["Peer Mums Network"], ["Shared Haemodialysis Care", "Pathway"]),
    ("teams/mums-peer-mums/", ["Peer Mums Network", "Mums voice", "Nobody listened to us"], ["Shc control"]),
    ("mechanisms/", ["Mothers&#x27; beliefs about their own voice", "Peer targeting"],
     ["Changes to patient beliefs", "Changes to health professional beliefs"]),
    ("mechanisms/patient-beliefs/", ["Mothers&#x27; beliefs about their own voice", "Mums voice", "Mothers resigned"],
     ["Changes to patient beliefs", "Shc control", "Shc fear", "Patients resigned"]),
    ("matrix/", ["Peer Mums", "Mothers", "1 published configuration"], ["SHC", "Professional"]),
    ("configurations/", ["Mums voice", "Mothers resigned to what services offer"], ["Shc control", "Shc fear", "Mums draft"]),
    ("configurations/?mechanism=patient-beliefs&theme=targeting", ["Mums voice"], ["Shc control"]),
    ("configurations/mums-voice/", ["Mums voice", "Nobody listened to us", "Mothers speak up at appointments"],
     ["Shc control", "Shc fear"]),
    ("search/?q=listened", ["Nobody listened to us", "Mums voice"], ["Shc"]),
    ("search/?speaker_role=patient", ["Nobody listened to us"], ["I feel more in control"]),
    ("search/?wave=1", ["Nobody listened to us"], ["I feel more in control"]),
]


@pytest.mark.parametrize("path, shown, hidden", MUMS_PAGES)
def test_a_private_programmes_pages_show_its_rows_to_a_member(member_client, kb, mums, path, shown, hidden):
    page = text_of(html(member_client.get("/programmes/mums/" + path)))
    for words in shown:
        assert words in page, words
    for words in hidden:
        assert words not in page, words


@pytest.mark.parametrize("path", [path for path, _, _ in MUMS_PAGES] + ["teams/nobody/", "configurations/mums-draft/"])
def test_a_private_programme_is_a_404_to_anonymous_visitors(client, mums, path):
    assert client.get("/programmes/mums/" + path).status_code == 404


@pytest.mark.parametrize("path", [path for path, _, _ in MUMS_PAGES])
def test_a_private_programme_is_a_404_to_an_evaluator_of_another_programme(client, evaluator, mums, path):
    client.force_login(evaluator)
    assert client.get("/programmes/mums/" + path).status_code == 404


def test_a_404_for_a_private_programme_reads_like_one_for_no_programme(client, mums):
    hidden, absent = client.get("/programmes/mums/"), client.get("/programmes/nothing/")
    assert hidden.status_code == absent.status_code == 404
    assert "Mums" not in hidden.content.decode()
    assert hidden.content.decode().replace("/programmes/mums/", "X") == absent.content.decode().replace(
        "/programmes/nothing/", "X")


def test_a_row_is_found_only_under_its_own_programme(member_client, kb, mums):
    join(mums.programme.memberships.get().user, kb.programme, "analyst")
    assert member_client.get("/programmes/mums/configurations/shc-control/").status_code == 404
    assert member_client.get("/programmes/ctg/configurations/mums-voice/").status_code == 404
    assert member_client.get("/programmes/mums/teams/shc/").status_code == 404
    assert member_client.get("/programmes/ctg/teams/mums-peer-mums/").status_code == 404
    assert member_client.get("/programmes/mums/mechanisms/professional-beliefs/").status_code == 404


def test_members_see_published_configurations_only_evaluators_too(client, django_user_model, kb, mums):
    # The public pages show published knowledge; drafts are for the workbench, an evaluator's included.
    evaluator = join(django_user_model.objects.create_user("mel"), mums.programme, "evaluator")
    client.force_login(evaluator)
    assert "Mums voice" in html(client.get("/programmes/mums/configurations/"))
    assert "Mums draft" not in html(client.get("/programmes/mums/configurations/"))
    assert client.get("/programmes/mums/configurations/mums-draft/").status_code == 404
    assert "Mums draft" not in html(client.get("/programmes/mums/teams/mums-peer-mums/"))


def test_a_filter_names_only_the_programmes_own_terms(client, kb, mums):
    response = client.get("/programmes/ctg/configurations/?team=mums-peer-mums")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Team: Unknown team &#x27;mums-peer-mums&#x27;. Accepted: pathway, shc." in page
    response = client.get("/programmes/ctg/search/?q=x&speaker_role=nobody")
    assert response.status_code == 400
    assert "Speaker: Unknown speaker role &#x27;nobody&#x27;. Accepted: patient, staff-member." in response.content.decode()


def test_a_programmes_filter_options_are_its_own(member_client, kb, mums):
    page = html(member_client.get("/programmes/mums/configurations/"))
    team = re.search(r'<select id="filter-team" name="team">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)"', team) == ["mums-peer-mums"]
    mechanism = re.search(r'<select id="filter-mechanism" name="mechanism">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)">([^<]+)', mechanism) == [
        ("patient-beliefs", "Mothers&#x27; beliefs about their own voice")]


def test_matrix_cells_link_to_the_programmes_configurations(member_client, kb, mums):
    page = html(member_client.get("/programmes/mums/matrix/"))
    assert 'href="/programmes/mums/configurations/?team=mums-peer-mums&amp;mechanism=patient-beliefs"' in page
    assert '<a href="/programmes/mums/teams/mums-peer-mums/">Peer Mums</a>' in page
    assert '<a href="/programmes/mums/mechanisms/patient-beliefs/">Mothers</a>' in page
    listed = html(member_client.get("/programmes/mums/configurations/?team=mums-peer-mums&mechanism=patient-beliefs"))
    assert re.findall(r'<article class="cmo cmo--\w+" id="cmo-([\w-]+)"', listed) == ["mums-voice"]


# --- the shared frameworks' pages count what the visitor may see --------------------------------------


def test_quality_domains_count_only_visible_programmes(client, member, kb, mums):
    # Safety: shc-fear (ctg) and mums-voice (mums); mums-draft never counts.
    row = r'<a href="/quality-domains/safety/">Safety</a></th><td>[^<]*</td><td class="num">(\d+)</td><td class="num">(\d+)</td>'
    assert re.search(row, html(client.get("/quality-domains/"))).groups() == ("0", "1")
    page = html(client.get("/quality-domains/safety/"))
    assert "Shc fear" in page and "Mums voice" not in page and "Mothers speak up" not in page
    client.force_login(member)
    assert re.search(row, html(client.get("/quality-domains/"))).groups() == ("0", "2")
    page = html(client.get("/quality-domains/safety/"))
    assert "Shc fear" in page and "Mums voice" in page and "Mothers speak up at appointments" in page
    assert '<a href="/programmes/mums/configurations/mums-voice/">Mums voice</a>' in page


def test_wish_dimensions_count_only_visible_programmes(client, member, kb, mums):
    # Power: shc-control toward agency, shc-fear toward dependence (ctg); mums-voice toward agency.
    assert "Power Dependence: 1 Agency: 1" in text(client.get("/wish/"))
    words = text(client.get("/wish/power/"))
    assert "Team Toward Dependence Toward Agency SHC 1 1 The configurations" in words
    assert "Mums voice" not in words and "Peer Mums" not in words
    client.force_login(member)
    assert "Power Dependence: 1 Agency: 2" in text(client.get("/wish/"))
    words = text(client.get("/wish/power/"))
    assert "Team Toward Dependence Toward Agency Peer Mums 0 1 SHC 1 1 The configurations" in words
    page = html(client.get("/wish/power/"))
    assert '<a href="/programmes/mums/configurations/mums-voice/">Mums voice</a>' in page
    assert '<a href="/programmes/mums/teams/mums-peer-mums/">Peer Mums</a>' in page


def test_an_excerpt_of_a_private_programme_is_a_404_to_non_members(client, evaluator, member, mums):
    url = f"/excerpts/{mums.quote.pk}/"
    assert client.get(url).status_code == 404
    client.force_login(evaluator)
    assert client.get(url).status_code == 404
    client.force_login(member)
    page = html(client.get(url))
    assert '<mark id="quote" class="quote-mark">Nobody listened to us before the group started.</mark>' in page
    assert '<a href="/programmes/mums/configurations/mums-voice/">Mums voice</a>' in page
    assert '<a href="/programmes/mums/teams/mums-peer-mums/">Peer Mums Network</a>' in page


# --- the header -----------------------------------------------------------------------------------


def test_header_names_the_programme_and_links_to_the_list(member_client, kb, mums):
    page = html(member_client.get("/programmes/mums/mechanisms/"))
    header = page[page.index('<header class="site-header">'):page.index("</header>")]
    assert ('<a class="brand__tag brand__programme" href="/programmes/mums/"><span class="visually-hidden">Programme: '
            "</span>Mums&#x27; Power</a>") in header
    assert '<a href="/">Programmes</a>' in header
    assert '<a href="/programmes/mums/mechanisms/" aria-current="page">Mechanisms</a>' in header
    assert 'action="/programmes/mums/search/"' in header
    home = html(member_client.get("/"))
    header = home[home.index('<header class="site-header">'):home.index("</header>")]
    assert "brand__programme" not in header and '<a href="/" aria-current="page">Programmes</a>' in header


def test_breadcrumbs_start_with_the_programme(client, kb):
    page = html(client.get("/programmes/ctg/teams/shc/"))
    crumbs = page[page.index('<nav class="breadcrumbs'):]
    crumbs = crumbs[: crumbs.index("</nav>")]
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', crumbs) == [
        ("/", "Programmes"), ("/programmes/ctg/", "Closing the Gap"), ("/programmes/ctg/teams/", "Teams")]


# --- the old addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize("old, new", [
    ("/teams/", "/programmes/ctg/teams/"),
    ("/teams/shc/", "/programmes/ctg/teams/shc/"),
    ("/mechanisms/", "/programmes/ctg/mechanisms/"),
    ("/mechanisms/patient-beliefs/", "/programmes/ctg/mechanisms/patient-beliefs/"),
    ("/matrix/?rows=team&cols=wish_dimension", "/programmes/ctg/matrix/?rows=team&cols=wish_dimension"),
    ("/configurations/", "/programmes/ctg/configurations/"),
    ("/configurations/?team=shc&mechanism=patient-beliefs", "/programmes/ctg/configurations/?team=shc&mechanism=patient-beliefs"),
    ("/configurations/shc-control/?evidence=1", "/programmes/ctg/configurations/shc-control/?evidence=1"),
    ("/search/?q=%22in+control%22&team=shc", "/programmes/ctg/search/?q=%22in+control%22&team=shc"),
])
def test_old_addresses_redirect_to_closing_the_gaps_pages(client, kb, old, new):
    response = client.get(old)
    assert response.status_code == 301
    assert response["Location"] == new
    assert client.get(new).status_code == 200


def test_an_old_address_of_another_programmes_row_is_still_a_404(client, member, mums):
    response = client.get("/configurations/mums-voice/", follow=True)
    assert response.redirect_chain == [("/programmes/ctg/configurations/mums-voice/", 301)]
    assert response.status_code == 404


def test_addresses_of_rows_are_their_programmes(kb, mums):
    assert kb.shc.get_absolute_url() == "/programmes/ctg/teams/shc/"
    assert kb.patient_beliefs.get_absolute_url() == "/programmes/ctg/mechanisms/patient-beliefs/"
    assert mums.mechanism.get_absolute_url() == "/programmes/mums/mechanisms/patient-beliefs/"
    assert kb.shc_control.get_absolute_url() == "/programmes/ctg/configurations/shc-control/"
    assert mums.published.get_absolute_url() == "/programmes/mums/configurations/mums-voice/"
    # A draft has no public page, so the admin shows it no "View on site".
    assert not hasattr(mums.draft, "get_absolute_url")
