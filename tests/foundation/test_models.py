"""The domain model's rules: in the database where they can live, in validation where they cannot."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from evidence.models import EvidenceExcerpt, EvidenceLink
from mechanisms.models import CMOConfiguration, EnablingMechanism, WishShift
from projects.models import KeyFigure, Programme, Team

pytestmark = pytest.mark.django_db


def test_duplicate_slug_is_refused_by_the_database(kb):
    with pytest.raises(IntegrityError), transaction.atomic():
        EnablingMechanism.objects.create(programme=kb.programme, slug="patient-beliefs", name="Another")
    assert EnablingMechanism.objects.filter(slug="patient-beliefs").count() == 1


def test_duplicate_slug_is_refused_by_validation_with_the_field_named(kb):
    mechanism = EnablingMechanism(programme=kb.programme, slug="patient-beliefs", name="Another")
    with pytest.raises(ValidationError) as err:
        mechanism.full_clean()
    assert "slug" in err.value.message_dict
    assert "already exists" in err.value.message_dict["slug"][0]


def test_vocabulary_rows_have_natural_keys(kb):
    assert EnablingMechanism.objects.get_by_natural_key("patient-beliefs") == kb.patient_beliefs
    assert kb.patient_beliefs.natural_key() == ("ctg", "patient-beliefs")
    assert EnablingMechanism.objects.get_by_natural_key("ctg", "patient-beliefs") == kb.patient_beliefs
    assert Team.objects.get_by_natural_key("shc").natural_key() == ("shc",)


def _excerpt(kb, **overrides):
    fields = dict(slug="new-excerpt", source=kb.source, text="Introduction", start=0, end=len("Introduction"))
    fields.update(overrides)
    return EvidenceExcerpt(**fields)


def test_a_matching_excerpt_saves(kb):
    excerpt = _excerpt(kb)
    excerpt.full_clean()
    excerpt.save()
    assert EvidenceExcerpt.objects.get(slug="new-excerpt").text == kb.source.full_text[0:12]


def test_excerpt_whose_text_differs_from_its_span_is_refused_and_nothing_written(kb):
    before = EvidenceExcerpt.objects.count()
    excerpt = _excerpt(kb, text="Introductiom")
    with pytest.raises(ValidationError) as err:
        excerpt.save()
    message = err.value.message_dict["text"][0]
    assert "does not match the source between characters 0 and 12" in message
    assert "'Introduction'" in message
    assert EvidenceExcerpt.objects.count() == before


def test_excerpt_with_end_before_start_is_refused(kb):
    excerpt = _excerpt(kb, start=12, end=3, text="")
    with pytest.raises(ValidationError) as err:
        excerpt.full_clean()
    assert "End offset 3 must be after start offset 12" in err.value.message_dict["end"][0]


def test_end_before_start_is_refused_by_the_database_too(kb):
    before = EvidenceExcerpt.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        # bulk_create bypasses save() and clean(): the CHECK constraint still holds.
        EvidenceExcerpt.objects.bulk_create([_excerpt(kb, start=12, end=3, text="x")])
    assert EvidenceExcerpt.objects.count() == before


def test_excerpt_offsets_past_the_end_of_the_text_are_refused(kb):
    length = len(kb.source.full_text)
    excerpt = _excerpt(kb, start=length - 2, end=length + 5, text=kb.source.full_text[-2:])
    with pytest.raises(ValidationError) as err:
        excerpt.save()
    assert f"past the end of the source text ({length} characters)" in err.value.message_dict["end"][0]


def test_offsets_count_characters_not_bytes_after_non_ascii_text(kb):
    text = kb.source.full_text
    needle = "We were worried our jobs would go."
    start = text.index(needle)
    # "Café" and "naïve" come before the span: byte offsets would be larger than character offsets.
    assert len(text[:start].encode("utf-8")) > start
    excerpt = _excerpt(kb, slug="jobs-again", text=needle, start=start, end=start + len(needle))
    with pytest.raises(ValidationError):
        # Same span as an existing excerpt: refused by the unique span rule.
        excerpt.full_clean()
    byte_start = len(text[:start].encode("utf-8"))
    shifted = _excerpt(kb, slug="jobs-bytes", text=needle, start=byte_start, end=byte_start + len(needle))
    with pytest.raises(ValidationError) as err:
        shifted.save()
    assert "does not match" in err.value.message_dict["text"][0]


def test_one_link_per_excerpt_configuration_and_part(kb):
    with pytest.raises(IntegrityError), transaction.atomic():
        EvidenceLink.objects.create(excerpt=kb.q_control, configuration=kb.shc_control, stance="illustrates", part="outcome")
    # The same excerpt may speak to another part of the same configuration.
    EvidenceLink.objects.create(excerpt=kb.q_control, configuration=kb.shc_control, stance="illustrates", part="mechanism")
    assert kb.shc_control.evidence_links.count() == 2


def test_wish_shift_pole_must_belong_to_its_dimension(kb):
    shift = WishShift(configuration=kb.shc_control, dimension=kb.valence, toward=kb.agency, between=kb.clinician_patient)
    with pytest.raises(ValidationError) as err:
        shift.full_clean()
    assert "'Agency' is a pole of Power, not of Valence" in err.value.message_dict["toward"][0]


def test_configuration_theme_must_belong_to_its_mechanism(kb):
    config = CMOConfiguration(slug="x", title="x", statement="x", mechanism=kb.professional_beliefs, theme=kb.targeting)
    with pytest.raises(ValidationError) as err:
        config.full_clean()
    assert "belongs to another mechanism" in err.value.message_dict["theme"][0]


def test_publication_problems_name_what_is_missing(kb):
    empty = CMOConfiguration.objects.create(programme=kb.programme, slug="empty", title="Empty", statement="In C, M leads to O.")
    assert empty.publication_problems() == [
        "it has no mechanism", "it has no context", "it has no outcome", "it has no evidence link",
    ]
    assert kb.shc_control.publication_problems() == []


def test_published_queryset_and_visibility(kb, evaluator, analyst):
    published = set(CMOConfiguration.objects.published().values_list("slug", flat=True))
    assert published == {"shc-control", "shc-fear"}
    assert CMOConfiguration.objects.visible_to(analyst).count() == 2
    assert CMOConfiguration.objects.visible_to(evaluator).count() == 3


def test_programme_years_must_be_in_order(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Programme.objects.create(slug="p", name="P", start_year=2013, end_year=2011)


def test_key_figure_range_must_be_in_order(kb):
    with pytest.raises(IntegrityError), transaction.atomic():
        KeyFigure.objects.create(team=kb.shc, slug="k", label="k", value=5, value_max=2, display="5–2", evidence=kb.q_control)
