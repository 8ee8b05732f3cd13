"""The workbench for codes, codings, memos and relations: a tree-ish list, programme scoping, and forms
that obey the models' rules (they run clean()), with history recording the user."""

import pytest
from django.urls import reverse

from evidence.codes import Code, Coding, Memo, Relation
from tests.curation.conftest import form_data, login


def changelist(model):
    return reverse(f"admin:evidence_{model._meta.model_name}_changelist")


def add_url(model):
    return reverse(f"admin:evidence_{model._meta.model_name}_add")


def change_url(obj):
    return reverse(f"admin:evidence_{obj._meta.model_name}_change", args=[obj.pk])


def test_the_code_list_shows_each_codes_path_and_filters(tree, eva_client):
    response = eva_client.get(changelist(Code))
    assert response.status_code == 200
    rows = {code.name: code.kb_path for code in response.context["cl"].result_list}
    assert rows == {"Beliefs": "Beliefs", "Control": "Beliefs › Control", "Fear": "Beliefs › Control › Fear",
                    "Jobs": "Jobs"}
    assert "Beliefs › Control › Fear" in response.content.decode()
    codable = eva_client.get(changelist(Code), {"codable__exact": "0"}).context["cl"].result_list
    assert [c.name for c in codable] == ["Beliefs"]
    assert [c.name for c in eva_client.get(changelist(Code), {"programme": "ctg", "q": "fear"}).context["cl"].result_list] == ["Fear"]


def _grow(kb, tree, n):
    for i in range(n):
        code = Code.objects.create(programme=kb.programme, parent=tree.fear, name=f"Grown {i}")
        Coding.objects.create(excerpt=kb.f_target, code=code)


# 5 for every admin page (session, user, 2 × permissions, memberships); the programme filter's
# programmes; 2 counts; the rows; (codes) the tree of their programmes; (codings) the code filter's
# codes and the coder filter's coders.
@pytest.mark.parametrize("model,queries", [(Code, 10), (Coding, 11)])
def test_changelist_query_counts_do_not_grow(kb, tree, eva_client, django_assert_num_queries, model, queries):
    for n in (2, 12):
        _grow(kb, tree, n)
        with django_assert_num_queries(queries):
            assert eva_client.get(changelist(model)).status_code == 200


def test_a_code_put_under_its_own_child_is_a_form_error(tree, eva_client):
    url = change_url(tree.beliefs)
    data = form_data(eva_client.get(url)) | {"parent": str(tree.fear.pk)}
    response = eva_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "parent": ["A code cannot be its own parent or sit under one of its own children."]}
    tree.beliefs.refresh_from_db()
    assert tree.beliefs.parent is None


def test_an_evaluator_adds_a_code_and_history_says_who(tree, kb, eva_client, evaluator):
    response = eva_client.post(add_url(Code), {"programme": kb.programme.pk, "parent": tree.beliefs.pk, "name": "Hope",
                                               "description": "", "colour": "#123abc", "codable": "on", "order": "3",
                                               "guid": "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    hope = Code.objects.get(name="Hope")
    assert (hope.parent, hope.created_by, hope.history.get().history_user) == (tree.beliefs, evaluator, evaluator)


def test_a_bad_colour_is_a_form_error(tree, kb, eva_client):
    response = eva_client.post(add_url(Code), {"programme": kb.programme.pk, "name": "Red", "colour": "red",
                                               "order": "0", "guid": "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["colour"]


@pytest.mark.parametrize("code,excerpt,message", [
    ("beliefs", "q-jobs", "Code 'Beliefs' is not codable (a group code)."),
    ("jobs", "q-jobs", "This coder has already coded this excerpt with this code."),
])
def test_coding_rules_are_form_errors(tree, kb, evaluator, admin_user, code, excerpt, message):
    from evidence.models import EvidenceExcerpt

    Coding.objects.create(excerpt=kb.q_jobs, code=tree.jobs, coder=admin_user)
    client = login(admin_user)
    before = Coding.objects.count()
    response = client.post(add_url(Coding), {"code": getattr(tree, code).pk, "excerpt": EvidenceExcerpt.objects.get(slug=excerpt).pk,
                                             "coder": admin_user.pk, "created_0": "2024-03-01", "created_1": "09:30:00",
                                             "guid": "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in [m for messages in errors.values() for m in messages], errors
    assert Coding.objects.count() == before


def test_a_coding_of_another_programmes_excerpt_is_refused(tree, other_tree, other, admin_user):
    client = login(admin_user)
    response = client.post(add_url(Coding), {"code": tree.control.pk, "excerpt": other.quote.pk, "coder": admin_user.pk,
                                             "created_0": "2024-03-01", "created_1": "09:30:00",
                                             "guid": "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "excerpt" in errors or "code" in errors, errors
    assert not Coding.objects.filter(excerpt=other.quote, code=tree.control).exists()


def test_a_new_coding_is_the_writers_and_the_list_filters_by_coder(tree, kb, eva_client, evaluator):
    form = eva_client.get(add_url(Coding)).context["adminform"].form
    assert form.initial["coder"] == evaluator.pk
    response = eva_client.get(changelist(Coding))
    coder_filter = next(s for s in response.context["cl"].filter_specs if getattr(s, "parameter_name", None) == "coder")
    assert [label for _, label in coder_filter.lookup_choices] == ["eva"]
    rows = eva_client.get(changelist(Coding), {"coder": evaluator.pk}).context["cl"].result_list
    assert [c.pk for c in rows] == [tree.eva_control.pk]


def test_a_private_programmes_codes_are_not_in_a_strangers_workbench(tree, other_tree, eva_client):
    assert {c.name for c in eva_client.get(changelist(Code)).context["cl"].result_list} == {
        "Beliefs", "Control", "Fear", "Jobs"}
    assert eva_client.get(change_url(other_tree.zebrafish)).status_code == 302  # as for a row that does not exist
    assert eva_client.get(change_url(other_tree.coding)).status_code == 302


def test_a_reader_cannot_change_a_code(tree, other, kb):
    client = login(other.oeva)  # writes in `other`, reads ctg (public)
    other.oeva.is_staff = True
    other.oeva.save()
    url = change_url(tree.jobs)
    response = client.get(url)
    assert response.status_code == 200 and response.context["has_change_permission"] is False
    data = form_data(response) | {"name": "Taken"}
    assert client.post(url, data).status_code == 403
    tree.jobs.refresh_from_db()
    assert tree.jobs.name == "Jobs"


def test_memo_and_relation_forms_keep_to_one_programme(tree, other_tree, kb, admin_user):
    client = login(admin_user)
    response = client.post(add_url(Memo), {"programme": kb.programme.pk, "name": "On control", "text": "Notes.",
                                           "codes": [tree.control.pk, other_tree.zebrafish.pk],
                                           "guid": "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "codes": [f"Select a valid choice: {other_tree.zebrafish.pk} is not one of the codes of its programme."]}
    response = client.post(add_url(Memo), {"programme": kb.programme.pk, "name": "On control", "text": "Notes.",
                                           "codes": [tree.control.pk], "guid": "5b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 302
    assert list(Memo.objects.get(name="On control").codes.all()) == [tree.control]
    # A relation needs both ends.
    response = client.post(add_url(Relation), {"programme": kb.programme.pk, "name": "Causes", "direction": "OneWay",
                                               "origin_code": tree.control.pk,
                                               "guid": "6b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 200
    assert "A relation needs an origin and a target (a code or an excerpt)." in str(response.context["adminform"].form.errors)
    response = client.post(add_url(Relation), {"programme": kb.programme.pk, "name": "Causes", "direction": "OneWay",
                                               "origin_code": tree.control.pk, "target_excerpt": kb.q_control.pk,
                                               "guid": "6b1c7d0e-5b7a-4c8e-9a37-0e6d1f2b3c4d"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Relation.objects.get(name="Causes").target_excerpt == kb.q_control


def test_a_code_with_codings_stays_codable_in_the_workbench(tree, eva_client):
    url = change_url(tree.control)
    data = form_data(eva_client.get(url))
    data.pop("codable")  # an unticked box is not sent
    response = eva_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"codable": [
        "Code 'Control' codes 1 excerpt: only codable codes are coded. Move or remove its codings first."]}
    tree.control.refresh_from_db()
    assert tree.control.codable is True


def test_the_autocompletes_offer_the_programmes_rows(tree, other_tree, kb, eva_client):
    response = eva_client.get("/admin/evidence/evidenceexcerpt/autocomplete/", {
        "app_label": "evidence", "model_name": "coding", "field_name": "excerpt", "term": "control"})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(kb.q_control.pk)]
    response = eva_client.get("/admin/autocomplete/", {
        "app_label": "evidence", "model_name": "code", "field_name": "parent", "term": ""})
    assert response.status_code == 200
    assert sorted(r["text"] for r in response.json()["results"]) == ["Beliefs", "Control", "Fear", "Jobs"]
