"""Curated prose on the public pages (a team's background, aims and achievements) written as
Markdown: paragraphs, lists, emphasis and links, the way curators type them in the workbench and the
fixtures. Without it a list showed as literal "- " lines (Speaking Up's aims).

markdown-it-py (CommonMark, the parser behind MyST and rich) rather than a hand-written converter:
in CommonMark a list may follow a paragraph line directly, as curators write them; raw HTML is shown
as text, not run (``html`` off), and links to javascript:, vbscript: or data: addresses are not
made. Headings and images are off: the page owns its outline, and the knowledge base serves no
curator's pictures."""

from django import template
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

register = template.Library()

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).disable(["heading", "lheading", "image"])


@register.filter
def curated_markdown(text):
    """``text`` (Markdown) as HTML; empty for no text."""
    if not text:
        return ""
    return mark_safe(_MARKDOWN.render(str(text)))  # html off: every character of the text is escaped
