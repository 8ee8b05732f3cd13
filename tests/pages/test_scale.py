"""Every public page stays the same size and costs the same queries however much data it shows.

SHC gets 200 more published configurations (each with a Wish shift, a quality domain and two pieces
of evidence) and shc-control 200 more excerpts; then three times as many. Each page must do exactly
as many queries at 3x as at 1x and its HTML must not grow with the data (a few bytes for longer
numbers aside), under an absolute bound. The old team page rendered every configuration with all its
evidence: 107 MB of HTML at a million excerpts.
"""

import re

import pytest

from cmo_kb.vocabulary import ReviewStatus

# Whatever the size, no public page may be larger than this (the goal is 1 MB; these pages are far
# smaller, so a page that starts to grow with the data fails here long before it reaches 1 MB).
MAX_HTML = 400_000


def grow_big(kb, n):
    """n more published configurations on SHC (bulk, so 3x stays quick) and n more excerpts on
    shc-control. Returns the new total of SHC's published configurations."""
    from evidence.models import EvidenceExcerpt, EvidenceLink, Source
    from mechanisms.models import CMOConfiguration, WishShift

    start = CMOConfiguration.objects.count()
    configurations = CMOConfiguration.objects.bulk_create([
        CMOConfiguration(
            programme=kb.programme, slug=f"bulk-{i:05d}", title=f"Bulk configuration {i}", statement=f"In C{i}, M leads to O{i}.",
            mechanism=kb.patient_beliefs if i % 2 else kb.professional_beliefs, theme=kb.targeting if i % 2 else None,
            effect="disabled" if i % 3 else "triggered", influence="barrier" if i % 3 else "enabler",
            status=ReviewStatus.PUBLISHED,
        )
        for i in range(start, start + n)
    ])
    Teams = CMOConfiguration.teams.through
    Teams.objects.bulk_create([Teams(cmoconfiguration_id=c.pk, team_id=kb.shc.pk) for c in configurations])
    Domains = CMOConfiguration.quality_domains.through
    Domains.objects.bulk_create([Domains(cmoconfiguration_id=c.pk, qualitydomain_id=kb.safety.pk) for c in configurations])
    WishShift.objects.bulk_create([
        WishShift(configuration=c, dimension=kb.power, toward=kb.agency, between=kb.clinician_patient) for c in configurations
    ])
    EvidenceLink.objects.bulk_create(
        [EvidenceLink(excerpt=kb.q_control, configuration=c, part="context") for c in configurations]
        + [EvidenceLink(excerpt=kb.q_jobs, configuration=c, part="outcome") for c in configurations]
    )
    sentences = [f"Patient {start + i} said the unit felt like home. " for i in range(n)]
    source = Source.objects.create(slug=f"bulk-source-{start}", kind=kb.report, programme=kb.programme,
                                   title=f"Bulk source {start}", full_text="".join(sentences))
    excerpts, offset = [], 0
    for sentence in sentences:
        text = sentence.strip()
        excerpts.append(EvidenceExcerpt(slug=f"bulk-q-{start}-{offset}", source=source, text=text, start=offset,
                                        end=offset + len(text), team=kb.shc, kind="participant_quote"))
        offset += len(sentence)
    excerpts = EvidenceExcerpt.objects.bulk_create(excerpts)
    EvidenceLink.objects.bulk_create([EvidenceLink(excerpt=e, configuration=kb.shc_control, part="mechanism") for e in excerpts])
    return CMOConfiguration.objects.published().filter(teams=kb.shc).count()


PAGES = [
    "/", "/programmes/ctg/teams/", "/programmes/ctg/teams/shc/", "/programmes/ctg/mechanisms/", "/programmes/ctg/mechanisms/patient-beliefs/", "/wish/", "/wish/power/",
    "/quality-domains/", "/quality-domains/safety/", "/programmes/ctg/matrix/", "/programmes/ctg/matrix/?rows=team&cols=wish_dimension",
    "/programmes/ctg/configurations/", "/programmes/ctg/configurations/?team=shc&page=3", "/programmes/ctg/configurations/shc-control/",
    "/programmes/ctg/configurations/shc-control/?evidence=3", "/programmes/ctg/search/?team=shc", "/programmes/ctg/search/?team=shc&epage=5&cpage=7",
]


def measure(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries), len(response.content)


def test_every_page_costs_the_same_at_three_times_the_data(client, kb):
    # q-control is evidence for every bulk configuration.
    pages = PAGES + [f"/excerpts/{kb.q_control.pk}/", f"/excerpts/{kb.q_control.pk}/?used=4"]
    grow_big(kb, 200)
    small = {url: measure(client, url) for url in pages}
    total = grow_big(kb, 400)
    assert total == 602  # shc-control, shc-fear and 600 more
    big = {url: measure(client, url) for url in pages}
    problems = []
    for url in pages:
        (q_small, b_small), (q_big, b_big) = small[url], big[url]
        if q_small != q_big:
            problems.append(f"{url}: {q_small} queries at 1x, {q_big} at 3x")
        # Longer numbers ("602" for "202", page counts) add a few bytes; anything that grows with the
        # rows would add kilobytes.
        if b_big > b_small + 500:
            problems.append(f"{url}: {b_small} bytes at 1x, {b_big} at 3x")
        if b_big > MAX_HTML:
            problems.append(f"{url}: {b_big} bytes")
    assert not problems, problems


def test_team_story_links_to_every_configuration_of_each_mechanism(client, kb):
    grow_big(kb, 600)
    page = client.get("/programmes/ctg/teams/shc/").content.decode()
    assert len(page) < MAX_HTML
    # The first screen still tells the story: the totals come from the database, not the cards.
    assert "<strong>602</strong> configurations" in page
    # patient-beliefs: shc-control, shc-fear and the 300 odd-numbered bulk ones.
    link = "/programmes/ctg/configurations/?team=shc&amp;mechanism=patient-beliefs"
    assert f'<a href="{link}">All 302 configurations' in page
    assert page.count('class="cmo cmo--') == 2 * 5  # five cards for each of the two mechanisms
    listed = client.get(link.replace("&amp;", "&")).content.decode()
    assert "302 configurations" in listed
    last = client.get(link.replace("&amp;", "&") + "&page=16").content.decode()
    assert "Page 16 of 16" in last and last.count('class="cmo cmo--') == 2  # 302 = 15 x 20 + 2


def test_configuration_page_pages_through_thousands_of_evidence(client, kb):
    grow_big(kb, 600)
    first = client.get("/programmes/ctg/configurations/shc-control/").content.decode()
    # 601 excerpts: q-control and the 600 bulk quotes; 50 a page.
    assert 'Evidence <span class="count">601</span>' in first
    assert "Page 1 of 13" in first and 'href="?evidence=2"' in first
    assert len(first) < MAX_HTML
    second = client.get("/programmes/ctg/configurations/shc-control/?evidence=2").content.decode()
    quotes = lambda html: set(re.findall(r"Patient \d+ said", html))  # noqa: E731
    assert len(quotes(first)) == 49 and len(quotes(second)) == 50  # q-control comes first on page 1
    assert not quotes(first) & quotes(second)
    # The same mechanism elsewhere: the first 12 of 301 and a link to all.
    assert 'The same mechanism elsewhere <span class="count">301</span>' in first
    assert "All 301 others with this mechanism" in first


def test_search_counts_at_most_a_thousand(client, kb):
    grow_big(kb, 1100)
    page = client.get("/programmes/ctg/search/?team=shc").content.decode()
    assert 'Quotes and excerpts <span class="count">more than 1,000</span>' in page
    assert "Page 1 of 100" in page
    assert client.get("/programmes/ctg/search/?team=shc&epage=100").status_code == 200
