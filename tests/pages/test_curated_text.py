"""Curated prose on a team's story is Markdown (projects/templatetags/curated_text.py): lists show as
lists, not as literal "- " lines, and nothing a curator types runs as HTML."""

from projects.templatetags.curated_text import curated_markdown


def test_a_list_after_a_line_is_a_list_and_html_is_text():
    html = curated_markdown("The team aimed at:\n- patient champions\n- peer review panels.\n\n**Both** began in 2012.")
    assert html == ("<p>The team aimed at:</p>\n<ul>\n<li>patient champions</li>\n<li>peer review panels.</li>\n</ul>\n"
                    "<p><strong>Both</strong> began in 2012.</p>\n")
    assert curated_markdown('<script>alert(1)</script> & <b>x</b>') == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;x&lt;/b&gt;</p>\n")
    assert 'href="javascript' not in curated_markdown("[click](javascript:alert(1))")
    assert "<h1>" not in curated_markdown("# Not a heading of the page") and "<img" not in curated_markdown("![x](y.png)")
    assert curated_markdown("") == "" and curated_markdown(None) == ""


def test_the_story_renders_its_aims_as_a_list(kb, client):
    kb.shc.aims = "Improve complaints handling through:\n- patient champions\n- digital stories <em>told</em>"
    kb.shc.save()
    page = client.get("/programmes/ctg/teams/shc/").content.decode()
    assert "<ul>\n<li>patient champions</li>\n<li>digital stories &lt;em&gt;told&lt;/em&gt;</li>\n</ul>" in page
    assert "- patient champions" not in page


def test_the_speaking_up_story_from_the_corpus_has_no_literal_bullets(db, client):
    from django.core.management import call_command

    call_command("load_ctg", verbosity=0)
    page = client.get("/programmes/ctg/teams/speaking-up/").content.decode()
    story = page.split('id="story-title"')[1].split("</section>")[0]
    assert "<li>recruitment of patient champions to deliver a complaint support service</li>" in story
    assert "\n- " not in story
