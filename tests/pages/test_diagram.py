"""The diagram of configurations (issue 14, "Pictures for programme staff"): an SVG drawn on the
server, well-formed, labelled for screen readers, with a text equivalent, bounded in size, escaped,
and shown on the configuration page and the team story at a pinned query count."""

import re
import xml.etree.ElementTree as ET

import pytest

from mechanisms.diagram import MAX_DRAWN, WRAP, Drawn, diagram, diagram_figure, diagram_text

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg):
    return ET.fromstring(str(svg))


def svg_in(page):
    found = re.findall(r"<svg [^>]*class=\"diagram\".*?</svg>", page, flags=re.S)
    assert len(found) == 1, f"{len(found)} diagrams on the page"
    return parse(found[0])


def groups(root, kind):
    return [g for g in root.iter(f"{SVG}g") if kind in g.get("class", "").split()]


def words(element):
    """The text of an element's labels, lines joined (a wrapped name reads whole again)."""
    return [" ".join(" ".join(t.itertext()).split()) for t in element.iter(f"{SVG}text")]


def drawn(pk, **fields):
    fields = {"title": f"Configuration {pk}", "url": f"/c/{pk}/", "contexts": (f"Context {pk}",),
              "mechanism": f"Mechanism {pk}", "effect": "triggered", "outcomes": (f"Outcome {pk}",)} | fields
    return Drawn(pk=pk, **fields)


def test_the_svg_is_well_formed_and_labelled_for_screen_readers():
    root = parse(diagram([drawn(1)], label="SHC at a glance"))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("width") == "100%" and root.get("viewBox").startswith("0 0 ")
    title_id, desc_id = root.get("aria-labelledby").split()
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert (title.get("id"), title.text) == (title_id, "SHC at a glance")
    assert desc.get("id") == desc_id
    assert desc.text.startswith("1 configuration, each drawn from its contexts (left) through its mechanism")
    # The CSP refuses style attributes: classes and presentation attributes only.
    assert "style=" not in str(diagram([drawn(1)]))


def test_one_group_per_configuration_with_its_context_mechanism_and_outcome(kb):
    from mechanisms.views import configuration_cards

    cards = list(configuration_cards(evidence=False).order_by("slug"))
    root = parse(diagram(cards))
    rows = groups(root, "diagram__configuration")
    assert len(rows) == 2  # shc-control and shc-fear: the draft is not in the cards
    control, fear = rows
    assert words(groups(control, "diagram__context")[0]) == ["Patients resigned to dependence on nurses"]
    assert words(groups(control, "diagram__mechanism")[0]) == ["Changes to patient beliefs, attitudes and behaviours triggered"]
    assert words(groups(control, "diagram__outcome")[0]) == ["Patients take on self-care"]
    assert words(groups(fear, "diagram__outcome")[0]) == ["Some patients refuse self-care"]
    assert words(control)[0] == "Shc control"


def test_disabled_is_drawn_dashed_and_named_triggered_solid():
    root = parse(diagram([drawn(1, effect="triggered"), drawn(2, effect="disabled")]))
    triggered, disabled = groups(root, "diagram__mechanism")
    assert "diagram__mechanism--triggered" in triggered.get("class")
    assert "diagram__mechanism--disabled" in disabled.get("class")
    # Not colour alone: a dashed border and the word, so it survives a black-and-white printer.
    assert triggered.find(f"{SVG}rect").get("stroke-dasharray") is None
    assert disabled.find(f"{SVG}rect").get("stroke-dasharray") == "7 4"
    assert words(triggered)[0].endswith("triggered") and words(disabled)[0].endswith("disabled")


def test_chain_arrows_join_the_configurations_drawn_and_only_those():
    chains = [(1, 2), (2, 3), (1, 3), (1, 2), (3, 99)]  # a repeat, and a link to one not drawn
    root = parse(diagram([drawn(1), drawn(2), drawn(3)], chains))
    arrows = [p for p in root.iter(f"{SVG}path") if p.get("class") == "diagram__chain"]
    assert len(arrows) == 3
    assert "3 chain links (thick arrows)" in root.find(f"{SVG}desc").text
    assert not [p for p in parse(diagram([drawn(1), drawn(2)])).iter(f"{SVG}path") if p.get("class") == "diagram__chain"]


def test_chain_links_may_be_rows(kb):
    from mechanisms.chains import ConfigurationChain

    link = ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear)
    root = parse(diagram([drawn(kb.shc_control.pk), drawn(kb.shc_fear.pk)], [link]))
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "diagram__chain"]) == 1


def test_names_are_escaped_never_trusted():
    nasty = drawn(1, title="<script>alert(1)</script> & co", contexts=("A&E four-hour target",),
                  mechanism='"Quoted" <b>bold</b>', outcomes=("<img src=x onerror=alert(1)>",))
    figure = str(diagram_figure([nasty]))
    assert "<script>" not in figure and "<img" not in figure and "<b>" not in figure
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in figure
    root = svg_in(figure)
    texts = words(root)
    assert "<script>alert(1)</script> & co" in texts
    assert "A&E four-hour target" in texts
    assert "<img src=x onerror=alert(1)>" in texts


def test_long_names_wrap_and_very_long_ones_are_cut_with_the_whole_in_a_title():
    long_context = "Patients resigned to dependence on nurses who did everything for them at every session " * 2
    root = parse(diagram([drawn(1, contexts=(long_context.strip(), "Short"))]))
    cut, short = groups(root, "diagram__context")
    lines = [t.text for t in cut.iter(f"{SVG}tspan")]
    assert len(lines) == 3 and all(len(line) <= WRAP for line in lines) and lines[-1].endswith("…")
    assert cut.find(f"{SVG}title").text == long_context.strip()
    assert short.find(f"{SVG}title") is None


def test_the_text_equivalent_says_every_configuration_and_chain():
    configurations = [drawn(1, contexts=("Ward A", "Ward B")), drawn(2, effect="disabled", contexts=(), mechanism="", outcomes=())]
    text = str(diagram_text(configurations, [(1, 2)]))
    assert "<summary>Diagram as text</summary>" in text
    items = re.findall(r"<li>(.*?)</li>", text)
    assert items == [
        '<a href="/c/1/">Configuration 1</a>: In Ward A and Ward B, Mechanism 1 (triggered) leads to Outcome 1.',
        '<a href="/c/2/">Configuration 2</a>: In a context not recorded, a mechanism not recorded (disabled) leads to an outcome not recorded.',
        "Configuration 1 leads on to Configuration 2.",
    ]
    assert "<ol" in text  # the configurations are an ordered list


def test_at_most_max_drawn_then_and_k_more():
    many = [drawn(i) for i in range(1, MAX_DRAWN + 4)]
    figure = str(diagram_figure(many, more=5, more_url="/programmes/ctg/configurations/?team=shc"))
    root = svg_in(figure)
    assert len(groups(root, "diagram__configuration")) == MAX_DRAWN
    assert "and 8 more not drawn" in words(root)
    assert 'And 8 more not drawn: <a href="/programmes/ctg/configurations/?team=shc">see them all</a>.' in figure
    assert figure.count("<li>") == MAX_DRAWN


def test_load_reads_the_parts_of_many_configurations_in_one_query(kb, django_assert_num_queries):
    from mechanisms.models import CMOConfiguration
    from mechanisms.views import configuration_cards

    kb.shc_fear.contexts.add(kb.four_hour)
    plain = list(CMOConfiguration.objects.filter(slug__in=["shc-control", "shc-fear"]).order_by("slug"))
    with django_assert_num_queries(1):
        loaded = Drawn.load(plain, programme_slug="ctg")
    with django_assert_num_queries(0):
        assert Drawn.load([]) == []
    cards = list(configuration_cards(evidence=False).order_by("slug"))
    assert loaded == [Drawn.of(c) for c in cards]
    assert loaded[1].contexts == ("A&E four-hour waiting target", "Patients resigned to dependence on nurses")


# --- on the pages -----------------------------------------------------------------------------


@pytest.fixture
def chained(kb):
    from mechanisms.chains import ConfigurationChain

    return ConfigurationChain.objects.create(from_configuration=kb.shc_control, to_configuration=kb.shc_fear,
                                             note="Trust in the nurses turns to fear when they step back")


def test_configuration_page_draws_it_with_its_chain_neighbours(client, kb, chained, django_assert_num_queries):
    # The 16 of a configuration without a chain (test_pages) with its walk of two empty steps
    # replaced by: upstream, the link found (+ its evidence) and one more step that finds none;
    # downstream, one step that finds none; then the parts of its one neighbour for the diagram.
    with django_assert_num_queries(19):
        page = client.get("/programmes/ctg/configurations/shc-fear/").content.decode()
    root = svg_in(page)
    control, fear = groups(root, "diagram__configuration")
    assert "diagram__configuration--current" in fear.get("class")
    assert words(fear)[0] == "Shc fear (this configuration)"
    assert words(groups(control, "diagram__context")[0]) == ["Patients resigned to dependence on nurses"]
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "diagram__chain"]) == 1
    assert "Shc control leads on to Shc fear." in page
    assert '<a href="/programmes/ctg/configurations/shc-control/">Shc control</a>: In Patients resigned' in page


def test_configuration_page_without_a_chain_draws_it_alone(client, kb):
    page = client.get("/programmes/ctg/configurations/shc-control/").content.decode()
    root = svg_in(page)
    assert len(groups(root, "diagram__configuration")) == 1
    assert "Diagram as text" in page


def test_team_story_opens_with_the_diagram_of_its_configurations(client, story_kb, chained, django_assert_num_queries):
    # As test_team_story_query_count_does_not_grow: a chain among them costs nothing more.
    with django_assert_num_queries(20):
        page = client.get("/programmes/ctg/teams/shc/").content.decode()
    assert page.index('id="diagram-title"') < page.index('id="summary-title"')
    root = svg_in(page)
    assert [words(g)[0] for g in groups(root, "diagram__configuration")] == ["Shc control", "Shc fear"]
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "diagram__chain"]) == 1
    assert "Shc control leads on to Shc fear." in page


def test_team_story_diagram_is_bounded_and_escapes_names(client, kb, grow_kb):
    grow_kb(20)
    kb.resigned.name = "<script>alert(1)</script> & co"  # every configuration's context
    kb.resigned.save()
    page = client.get("/programmes/ctg/teams/shc/").content.decode()
    root = svg_in(page)
    # The diagram draws the configurations the story shows as cards (the first 5 of each mechanism)
    # and counts the rest.
    assert len(groups(root, "diagram__configuration")) == 5
    assert "and 17 more not drawn" in words(root)
    assert 'And 17 more not drawn: <a href="/programmes/ctg/configurations/?team=shc">see them all</a>.' in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page


def test_a_team_without_configurations_has_no_diagram(client, kb):
    page = client.get("/programmes/ctg/teams/pathway/").content.decode()
    assert "<svg" not in page.split("<main", 1)[1] and "Diagram as text" not in page
