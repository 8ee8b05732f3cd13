"""The coding page renders a source's text exactly, with its excerpts marked; the excerpt autocomplete
labels results with team, speaker role and the start of the text."""

import json
from html.parser import HTMLParser

from evidence.admin_views import excerpt_label, render_coded_text
from evidence.models import EvidenceExcerpt


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.marks, self._mark = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self._mark = dict(attrs)

    def handle_endtag(self, tag):
        if tag == "mark":
            self._mark = None

    def handle_data(self, data):
        self.parts.append(data)
        if self._mark is not None:
            self.marks.append((int(self._mark["data-start"]), int(self._mark["data-end"]), self._mark["data-excerpts"],
                               data))


def text_and_marks(html):
    parser = _Text()
    parser.feed(str(html))
    parser.close()
    return "".join(parser.parts), parser.marks


class FakeExcerpt:
    def __init__(self, pk, start, end):
        self.pk, self.slug, self.start, self.end = pk, f"e{pk}", start, end


def test_rendered_text_equals_the_source_exactly_with_overlapping_marks():
    text = "A <b>&amp;</b> café\r\nnaïve 🙂 line\nend"
    excerpts = [FakeExcerpt(1, 2, 12), FakeExcerpt(2, 8, 27), FakeExcerpt(3, 30, 33)]
    rendered, marks = text_and_marks(render_coded_text(text, excerpts))
    assert rendered == text
    assert marks == [
        (2, 8, "1", text[2:8]), (8, 12, "1 2", text[8:12]), (12, 27, "2", text[12:27]), (30, 33, "3", text[30:33]),
    ]
    for start, end, _, data in marks:
        assert text[start:end] == data  # the data attributes are code-point offsets


def test_coding_page_shows_the_text_and_excerpts(kb, eva_client):
    response = eva_client.get(f"/admin/evidence/source/{kb.source.pk}/code/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'src="/static/curation/coding.js"' in page
    assert 'id="create-excerpt"' in page
    rendered, marks = text_and_marks(response.context["coded_text"])
    assert rendered == kb.source.full_text
    assert [(s, e) for s, e, _, _ in marks] == [
        (kb.q_control.start, kb.q_control.end), (kb.f_target.start, kb.f_target.end), (kb.q_jobs.start, kb.q_jobs.end)
    ]
    assert [label for _, label in response.context["excerpts"]] == [
        "SHC · Patient · “I feel more in control of my own dialysis now.” [q-control]",
        "Pathway · Evaluator finding · “Staff in A&E welcomed the team because it helped them meet the four-h…” "
        "[f-target]",
        "SHC · Staff member · “We were worried our jobs would go.” [q-jobs]",
    ]


def test_coding_page_is_linked_from_the_source_list_and_form(kb, eva_client):
    url = f"/admin/evidence/source/{kb.source.pk}/code/"
    assert url in eva_client.get("/admin/evidence/source/").content.decode()
    assert url in eva_client.get(f"/admin/evidence/source/{kb.source.pk}/change/").content.decode()


def test_coding_page_of_a_missing_source_is_404(kb, eva_client):
    assert eva_client.get("/admin/evidence/source/999999/code/").status_code == 404


def test_excerpt_autocomplete_label(kb, eva_client):
    response = eva_client.get(
        "/admin/evidence/evidenceexcerpt/autocomplete/",
        {"app_label": "evidence", "model_name": "evidencelink", "field_name": "excerpt", "term": "in control"},
    )
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "results": [{"id": str(kb.q_control.pk),
                     "text": "SHC · Patient · “I feel more in control of my own dialysis now.” [q-control]"}],
        "pagination": {"more": False},
    }


def test_excerpt_autocomplete_is_what_the_configuration_form_uses(kb, eva_client):
    response = eva_client.get(f"/admin/mechanisms/cmoconfiguration/{kb.pathway_targets.pk}/change/")
    page = response.content.decode()
    # ...asking for excerpts of the configuration's programme only.
    assert f'data-ajax--url="/admin/evidence/evidenceexcerpt/autocomplete/?programme={kb.programme.pk}"' in page
    # The selected excerpt shows the same label.
    assert "Pathway · Evaluator finding · “Staff in A&amp;E welcomed" in page


def test_excerpt_autocomplete_refuses_anonymous_and_analysts(kb, client, ana_client):
    params = {"app_label": "evidence", "model_name": "evidencelink", "field_name": "excerpt", "term": "x"}
    for c in (client, ana_client):
        response = c.get("/admin/evidence/evidenceexcerpt/autocomplete/", params)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_excerpt_label_without_team_or_role():
    excerpt = EvidenceExcerpt(slug="fig", text="Figure 4:\n  a   table " + "x" * 100, kind="figure")
    assert excerpt_label(excerpt) == "no team · Figure · “Figure 4: a table " + "x" * 51 + "…” [fig]"
