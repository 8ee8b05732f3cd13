"""Configurations as a picture for programme staff (issue 14): an SVG drawn on the server, no script.

Each configuration is a row: its contexts on the left, its mechanism in the middle (a solid border
and the word "triggered", or a dashed border and "disabled": never colour alone, so it survives a
black-and-white printer), its outcomes on the right, with arrows C → M → O. A chain link (the
outcome of one configuration is the context of the next) is a thick arrow from the outcomes of one
row, round the right-hand gutter and in at the left, to the contexts of the other.

``diagram()`` gives the SVG; ``diagram_text()`` its text equivalent (an ordered list, in a
<details> "Diagram as text"); ``diagram_figure()`` both, with a caption that says how to read it.
Every name is escaped (format_html); nothing a curator typed is marked safe as it is.

The SVG scales to its box (viewBox, width 100%); labels wrap at WRAP characters and a name longer
than MAX_LINES lines is cut with "…", its full text in a <title> (a tooltip). At most MAX_DRAWN
configurations are drawn, then "and K more". On a phone the figure keeps a legible minimum width
and scrolls sideways inside its own box (static/css/pages.css, .cmo-diagram), not the page.

The drawing reads only what is given: ``Drawn.of(configuration)`` expects its contexts and
outcomes prefetched and its mechanism selected (``configuration_cards`` does both) and costs a
query each otherwise; ``Drawn.load(configurations)`` reads the parts of any number of
configurations in one query.
"""

import textwrap
from dataclasses import dataclass

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

MAX_DRAWN = 12
WRAP = 28  # characters a label line holds
MAX_LINES = 3  # lines a label may take before it is cut
TITLE_CHARS = 90

# Geometry, in viewBox units (one is a CSS pixel when the figure is 900 wide).
FONT = 15
LINE = 19
BOX_PAD = 9
BOX_GAP = 8
COL_W = 240
ARROW_GAP = 60
ROW_PAD = 10
TITLE_H = 30
ROW_GAP = 34
LANE = 8
MAX_LANES = 8

INK = "#1c2530"


@dataclass(frozen=True)
class Drawn:
    """What the diagram shows of a configuration."""

    pk: int
    title: str
    url: str
    contexts: tuple = ()
    mechanism: str = ""
    effect: str = "triggered"  # or "disabled" (mechanisms.models.Effect)
    outcomes: tuple = ()

    @classmethod
    def of(cls, configuration, programme_slug=None):
        """From a configuration with its contexts and outcomes prefetched and its mechanism (and
        programme, unless ``programme_slug`` is given) selected: no query then."""
        return cls(
            pk=configuration.pk,
            title=configuration.title,
            url=_url(configuration, programme_slug),
            contexts=tuple(c.name for c in configuration.contexts.all()),
            mechanism=configuration.mechanism.name if configuration.mechanism_id else "",
            effect=configuration.effect,
            outcomes=tuple(o.name for o in configuration.outcomes.all()),
        )

    @classmethod
    def load(cls, configurations, programme_slug=None):
        """The parts of ``configurations`` (rows with their title, slug and effect loaded, e.g. the
        ends of chain links) in one query: a UNION of their contexts, outcomes and mechanisms, in
        the order the prefetches of ``of`` would give. No query for an empty list."""
        configurations = list(configurations)
        if not configurations:
            return []
        from django.db.models import CharField, IntegerField, Value

        from mechanisms.models import CMOConfiguration

        ids = [c.pk for c in configurations]

        def part(kind, through, term):
            return through.objects.filter(cmoconfiguration_id__in=ids).order_by().values_list(
                "cmoconfiguration_id", Value(kind, output_field=CharField()), f"{term}__order", f"{term}__name")

        rows = part("c", CMOConfiguration.contexts.through, "context").union(
            part("o", CMOConfiguration.outcomes.through, "outcome"),
            CMOConfiguration.objects.filter(pk__in=ids, mechanism__isnull=False).order_by().values_list(
                "pk", Value("m", output_field=CharField()), Value(0, output_field=IntegerField()), "mechanism__name"),
            all=True,
        )
        parts = {}
        for pk, kind, order, name in sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3])):
            parts.setdefault((pk, kind), []).append(name)
        return [
            cls(pk=c.pk, title=c.title, url=_url(c, programme_slug), contexts=tuple(parts.get((c.pk, "c"), ())),
                mechanism=(parts.get((c.pk, "m")) or [""])[0], effect=c.effect, outcomes=tuple(parts.get((c.pk, "o"), ())))
            for c in configurations
        ]


def _url(configuration, programme_slug):
    return reverse("pages:configuration-detail", args=[programme_slug or configuration.programme.slug, configuration.slug])


def _as_drawn(configurations):
    return [c if isinstance(c, Drawn) else Drawn.of(c) for c in configurations]


def _pairs(chains, drawn_ids):
    """(from id, to id) of each link whose both ends are drawn, once each, in the order given.
    A link is a ConfigurationChain or a pair of ids."""
    seen, pairs = set(), []
    for link in chains:
        pair = (link.from_configuration_id, link.to_configuration_id) if hasattr(link, "from_configuration_id") else tuple(link)
        if pair[0] in drawn_ids and pair[1] in drawn_ids and pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs


def _split(configurations, more):
    drawn = _as_drawn(configurations[:MAX_DRAWN])
    return drawn, more + max(0, len(configurations) - MAX_DRAWN)


def _wrap(text, width=WRAP, max_lines=MAX_LINES):
    """The lines of a label and whether it was cut."""
    lines = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    if len(lines) <= max_lines:
        return lines, False
    lines = lines[:max_lines]
    lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines, True


def _join(safe_parts):
    # Every part comes from format_html (escaped), so the join is safe.
    return mark_safe("".join(safe_parts))


def _text(x, y, lines, css="diagram__label", first_bold_from=None):
    tspans = []
    for i, line in enumerate(lines):
        cls = "diagram__effect" if first_bold_from is not None and i >= first_bold_from else ""
        weight = ' font-weight="bold"' if cls else ""
        tspans.append(format_html('<tspan x="{}" y="{}"{}{}>{}</tspan>', x, y + FONT + i * LINE,
                                  mark_safe(f' class="{cls}"' if cls else ""), mark_safe(weight), line))
    return format_html('<text class="{}">{}</text>', css, _join(tspans))


def _box(x, y, name, css, extra=(), dashed=False, placeholder="", stroke=1.2):
    """A labelled box; returns (svg, height)."""
    lines, cut = _wrap(name or placeholder)
    height = (len(lines) + len(extra)) * LINE + 2 * BOX_PAD
    dash = mark_safe(' stroke-dasharray="7 4"') if dashed else ""
    return format_html(
        '<g class="{}">{}<rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="#fff" stroke="{}" stroke-width="{}"{}/>{}</g>',
        css,
        format_html("<title>{}</title>", name) if cut else "",
        x, y, COL_W, height, INK, stroke, dash,
        _text(x + BOX_PAD, y + BOX_PAD - 1, list(lines) + list(extra), first_bold_from=len(lines) if extra else None),
    ), height


def _curve(x1, y1, x2, y2, css, marker):
    mid = (x2 - x1) // 2
    return format_html('<path class="{}" d="M{},{} C{},{} {},{} {},{}" fill="none" stroke="{}" stroke-width="1.5" marker-end="url(#{})"/>',
                       css, x1, y1, x1 + mid, y1, x2 - mid, y2, x2 - 2, y2, INK, marker)


def _stack(x, top, height, names, css, placeholder):
    """Boxes one above the other, centred in ``height``: (svg parts, [(top, bottom)] of each)."""
    boxes, spans, y = [], [], 0
    for name in names or [""]:
        svg, h = _box(x, 0, name, css + ("" if name else " diagram__missing"), placeholder=placeholder)
        boxes.append((name, h))
        y += h + BOX_GAP
    total = y - BOX_GAP
    y = top + (height - total) // 2
    parts = []
    for name, h in boxes:
        svg, _ = _box(x, y, name, css + ("" if name else " diagram__missing"), placeholder=placeholder)
        parts.append(svg)
        spans.append((y, y + h))
        y += h + BOX_GAP
    return parts, spans


def _stack_height(names, placeholder):
    heights = [_box(0, 0, n, "", placeholder=placeholder)[1] for n in names or [""]]
    return sum(heights) + BOX_GAP * (len(heights) - 1)


def _effect_label(effect):
    return "disabled" if effect == "disabled" else "triggered"


def diagram(configurations, chains=(), *, more=0, current=None, label="Configurations as a diagram", id_prefix="cmo-diagram"):
    """The SVG (a SafeString) of ``configurations`` (Drawn, or configurations as ``Drawn.of`` takes
    them) and the ``chains`` among them (ConfigurationChain rows or (from id, to id) pairs; links to
    configurations not drawn are left out). At most MAX_DRAWN are drawn; ``more`` counts others not
    given, and "and K more" says how many are missing. ``current`` (a pk) marks the configuration
    whose page this is. ``id_prefix`` keeps ids unique when a page shows more than one diagram."""
    drawn, more = _split(list(configurations), more)
    pairs = _pairs(chains, {d.pk for d in drawn})
    lanes = min(len(pairs), MAX_LANES)
    gutter = (12 + LANE * lanes) if pairs else 4
    x_c = gutter + ROW_PAD
    x_m = x_c + COL_W + ARROW_GAP
    x_o = x_m + COL_W + ARROW_GAP
    width = x_o + COL_W + ROW_PAD + gutter
    arrow, chain_arrow = f"{id_prefix}-arrow", f"{id_prefix}-chain-arrow"

    rows, where, y = [], {}, ROW_GAP
    for d in drawn:
        effect = _effect_label(d.effect)
        body = max(_stack_height(d.contexts, "Context not recorded"),
                   _stack_height([d.mechanism], "Mechanism not recorded") + LINE,
                   _stack_height(d.outcomes, "Outcome not recorded"))
        top, body_top = y, y + TITLE_H
        height = TITLE_H + body + ROW_PAD
        contexts, c_spans = _stack(x_c, body_top, body, d.contexts, "diagram__context", "Context not recorded")
        outcomes, o_spans = _stack(x_o, body_top, body, d.outcomes, "diagram__outcome", "Outcome not recorded")
        m_height = _stack_height([d.mechanism], "Mechanism not recorded") + LINE
        m_top = body_top + (body - m_height) // 2
        mechanism, _ = _box(x_m, m_top, d.mechanism, f"diagram__mechanism diagram__mechanism--{effect}"
                            + ("" if d.mechanism else " diagram__missing"),
                            extra=(effect,), dashed=effect == "disabled", placeholder="Mechanism not recorded", stroke=2.5)
        m_mid = m_top + m_height // 2
        arrows = [_curve(x_c + COL_W, (a + b) // 2, x_m, m_mid, "diagram__arrow", arrow) for a, b in c_spans]
        arrows += [_curve(x_m + COL_W, m_mid, x_o, (a + b) // 2, "diagram__arrow", arrow) for a, b in o_spans]
        title, cut = (d.title, False) if len(d.title) <= TITLE_CHARS else (d.title[: TITLE_CHARS - 1].rstrip() + "…", True)
        is_current = d.pk == current
        rows.append(format_html(
            '<g class="diagram__configuration diagram__configuration--{}{}">'
            '<rect class="diagram__row" x="{}" y="{}" width="{}" height="{}" rx="8" fill="none" stroke="{}" stroke-width="{}"/>'
            '<text class="diagram__title" x="{}" y="{}" font-weight="bold">{}{}{}</text>{}{}{}{}</g>',
            effect, " diagram__configuration--current" if is_current else "",
            x_c - ROW_PAD, top, width - 2 * gutter, height, INK if is_current else "#999", 2.5 if is_current else 1,
            x_c, top + 21, format_html("<title>{}</title>", d.title) if cut else "", title,
            " (this configuration)" if is_current else "",
            _join(contexts), mechanism, _join(outcomes), _join(arrows),
        ))
        where[d.pk] = {"top": top, "out": (o_spans[0][0] + o_spans[-1][1]) // 2, "in": (c_spans[0][0] + c_spans[-1][1]) // 2}
        y += height + ROW_GAP

    links = []
    for k, (origin, target) in enumerate(pairs):
        a, b = where[origin], where[target]
        right = width - gutter + 6 + LANE * (k % MAX_LANES)
        left = gutter - 6 - LANE * (k % MAX_LANES)
        gap = b["top"] - ROW_GAP // 2 - 8 + 5 * (k % 4)
        links.append(format_html(
            '<path class="diagram__chain" d="M{},{} H{} V{} H{} V{} H{}" fill="none" stroke="{}" stroke-width="3" '
            'stroke-linejoin="round" marker-end="url(#{})"/>',
            x_o + COL_W, a["out"], right, gap, left, b["in"], x_c - 3, INK, chain_arrow))

    if more:
        rows.append(format_html('<text class="diagram__more" x="{}" y="{}" font-style="italic">and {} more not drawn</text>',
                                x_c, y + 4, more))
        y += LINE + 8
    height = y
    description = (
        f"{len(drawn)} configuration{'s' if len(drawn) != 1 else ''}, each drawn from its contexts (left) through its "
        "mechanism (middle: a solid border when triggered, a dashed border when disabled) to its outcomes (right)"
        + (f"; {len(pairs)} chain link{'s' if len(pairs) != 1 else ''} (thick arrows) from the outcomes of one to the contexts of the next"
           if pairs else "")
        + (f"; and {more} more not drawn" if more else "") + "."
    )
    marker = ('<marker id="{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{}" markerHeight="{}" orient="auto-start-reverse">'
              '<path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>')
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-labelledby="{}-title {}-desc" font-family="sans-serif" font-size="{}" fill="{}">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc><defs>{}{}</defs>{}{}</svg>',
        width, height, id_prefix, id_prefix, FONT, INK, id_prefix, label, id_prefix, description,
        format_html(marker, arrow, 7, 7, INK), format_html(marker, chain_arrow, 5, 5, INK),
        _join(rows), _join(links),
    )


def _list(names):
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def sentence(d):
    """'In <contexts>, <mechanism> (triggered) leads to <outcomes>.'"""
    contexts = _list(d.contexts) if d.contexts else "a context not recorded"
    mechanism = d.mechanism or "a mechanism not recorded"
    outcomes = _list(d.outcomes) if d.outcomes else "an outcome not recorded"
    return f"In {contexts}, {mechanism} ({_effect_label(d.effect)}) leads to {outcomes}."


def diagram_text(configurations, chains=(), *, more=0, more_url="", current=None):
    """The diagram's text equivalent (a SafeString): each configuration as a sentence in an ordered
    list, then its chains ("X leads on to Y"), in a <details> "Diagram as text"."""
    drawn, more = _split(list(configurations), more)
    titles = {d.pk: d.title for d in drawn}
    items = format_html_join("", '<li><a href="{}">{}</a>{}: {}</li>', (
        (d.url, d.title, " (this configuration)" if d.pk == current else "", sentence(d)) for d in drawn))
    pairs = _pairs(chains, set(titles))
    chain_items = format_html_join("", "<li>{} leads on to {}.</li>", ((titles[a], titles[b]) for a, b in pairs))
    tail = ""
    if more:
        tail = format_html('<p>And {} more not drawn{}.</p>', more,
                           format_html(': <a href="{}">see them all</a>', more_url) if more_url else "")
    return format_html(
        '<details class="cmo-diagram__text"><summary>Diagram as text</summary><ol class="cmo-diagram__list">{}</ol>{}{}</details>',
        items,
        format_html('<p class="cmo-diagram__chains-title">Chains:</p><ul class="cmo-diagram__chains">{}</ul>', chain_items) if pairs else "",
        tail,
    )


def diagram_figure(configurations, chains=(), *, more=0, more_url="", current=None, label="Configurations as a diagram",
                   id_prefix="cmo-diagram"):
    """The diagram, a caption that says how to read it, and its text equivalent, in a <figure>.
    What a page puts in its template (``{{ cmo_diagram }}``); a theory page can call it as it is."""
    drawn, more = _split(list(configurations), more)
    pairs = _pairs(chains, {d.pk for d in drawn})
    return format_html(
        '<figure class="cmo-diagram" id="{}">'
        '<div class="cmo-diagram__scroll" tabindex="0" role="region" aria-label="{} (scrolls sideways on a narrow screen)">{}</div>'
        '<figcaption class="cmo-diagram__caption small muted">Read each row from left to right: context → mechanism → outcome. '
        'A solid border means the mechanism was triggered, a dashed one that it was disabled.{}</figcaption>{}</figure>',
        id_prefix, label,
        diagram(drawn, pairs, more=more, current=current, label=label, id_prefix=id_prefix),
        " A thick arrow: the outcome of one configuration leads on to the next." if pairs else "",
        diagram_text(drawn, pairs, more=more, more_url=more_url, current=current),
    )
