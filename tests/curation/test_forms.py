"""Form validation in the admin, with its messages; nothing half-saved."""

from django.urls import reverse

from cmo_kb.vocabulary import ReviewStatus
from evidence.models import EvidenceExcerpt, Source
from mechanisms.models import CMOConfiguration, WishShift
from tests.conftest import SMALL_SOURCE_TEXT

from .conftest import add_inline_row, form_data
from .test_permissions import change_url, new_configuration_data

EXCERPT_ADD = "/admin/evidence/evidenceexcerpt/add/"
FORMSET = {"links-TOTAL_FORMS": "0", "links-INITIAL_FORMS": "0", "links-MIN_NUM_FORMS": "0", "links-MAX_NUM_FORMS": "1000"}


def excerpt_data(kb, text, start, end, **extra):
    return {"slug": "new-excerpt", "kind": "participant_quote", "source": kb.source.pk, "text": text,
            "start": start, "end": end, **FORMSET, **extra}


def test_excerpt_whose_text_differs_from_its_span_is_refused_on_the_text_field(kb, eva_client):
    start = SMALL_SOURCE_TEXT.index("Café")
    response = eva_client.post(EXCERPT_ADD, excerpt_data(kb, "Cafe staff", start, start + 10))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["text"] == [
        f"The text does not match the source between characters {start} and {start + 10}: "
        "the source has 'Café staff'."
    ]
    assert not EvidenceExcerpt.objects.filter(slug="new-excerpt").exists()


def test_excerpt_offsets_out_of_order_or_past_the_end(kb, eva_client):
    response = eva_client.post(EXCERPT_ADD, excerpt_data(kb, "x", 10, 3))
    assert response.context["adminform"].form.errors["end"] == ["End offset 3 must be after start offset 10."]
    length = len(SMALL_SOURCE_TEXT)
    response = eva_client.post(EXCERPT_ADD, excerpt_data(kb, "x", length - 1, length + 5))
    assert response.context["adminform"].form.errors["end"] == [
        f"End offset {length + 5} is past the end of the source text ({length} characters)."
    ]
    assert not EvidenceExcerpt.objects.filter(slug="new-excerpt").exists()


def test_excerpt_after_non_ascii_text_across_a_line_break_saves_verbatim(kb, eva_client, evaluator):
    needle = "four-hour target.\nCafé staff noted the naïve view"
    start = SMALL_SOURCE_TEXT.index(needle)
    # A browser submits a textarea's line breaks as CRLF; the form accepts it and stores the source's LF.
    response = eva_client.post(
        EXCERPT_ADD, excerpt_data(kb, needle.replace("\n", "\r\n"), start, start + len(needle), team=kb.shc.pk)
    )
    assert response.status_code == 302
    excerpt = EvidenceExcerpt.objects.get(slug="new-excerpt")
    assert (excerpt.text, excerpt.start, excerpt.end, excerpt.created_by) == (
        needle, start, start + len(needle), evaluator
    )


def test_excerpt_text_keeps_its_surrounding_white_space(kb, eva_client):
    needle = " (Shared Haemodialysis Care, patient)\n"
    start = SMALL_SOURCE_TEXT.index(needle)
    response = eva_client.post(EXCERPT_ADD, excerpt_data(kb, needle, start, start + len(needle)))
    assert response.status_code == 302
    assert EvidenceExcerpt.objects.get(slug="new-excerpt").text == needle


def test_add_form_is_prefilled_from_the_coding_page(kb, eva_client):
    start = SMALL_SOURCE_TEXT.index("naïve view")
    response = eva_client.get(EXCERPT_ADD, {"source": kb.source.pk, "start": start, "end": start + 10, "_coding": 1})
    form = response.context["adminform"].form
    assert form.initial["text"] == "naïve view"  # derived from the offsets when the URL carries no text
    assert form.initial["slug"] == f"small-report-{start}-{start + 10}"
    assert (form["start"].value(), form["end"].value(), str(form["source"].value())) == (
        str(start), str(start + 10), str(kb.source.pk)
    )
    response = eva_client.get(EXCERPT_ADD, {"source": kb.source.pk, "start": start, "end": start + 10,
                                            "text": "naïve view"})
    assert response.context["adminform"].form["text"].value() == "naïve view"


def test_saving_from_the_coding_page_returns_to_it(kb, eva_client):
    start = SMALL_SOURCE_TEXT.index("naïve view")
    response = eva_client.post(
        f"{EXCERPT_ADD}?source={kb.source.pk}&start={start}&end={start + 10}&_coding=1",
        excerpt_data(kb, "naïve view", start, start + 10) | {"_save": "Save"},
    )
    excerpt = EvidenceExcerpt.objects.get(slug="new-excerpt")
    assert response["Location"] == f"/admin/evidence/source/{kb.source.pk}/code/#excerpt-{excerpt.pk}"


def test_excerpt_linked_to_a_configuration_from_its_own_form(kb, eva_client):
    start = SMALL_SOURCE_TEXT.index("naïve view")
    data = excerpt_data(kb, "naïve view", start, start + 10)
    add_inline_row(data, "links", configuration=kb.pathway_targets.pk, part="context", stance="illustrates")
    assert eva_client.post(EXCERPT_ADD, data).status_code == 302
    excerpt = EvidenceExcerpt.objects.get(slug="new-excerpt")
    assert list(excerpt.links.values_list("configuration__slug", "part")) == [("pathway-targets", "context")]


def test_excerpt_with_a_bad_link_saves_nothing(kb, eva_client):
    start = SMALL_SOURCE_TEXT.index("naïve view")
    data = excerpt_data(kb, "naïve view", start, start + 10)
    add_inline_row(data, "links", configuration=kb.pathway_targets.pk, part="", stance="supports")  # part is required
    response = eva_client.post(EXCERPT_ADD, data)
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors == [{"part": ["This field is required."]}]
    assert not EvidenceExcerpt.objects.filter(slug="new-excerpt").exists()


def test_source_text_is_fixed_once_excerpts_point_into_it(kb, leo_client):
    # The publish lock's verbatim rule, for leads too: not even an appendix after every excerpt
    # (before it, text after the excerpts could change; now the text a quote sits in is fixed).
    url = reverse("admin:evidence_source_change", args=[kb.source.pk])
    data = form_data(leo_client.get(url))
    for changed in ("New preface.\n" + SMALL_SOURCE_TEXT, SMALL_SOURCE_TEXT + "An appendix.\n"):
        data["full_text"] = changed
        response = leo_client.post(url, data)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["full_text"] == [
            "The full text is verbatim and cannot change: 3 excerpts point into it by character offsets. "
            "Add a new source for a new version of the text."
        ]
        assert Source.objects.get(pk=kb.source.pk).full_text == SMALL_SOURCE_TEXT
    # A browser sends the textarea's line breaks as CRLF: the same text, so the form saves.
    data["full_text"] = SMALL_SOURCE_TEXT.replace("\n", "\r\n")
    data["title"] = "A small report, retitled"
    assert leo_client.post(url, data).status_code == 302
    source = Source.objects.get(pk=kb.source.pk)
    assert (source.title, source.full_text) == ("A small report, retitled", SMALL_SOURCE_TEXT)


def test_configuration_theme_of_another_mechanism_is_refused(kb, eva_client):
    data = new_configuration_data(kb, mechanism=kb.professional_beliefs.pk, theme=kb.targeting.pk)
    response = eva_client.post("/admin/mechanisms/cmoconfiguration/add/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["theme"] == [
        "Theme 'Targeting' belongs to another mechanism, not "
        "'Changes to health professional beliefs, attitudes and behaviours'."
    ]
    assert not CMOConfiguration.objects.filter(slug="new-one").exists()


def test_configuration_with_an_invalid_inline_saves_nothing(kb, eva_client):
    data = new_configuration_data(kb)
    add_inline_row(data, "wish_shifts", dimension=kb.power.pk, toward=kb.friendly.pk, between=kb.clinician_patient.pk)
    add_inline_row(data, "evidence_links", excerpt=kb.q_control.pk, part="outcome", stance="supports")
    response = eva_client.post("/admin/mechanisms/cmoconfiguration/add/", data)
    assert response.status_code == 200
    errors = [fs.formset.errors for fs in response.context["inline_admin_formsets"]]
    assert errors[0] == [{"toward": ["'Cooperative/friendly' is a pole of Valence, not of Power."]}]
    assert not CMOConfiguration.objects.filter(slug="new-one").exists()
    assert WishShift.objects.count() == 2


def test_duplicate_evidence_link_is_refused_with_its_message(kb, eva_client):
    data = new_configuration_data(kb)
    add_inline_row(data, "evidence_links", excerpt=kb.q_control.pk, part="outcome", stance="supports")
    add_inline_row(data, "evidence_links", excerpt=kb.q_control.pk, part="outcome", stance="challenges")
    response = eva_client.post("/admin/mechanisms/cmoconfiguration/add/", data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][1].formset
    assert formset.non_form_errors() == [
        "Please correct the duplicate data for excerpt and part, which must be unique."
    ]
    assert not CMOConfiguration.objects.filter(slug="new-one").exists()


def test_a_published_configuration_keeps_what_publishing_required(kb, leo_client):
    response = leo_client.get(change_url(kb.shc_control))
    data = form_data(response)
    data["contexts"] = []
    data["evidence_links-0-DELETE"] = "on"
    response = leo_client.post(change_url(kb.shc_control), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["contexts"] == [
        "A published configuration needs at least one context. Return it to draft first."
    ]
    formset = response.context["inline_admin_formsets"][1].formset
    assert formset.non_form_errors() == [
        "A published configuration needs at least one evidence link. Return it to draft first to remove its last link."
    ]
    kb.shc_control.refresh_from_db()
    assert kb.shc_control.contexts.count() == 1 and kb.shc_control.evidence_links.count() == 1
    assert kb.shc_control.status == ReviewStatus.PUBLISHED
