"""/programmes/new/: an evaluator starts a programme in the browser. Evaluators only; a Django form
whose errors name their field (a 400); all of it in one transaction; the creator becomes its lead;
teams from a textarea, frameworks from checkboxes, a starting vocabulary copied from a programme the
user may see; CSP-compatible HTML (no inline script or style)."""

import re

import pytest

from tests.pages.builders import second_programme
from tests.pages.test_pages import html

URL = "/programmes/new/"


@pytest.fixture
def frameworks(db):
    from mechanisms.models import Framework

    return [Framework.objects.create(slug="npt", name="Normalisation Process Theory", order=1),
            Framework.objects.create(slug="diffusion", name="Diffusion of innovations", order=2)]


@pytest.fixture
def signed_in(client, evaluator):
    client.force_login(evaluator)
    return client


def form_data(**changes):
    data = {"name": "Peer Support in Maternity", "slug": "", "short_name": "Peer Maternity", "funder": "The Maternity Trust",
            "evaluator": "Peer Research Ltd", "start_year": "2020", "end_year": "2023", "teams": "", "vocabulary_from": ""}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def errors(response):
    """{field label: message} of the error summary."""
    assert response.status_code == 400, response.status_code
    page = response.content.decode()
    summary = page[page.index('id="form-errors"'):]
    summary = summary[: summary.index("</div>")]
    return dict(re.findall(r'<li><a href="#[\w-]+">([^<]+)</a>: ([^<]+)</li>', summary))


# --- who may ------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/programmes/new/"
    assert client.post(URL, form_data())["Location"] == "/admin/login/?next=/programmes/new/"


def test_a_user_who_is_no_evaluator_gets_a_403_saying_why(client, analyst):
    from projects.models import Programme

    client.force_login(analyst)
    response = client.get(URL)
    assert response.status_code == 403
    assert "Only evaluators can start a programme" in response.content.decode()
    assert client.post(URL, form_data()).status_code == 403
    assert not Programme.objects.filter(name="Peer Support in Maternity").exists()


def test_other_methods_are_refused(signed_in):
    assert signed_in.put(URL).status_code == 405


# --- the form ------------------------------------------------------------------------------------


def test_the_form_has_labelled_fields_and_no_inline_code(signed_in, kb, frameworks):
    page = html(signed_in.get(URL))
    for name, label in [("name", "Name"), ("slug", "Address (slug)"), ("short_name", "Short name"), ("funder", "Funder"),
                        ("evaluator", "Evaluator"), ("start_year", "Start year"), ("end_year", "End year"),
                        ("is_public", "Public"), ("teams", "Teams"), ("vocabulary_from", "Starting vocabulary")]:
        assert re.search(rf'<label for="id_{name}">{re.escape(label)}', page), name
    assert re.findall(r'<label for="id_frameworks_\d">([^<]+)</label>', page) == [
        "Normalisation Process Theory", "Diffusion of innovations"]
    assert re.findall(r'<option value="(\d*)"', page) == ["", str(kb.programme.pk)]
    assert 'name="csrfmiddlewaretoken"' in page
    # CSP (script-src 'self', style-src 'self'): no inline script, no style attribute or element.
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert " style=" not in page and "<style" not in page


def test_the_copy_choices_are_the_programmes_the_user_may_see(signed_in, kb):
    mums = second_programme(kb)  # private, the evaluator is no member
    page = html(signed_in.get(URL))
    assert "Mums" not in page
    response = signed_in.post(URL, form_data(vocabulary_from=str(mums.programme.pk)))
    assert errors(response) == {
        "Starting vocabulary": "Select a valid choice. That choice is not one of the available choices."}


def test_an_evaluator_creates_a_private_programme_with_teams_frameworks_and_a_copied_vocabulary(
        signed_in, evaluator, kb, frameworks):
    from evidence.models import SpeakerRole
    from mechanisms.models import Context, EnablingMechanism, MechanismTheme, Outcome
    from projects.models import Programme, ProgrammeMembership

    kb.programme.frameworks.add(frameworks[1])
    response = signed_in.post(URL, form_data(
        teams="Birth Partners\n\n  Peer   Doulas  \nPathway\n", frameworks=[str(frameworks[0].pk)],
        vocabulary_from=str(kb.programme.pk),
    ))
    assert response.status_code == 302
    assert response["Location"] == "/programmes/peer-support-in-maternity/"
    programme = Programme.objects.get(slug="peer-support-in-maternity")
    assert (programme.name, programme.short_name, programme.funder, programme.evaluator, programme.start_year,
            programme.end_year, programme.is_public) == (
        "Peer Support in Maternity", "Peer Maternity", "The Maternity Trust", "Peer Research Ltd", 2020, 2023, False)
    assert programme.created_by == evaluator
    # The model-layer receiver made the acting user (the request's) its lead.
    assert list(ProgrammeMembership.objects.filter(programme=programme).values_list("user__username", "role")) == [
        ("eva", "lead")]
    # Teams in order; slugs unique among all teams (ctg has a "pathway"), whitespace tidied.
    assert list(programme.teams.values_list("slug", "name", "short_name", "order")) == [
        ("birth-partners", "Birth Partners", "Birth Partners", 1),
        ("peer-doulas", "Peer Doulas", "Peer Doulas", 2),
        ("pathway-2", "Pathway", "Pathway", 3),
    ]
    # The ticked framework, and the one the copied programme uses.
    assert sorted(programme.frameworks.values_list("slug", flat=True)) == ["diffusion", "npt"]
    # ctg's vocabulary, copied: the same slugs, now this programme's own.
    assert sorted(EnablingMechanism.objects.filter(programme=programme).values_list("slug", flat=True)) == [
        "patient-beliefs", "professional-beliefs"]
    assert list(MechanismTheme.objects.filter(programme=programme).values_list("slug", "mechanism__programme")) == [
        ("targeting", programme.pk)]
    assert Context.objects.filter(programme=programme).count() == 2
    assert Outcome.objects.filter(programme=programme).count() == 2
    assert SpeakerRole.objects.filter(programme=programme).count() == 2
    # Nothing of ctg moved.
    assert EnablingMechanism.objects.filter(programme=kb.programme).count() == 2
    # Its home shows it to its lead; to anyone else it does not exist.
    home = html(signed_in.get("/programmes/peer-support-in-maternity/"))
    assert '<h1 id="hero-title">Peer Support in Maternity</h1>' in home and "Birth Partners" in home
    assert "Peer Support in Maternity" in html(signed_in.get("/"))
    signed_in.logout()
    assert signed_in.get("/programmes/peer-support-in-maternity/").status_code == 404
    assert "Peer Support in Maternity" not in html(signed_in.get("/"))


def test_an_empty_vocabulary_and_a_public_programme(signed_in, kb):
    from mechanisms.models import EnablingMechanism
    from projects.models import Programme

    response = signed_in.post(URL, form_data(name="Open Doors", slug="open-doors", is_public="on", short_name=""))
    assert response["Location"] == "/programmes/open-doors/"
    programme = Programme.objects.get(slug="open-doors")
    assert programme.is_public and programme.teams.count() == 0 and programme.frameworks.count() == 0
    assert not EnablingMechanism.objects.filter(programme=programme).exists()
    signed_in.logout()
    assert "Open Doors" in html(signed_in.get("/"))
    assert html(signed_in.get("/programmes/open-doors/"))


@pytest.mark.parametrize("changes, expected", [
    ({"name": ""}, {"Name": "This field is required."}),
    ({"name": "CtG"}, {"Address (slug)": "A programme already has the address &#x27;ctg&#x27;; choose another."}),
    ({"slug": "ctg"}, {"Address (slug)": "A programme already has the address &#x27;ctg&#x27;; choose another."}),
    ({"slug": "new"}, {"Address (slug)": "&#x27;new&#x27; is not free to be a programme&#x27;s address; choose another."}),
    ({"slug": "no spaces"}, {"Address (slug)": "Enter a valid “slug” consisting of letters, numbers, underscores or "
                                               "hyphens."}),
    ({"name": "???"}, {"Address (slug)": "Give the programme an address: its name has no letters or digits to make one "
                                         "from."}),
    ({"start_year": "2023", "end_year": "2020"}, {"End year": "The programme cannot end before it starts."}),
    ({"start_year": "twenty"}, {"Start year": "Enter a whole number."}),
    ({"teams": "Doulas\nMidwives\ndoulas"}, {"Teams": "Line 3: &#x27;doulas&#x27; is listed twice."}),
    ({"teams": "x" * 301}, {"Teams": "Line 1: a team&#x27;s name has at most 300 characters (it has 301)."}),
    ({"frameworks": ["999999"]}, {"Shared frameworks it uses": "Select a valid choice. 999999 is not one of the "
                                                               "available choices."}),
])
def test_form_errors_name_the_field_and_create_nothing(signed_in, kb, changes, expected):
    from projects.models import Programme, Team

    before = (Programme.objects.count(), Team.objects.count())
    response = signed_in.post(URL, form_data(**changes))
    assert errors(response) == expected
    assert (Programme.objects.count(), Team.objects.count()) == before
    page = response.content.decode()
    # The error is also under its field, and what was typed comes back.
    assert 'class="errorlist"' in page
    if "frameworks" not in changes:  # a text box or list marked invalid for screen readers
        assert 'aria-invalid="true"' in page
    if "name" not in changes:
        assert 'value="Peer Support in Maternity"' in page


def test_a_failure_part_way_leaves_nothing_behind(signed_in, kb, monkeypatch):
    from projects import forms
    from projects.models import Programme, Team

    def broken_copy(source, target):
        raise RuntimeError("the copy failed")

    monkeypatch.setattr(forms, "copy_vocabulary", broken_copy)
    with pytest.raises(RuntimeError):
        signed_in.post(URL, form_data(teams="Doulas", vocabulary_from=str(kb.programme.pk)))
    assert not Programme.objects.filter(slug="peer-support-in-maternity").exists()
    assert not Team.objects.filter(slug="doulas").exists()


def test_an_evaluator_only_by_membership_may_start_one(client, django_user_model, kb):
    from tests.conftest import join

    user = join(django_user_model.objects.create_user("evie"), kb.programme, "evaluator")
    client.force_login(user)
    response = client.post(URL, form_data(slug="evies"))
    assert response.status_code == 302
    from projects.models import ProgrammeMembership

    assert ProgrammeMembership.objects.get(programme__slug="evies").user == user
