"""Each public page renders the right content from the `kb` fixture, hides drafts, answers 404 for
unknown addresses, and costs a fixed number of queries whatever the amount of data."""

import re

import pytest


def html(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text(response):
    """The page's visible words, tags stripped and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html(response)).split())


# --- home -------------------------------------------------------------------------------------


def test_home_shows_programme_teams_mechanisms_messages_and_search(client, story_kb):
    page = html(client.get("/programmes/ctg/"))
    words = text(client.get("/programmes/ctg/"))
    assert "<h1 id=\"hero-title\">Closing the Gap</h1>" in page
    assert "Seven projects were funded to change relationships." in words
    assert '<a href="/programmes/ctg/teams/shc/">Shared Haemodialysis Care</a>' in page
    assert '<a href="/programmes/ctg/teams/pathway/">Pathway</a>' in page
    assert '<a href="/programmes/ctg/mechanisms/patient-beliefs/">Changes to patient beliefs, attitudes and behaviours</a>' in page
    assert "Activities are not mechanisms." in words
    assert '<form class="search-box" role="search" action="/programmes/ctg/search/" method="get">' in page
    assert '<label for="home-q">' in page
    # 2 published configurations (the draft is not counted), one of them disabled; 2 participant quotes.
    assert "2 published configurations, 1 of them disabled mechanisms" in words
    assert "2 participant quotes" in words
    # Patient beliefs: shc-control triggered, shc-fear disabled; professional beliefs: only a draft.
    assert words.count("1 triggered 1 disabled") == 2  # the SHC team card and the patient-beliefs card
    assert "pathway-targets" not in page and "Pathway targets" not in page


def test_home_without_a_programme_still_renders(client, db):
    assert "CMO KB" in text(client.get("/"))


def test_home_query_count_does_not_grow(client, story_kb, grow_kb, django_assert_num_queries):
    # 9 queries: programme, teams, their published counts (one GROUP BY of team links), mechanisms
    # with counts, published totals, participant quote count, Wish dimensions, quality domains,
    # programme theories.
    for size in (0, 4):
        grow_kb(size) if size else None
        with django_assert_num_queries(9):
            assert client.get("/programmes/ctg/").status_code == 200


# --- teams ------------------------------------------------------------------------------------


def test_team_list(client, kb, grow_kb, django_assert_num_queries):
    words = text(client.get("/programmes/ctg/teams/"))
    assert "Shared Haemodialysis Care 2 configurations · 1 triggered 1 disabled" in words
    assert "Pathway 0 configurations · 0 triggered 0 disabled" in words  # its only configuration is a draft
    # 2 queries: teams; their published counts (one GROUP BY of team links).
    with django_assert_num_queries(3):
        client.get("/programmes/ctg/teams/")
    grow_kb(4)
    with django_assert_num_queries(3):
        client.get("/programmes/ctg/teams/")


def test_team_story_shows_figure_4_story_and_key_figures(client, story_kb):
    words = text(client.get("/programmes/ctg/teams/shc/"))
    for field in ("Objective Provide the opportunity for patients", "Target Patients having inpatient haemodialysis care",
                  "Scope Yorkshire and Humber renal network covering six renal centres",
                  "Delivery Educational materials for patients and support from nurses",
                  "Background The Sharing Haemodialysis Care programme ran",
                  "What were they trying to do? Empower patients", "What did they achieve? Patients became more knowledgeable",
                  "Also called: SHC, Sharing Haemodialysis Care", "26 dialysis units Where the report says so"):
        assert field in words, field
    page = html(client.get("/programmes/ctg/teams/shc/"))
    assert f'href="/excerpts/{story_kb.q_control.pk}/">Where the report says so' in page


def test_team_story_groups_configurations_by_mechanism_with_effect_influence_and_evidence(client, story_kb):
    page = html(client.get("/programmes/ctg/teams/shc/"))
    words = text(client.get("/programmes/ctg/teams/shc/"))
    group = page.index('<a href="/programmes/ctg/mechanisms/patient-beliefs/">Changes to patient beliefs, attitudes and behaviours</a> <span class="count">2</span>')
    control, fear = page.index('id="cmo-shc-control"'), page.index('id="cmo-shc-fear"')
    assert group < control and group < fear
    assert "Shc control ▲ Triggered + Enabler" in words
    assert "Shc fear ▽ Disabled − Barrier" in words
    assert 'class="cmo cmo--disabled" id="cmo-shc-fear"' in page
    assert "Context Patients resigned to dependence on nurses" in words
    assert "Outcome Some patients refuse self-care (relationship change)" in words
    assert "Targeting (triggered)" in words
    # Quotes with their attribution, each linking to its place in the source.
    assert "I feel more in control of my own dialysis now. (Shared Haemodialysis Care, patient) Supports the outcome" in words
    assert "We were worried our jobs would go. (Shared Haemodialysis Care, staff member) Supports the mechanism" in words
    assert f'<a class="quote__source" href="/excerpts/{story_kb.q_control.pk}/">' in page
    assert f'<a class="quote__source" href="/excerpts/{story_kb.q_jobs.pk}/">' in page


def test_team_story_wish_profile_chart_and_table(client, story_kb):
    page = html(client.get("/programmes/ctg/teams/shc/"))
    words = text(client.get("/programmes/ctg/teams/shc/"))
    # The chart is an image with a name, and the table says the same in words.
    assert '<svg class="chart__svg"' in page and 'role="img"' in page
    assert "Power Dependence: 1 Agency: 1 Clinician–patient" in words
    # The draft's valence shift toward hostility never shows.
    assert "Valence Competitive/hostile: 0 Cooperative/friendly: 0 —" in words


def test_team_story_quality_domains_stated_and_inferred(client, story_kb):
    words = text(client.get("/programmes/ctg/teams/shc/"))
    assert "Safety inferred by the curators" in words
    assert "Person-centredness stated in the report evidence for Person-centredness" in words


def test_team_story_hides_drafts(client, story_kb):
    page = html(client.get("/programmes/ctg/teams/pathway/"))
    assert "Pathway targets" not in page and "pathway-targets" not in page
    assert "No published configurations for this team yet." in page
    assert "No relationship shifts are recorded" in page


def test_unknown_team_is_404(client, kb):
    assert client.get("/programmes/ctg/teams/nobody/").status_code == 404


def test_team_story_query_count_does_not_grow(client, story_kb, grow_kb, django_assert_num_queries):
    # 20 queries: team (+programme), key figures (+evidence), quality domains, relationship levels,
    # the summary (an aggregate), the excerpts cited (a count), configurations per mechanism (an
    # aggregate), the ids of the first configurations of each mechanism, their cards, then prefetches of teams, contexts,
    # outcomes (+kind), Wish shifts (+dimension, pole, pair), evidence links (+excerpt, role, team),
    # quality domains, pathways; the chain links among the configurations the diagram draws (its
    # parts come from the cards' prefetches); Wish dimensions and their poles; the Wish profile (an aggregate).
    with django_assert_num_queries(20):
        small = client.get("/programmes/ctg/teams/shc/")
    grow_kb(4)
    with django_assert_num_queries(20):
        big = client.get("/programmes/ctg/teams/shc/")
    assert text(small).count("Evidence") < text(big).count("Evidence")


# --- mechanisms -------------------------------------------------------------------------------


def test_mechanism_list(client, kb):
    words = text(client.get("/programmes/ctg/mechanisms/"))
    assert "Changes to patient beliefs, attitudes and behaviours Themes: Targeting 2 configurations · 1 triggered 1 disabled" in words
    assert "Changes to health professional beliefs, attitudes and behaviours 0 configurations" in words


def test_mechanism_page_shows_themes_and_configurations_across_teams(client, kb):
    page = html(client.get("/programmes/ctg/mechanisms/patient-beliefs/"))
    words = text(client.get("/programmes/ctg/mechanisms/patient-beliefs/"))
    assert "<h1>Changes to patient beliefs, attitudes and behaviours</h1>" in page
    assert "Targeting 1 triggered 0 disabled" in words
    # The comparison table: team, context, theme, effect, outcome.
    # Configurations with a theme come first.
    assert ("SHC Patients resigned to dependence on nurses Targeting ▲ Triggered + Enabler Patients take on self-care "
            "Shc control" in words)
    assert "Patients resigned to dependence on nurses — ▽ Disabled − Barrier Some patients refuse self-care Shc fear" in words
    assert '<th scope="rowgroup" rowspan="2"><a href="/programmes/ctg/teams/shc/">SHC</a></th>' in page


def test_mechanism_page_puts_teams_side_by_side_and_cross_team_apart(client, kb, grow_kb):
    grow_kb(3)  # grown-3 (index 3) belongs to SHC and Pathway
    page = html(client.get("/programmes/ctg/mechanisms/patient-beliefs/"))
    columns = re.findall(r'<h3 id="col-\d+" class="column__title">(.*?)</h3>', page)
    assert columns == ['<a href="/programmes/ctg/teams/shc/">SHC</a>', "Across teams"]


def test_mechanism_page_hides_drafts(client, kb):
    page = html(client.get("/programmes/ctg/mechanisms/professional-beliefs/"))
    assert "No published configurations of this mechanism yet." in page
    assert "Pathway targets" not in page


def test_unknown_mechanism_is_404(client, kb):
    assert client.get("/programmes/ctg/mechanisms/telepathy/").status_code == 404


@pytest.mark.parametrize(
    "url, queries",
    [
        # the programme; its mechanisms with published counts; their themes.
        ("/programmes/ctg/mechanisms/", 3),
        # mechanism; themes; counts by theme and effect (an aggregate); teams (a count); the first
        # configurations + 7 prefetches.
        ("/programmes/ctg/mechanisms/patient-beliefs/", 12),
    ],
)
def test_mechanism_pages_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries, url, queries):
    with django_assert_num_queries(queries):
        client.get(url)
    grow_kb(4)
    with django_assert_num_queries(queries):
        client.get(url)


# --- Wish dimensions --------------------------------------------------------------------------


def test_wish_index_lists_dimensions_with_poles_and_programme_chart(client, story_kb):
    words = text(client.get("/wish/"))
    assert "Power Dependence ⟷ Agency" in words
    # The text equivalent: one shift toward each pole of power; the draft's shift toward hostility
    # is not counted.
    assert "Power Dependence: 1 Agency: 1" in words
    assert "Valence Competitive/hostile: 0 Cooperative/friendly: 0" in words


def test_wish_dimension_page(client, story_kb):
    page = html(client.get("/wish/power/"))
    words = text(client.get("/wish/power/"))
    assert "<h1>Power</h1>" in page
    assert "Team Toward Dependence Toward Agency SHC 1 1" in words
    assert "Shc control SHC Agency Clinician–patient Patient ▲ Triggered" in words
    assert "Shc fear SHC Dependence Clinician–patient Patient ▽ Disabled" in words


def test_wish_dimension_page_hides_draft_shifts(client, story_kb):
    page = html(client.get("/wish/valence/"))
    assert "No published configuration records a shift along this dimension yet." in page
    assert "Pathway" not in text(client.get("/wish/valence/")).split("Relationship dimension (Wish)")[1]


def test_unknown_wish_dimension_is_404(client, kb):
    assert client.get("/wish/telepathy/").status_code == 404


@pytest.mark.parametrize(
    "url, queries",
    [
        # dimensions; their poles; published shift counts per pole.
        ("/wish/", 3),
        # dimension; poles; shifts per team and side (an aggregate); those teams; the first published
        # shifts (+configuration, mechanism, pole, pair); their teams.
        ("/wish/power/", 6),
    ],
)
def test_wish_pages_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries, url, queries):
    with django_assert_num_queries(queries):
        client.get(url)
    grow_kb(4)
    with django_assert_num_queries(queries):
        client.get(url)


# --- quality domains --------------------------------------------------------------------------


def test_quality_domain_index(client, story_kb):
    words = text(client.get("/quality-domains/"))
    assert "Safety — 1 1" in words  # 1 team (SHC, inferred); 1 published configuration (the draft not counted)
    assert "Person-centredness — 1 2" in words


def test_quality_domain_page(client, story_kb):
    page = html(client.get("/quality-domains/safety/"))
    words = text(client.get("/quality-domains/safety/"))
    assert "<h1>Safety</h1>" in page
    assert "Shared Haemodialysis Care inferred" in words
    assert 'id="cmo-shc-fear"' in page
    assert 'id="cmo-shc-control"' not in page  # it touches person-centredness only
    assert "Pathway targets" not in page  # a draft touching safety


def test_unknown_quality_domain_is_404(client, kb):
    assert client.get("/quality-domains/beauty/").status_code == 404


@pytest.mark.parametrize(
    "url, queries",
    [
        # domains annotated with team and published configuration counts.
        ("/quality-domains/", 1),
        # domain; teams (+evidence); outcomes (+kind); counts by mechanism and effect (an aggregate);
        # the first configurations + 7 prefetches.
        ("/quality-domains/safety/", 12),
    ],
)
def test_quality_domain_pages_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries, url, queries):
    with django_assert_num_queries(queries):
        client.get(url)
    grow_kb(4)
    with django_assert_num_queries(queries):
        client.get(url)


# --- configuration detail ---------------------------------------------------------------------


def test_configuration_page_shows_c_m_o_wish_and_evidence(client, kb):
    page = html(client.get("/programmes/ctg/configurations/shc-control/"))
    words = text(client.get("/programmes/ctg/configurations/shc-control/"))
    assert "<h1>Shc control</h1>" in page
    assert "In C, M leads to O (shc-control)." in words
    assert "Context Patients resigned to dependence on nurses" in words
    assert "Mechanism Changes to patient beliefs, attitudes and behaviours · theme: Targeting — triggered" in words
    assert "Outcome Patients take on self-care (relationship change)" in words
    assert "Relationship shifts Power → Agency (Clinician–patient)" in words
    assert "Quality domains Person-centredness" in words
    assert f'href="/excerpts/{kb.q_control.pk}/"' in page
    # The same mechanism elsewhere: shc-fear, never the draft.
    assert '<a href="/programmes/ctg/configurations/shc-fear/">Shc fear</a>' in page


def test_configuration_page_for_a_draft_or_unknown_slug_is_404(client, kb):
    assert client.get("/programmes/ctg/configurations/pathway-targets/").status_code == 404
    assert client.get("/programmes/ctg/configurations/nothing-here/").status_code == 404


def test_configuration_page_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries):
    # configuration + 6 prefetches (not its evidence); a page of the excerpts it cites (count,
    # page); their links; the evidence profile (all its links); how many share the mechanism; the
    # first of them; their teams; its chain upstream and downstream (a query each way when it has none).
    with django_assert_num_queries(16):
        client.get("/programmes/ctg/configurations/shc-control/")
    grow_kb(4)
    with django_assert_num_queries(16):
        client.get("/programmes/ctg/configurations/shc-control/")


# --- excerpt in context -----------------------------------------------------------------------


def test_excerpt_page_shows_the_quote_in_its_source_with_links(client, kb):
    page = html(client.get(f"/excerpts/{kb.q_jobs.pk}/"))
    words = text(client.get(f"/excerpts/{kb.q_jobs.pk}/"))
    assert '<mark id="quote" class="quote-mark">We were worried our jobs would go.</mark>' in page
    # The text around it, escaped (A&amp;E), verbatim (Café, naïve).
    assert "Staff in A&amp;E welcomed the team" in page
    assert "Café staff noted the naïve view: &#x27;" in page
    assert "(Shared Haemodialysis Care, staff member)" in words
    assert "Section 1 Introduction" in words
    assert "Speaker Staff member" in words
    assert "Team Shared Haemodialysis Care" in words
    assert '<a href="/programmes/ctg/configurations/shc-fear/">Shc fear</a>' in page
    assert "Supports the mechanism" in words


def test_excerpt_page_never_shows_links_to_drafts(client, kb):
    page = html(client.get(f"/excerpts/{kb.f_target.pk}/"))
    assert "Not linked to any published configuration." in page
    assert "pathway-targets" not in page and "Pathway targets" not in page


def test_unknown_excerpt_is_404(client, kb):
    assert client.get("/excerpts/999999/").status_code == 404
    assert client.get("/excerpts/abc/").status_code == 404


def test_excerpt_page_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries):
    # excerpt (+source, kind, team, role, wave); a page of the published configurations citing it
    # (count, page); their links (+configuration, mechanism, theme); previous and next excerpt; key
    # figures it states (+team).
    url = f"/excerpts/{kb.q_jobs.pk}/"
    with django_assert_num_queries(7):
        client.get(url)
    grow_kb(4)
    with django_assert_num_queries(7):
        client.get(url)


# --- matrix -----------------------------------------------------------------------------------


def _cell(page, row_label):
    row = re.search(r"<tr>\s*<th scope=\"row\"><a href=\"[^\"]*\">" + re.escape(row_label) + r"</a></th>(.*?)</tr>", page, re.S)
    return re.findall(r"<td class=\"(heat-\d)\">(.*?)</td>", row.group(1), re.S)


def test_matrix_team_by_mechanism(client, kb):
    page = html(client.get("/programmes/ctg/matrix/"))
    shc = _cell(page, "SHC")
    assert len(shc) == 2  # patient beliefs, professional beliefs
    level, cell = shc[0]
    assert level == "heat-5"
    assert 'href="/programmes/ctg/configurations/?team=shc&amp;mechanism=patient-beliefs"' in cell
    assert '<span class="cell__total">2</span>' in cell
    assert "1<span class=\"visually-hidden\"> triggered</span>" in cell
    assert "1<span class=\"visually-hidden\"> disabled</span>" in cell
    # Pathway × professional beliefs holds only a draft: an empty cell.
    assert [lvl for lvl, _ in _cell(page, "Pathway")] == ["heat-0", "heat-0"]
    assert "Team (rows) × Enabling mechanism (columns): 2 published configurations" in text(client.get("/programmes/ctg/matrix/"))
    assert '<label for="matrix-rows">Rows</label>' in page and '<label for="matrix-cols">Columns</label>' in page


def test_matrix_switches_to_wish_dimension_and_quality_domain(client, kb):
    page = html(client.get("/programmes/ctg/matrix/?rows=team&cols=wish_dimension"))
    assert 'href="/programmes/ctg/configurations/?team=shc&amp;wish_dimension=power"' in page
    page = html(client.get("/programmes/ctg/matrix/?rows=quality_domain&cols=mechanism"))
    safety = _cell(page, "Safety")
    assert safety[0][0] != "heat-0" and '<span class="cell__total">1</span>' in safety[0][1]
    person = _cell(page, "Person-centredness")
    assert '<span class="cell__total">2</span>' in person[0][1]


def test_matrix_filters_barriers(client, kb):
    page = html(client.get("/programmes/ctg/matrix/?influence=barrier"))
    assert 'href="/programmes/ctg/configurations/?team=shc&amp;mechanism=patient-beliefs&amp;influence=barrier"' in page
    assert '<span class="cell__total">1</span>' in _cell(page, "SHC")[0][1]


def test_matrix_bad_axis_is_a_400_naming_the_control(client, kb):
    response = client.get("/programmes/ctg/matrix/?rows=colour&cols=mechanism")
    assert response.status_code == 400
    assert "Rows: “colour” is not an axis; choose one of Team, Enabling mechanism" in response.content.decode()
    response = client.get("/programmes/ctg/matrix/?influence=maybe")
    assert response.status_code == 400
    assert "Show: “maybe” is not one of barriers, enablers." in response.content.decode()


@pytest.mark.parametrize(
    "params, queries",
    [
        # the programme; the counts (one aggregate over the configurations and team links); team
        # terms; mechanism terms.
        ("", 4),
        # the programme; the counts (configurations, team links, Wish shifts); team terms; dimension terms.
        ("?rows=team&cols=wish_dimension", 4),
    ],
)
def test_matrix_query_count_does_not_grow(client, kb, grow_kb, django_assert_num_queries, params, queries):
    with django_assert_num_queries(queries):
        client.get("/programmes/ctg/matrix/" + params)
    grow_kb(4)
    with django_assert_num_queries(queries):
        client.get("/programmes/ctg/matrix/" + params)


def test_team_story_names_the_other_teams_of_a_cross_team_configuration(client, kb, grow_kb):
    grow_kb(4)  # grown-3 belongs to SHC and Pathway
    page = html(client.get("/programmes/ctg/teams/pathway/"))
    card = page[page.index('id="cmo-grown-3"'):]
    card = card[: card.index("</article>")]
    assert '<a class="chip" href="/programmes/ctg/teams/shc/">SHC</a>' in card
    assert '<a class="chip" href="/programmes/ctg/teams/pathway/">Pathway</a>' in card
    assert 'href="/programmes/ctg/configurations/?team=pathway">Filter this team’s configurations</a>' in page
