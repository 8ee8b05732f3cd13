"""A private programme is invisible to non-members everywhere in the API: lists, details (404),
counts, search, the matrix, error messages, the schema, CSV exports and the REFI-QDA downloads.
Members see it; a programme's drafts are its writers'. Every row says its programme."""

import pytest

from tests.programmes.conftest import ROLES, SEES_OTHER, WRITES_CTG, WRITES_OTHER, results, slugs

CTG_PUBLISHED = ["shc-control", "shc-fear"]


def _expected_configurations(role):
    visible = list(CTG_PUBLISHED)
    if role in WRITES_CTG:
        visible.append("pathway-targets")
    if role in SEES_OTHER:
        visible.append("other-published")
    if role in WRITES_OTHER:
        visible.append("other-draft")
    return sorted(visible)


@pytest.mark.parametrize("role", ROLES)
def test_configurations_by_role(clients, role):
    client = clients[role]
    rows = results(client.get("/api/configurations/", {"page_size": 50}))
    assert sorted(row["slug"] for row in rows) == _expected_configurations(role)
    assert {row["slug"]: row["programme"] for row in rows}.get("shc-control") == "ctg"
    if role in SEES_OTHER:
        assert {row["slug"]: row["programme"] for row in rows}["other-published"] == "other"


# (detail URL, whose it is): a non-member's 404, a member's 200.
DETAILS = [
    ("/api/programmes/other/", "other"), ("/api/configurations/other-published/", "other"),
    ("/api/configurations/other-draft/", "other-draft"), ("/api/excerpts/o-quote/", "other"),
    ("/api/sources/other-report/", "other"), ("/api/teams/oth-team/", "other"),
    ("/api/contexts/only-other/", "other"), ("/api/configurations/pathway-targets/", "ctg-draft"),
    ("/api/configurations/shc-control/", "ctg"), ("/api/programmes/ctg/", "ctg"),
]


@pytest.mark.parametrize("role", ROLES)
def test_details_by_role(clients, role):
    for url, whose in DETAILS:
        visible = {"ctg": True, "ctg-draft": role in WRITES_CTG, "other": role in SEES_OTHER,
                   "other-draft": role in WRITES_OTHER}[whose]
        response = clients[role].get(url)
        assert response.status_code == (200 if visible else 404), (url, response.content)


@pytest.mark.parametrize("role", ROLES)
def test_lists_and_counts_leave_the_private_programme_out(clients, role):
    client = clients[role]
    member = role in SEES_OTHER
    assert ("other" in slugs(client.get("/api/programmes/"))) is member
    contexts = client.get("/api/contexts/").json()
    expected = 2 + (2 if member else 0)  # ctg: resigned-dependence, four-hour-target; other: its two
    assert contexts["count"] == expected and len(contexts["results"]) == expected
    assert ("oth-team" in slugs(client.get("/api/teams/"))) is member
    assert ("other-report" in slugs(client.get("/api/sources/"))) is member
    assert ("o-quote" in slugs(client.get("/api/excerpts/"))) is member
    assert {row["programme"] for row in results(client.get("/api/excerpts/"))} == ({"ctg", "other"} if member else {"ctg"})
    links = results(client.get("/api/evidence-links/"))
    assert ("other" in {row["programme"] for row in links}) is member
    assert len(results(client.get("/api/speaker-roles/"))) == (3 if member else 2)
    assert len(results(client.get("/api/waves/"))) == (1 if member else 0)
    assert len(results(client.get("/api/mechanisms/"))) == (3 if member else 2)
    # Shared frameworks are global: the same for everyone.
    assert [r["slug"] for r in results(client.get("/api/wish-dimensions/"))] == ["power", "valence"]


@pytest.mark.parametrize("role", ROLES)
def test_search_finds_the_private_programme_for_members_only(clients, role):
    member = role in SEES_OTHER
    excerpts = slugs(clients[role].get("/api/excerpts/", {"search": "zebrafish"}))
    assert excerpts == (["o-quote"] if member else [])
    configurations = slugs(clients[role].get("/api/configurations/", {"search": "zebrafish"}))
    assert sorted(configurations) == sorted(
        (["other-published"] if member else []) + (["other-draft"] if role in WRITES_OTHER else []))


@pytest.mark.parametrize("role", ROLES)
def test_the_matrix_counts_and_lists_visible_programmes_only(clients, role):
    matrix = clients[role].get("/api/matrix/", {"rows": "team", "cols": "mechanism"}).json()
    teams = [row["key"] for row in matrix["rows"]]
    assert ("oth-team" in teams) is (role in SEES_OTHER)
    labels = [col["label"] for col in matrix["cols"]]
    # Both programmes have a patient-beliefs mechanism: one column, the counts of both.
    assert [col["key"] for col in matrix["cols"]] == ["patient-beliefs", "professional-beliefs"]
    patient = matrix["cols"][0]
    if role in SEES_OTHER:
        assert labels[0] == "Patient / OPatient"
        assert patient["count"] == 2 + 1 + (1 if role in WRITES_OTHER else 0)
    else:
        assert labels[0] == "Patient" and patient["count"] == 2
    assert matrix["total"] == len(_expected_configurations(role))


def test_the_matrix_of_one_programme(clients):
    matrix = clients["root"].get("/api/matrix/", {"rows": "team", "cols": "mechanism", "programme": "other"}).json()
    assert [row["key"] for row in matrix["rows"]] == ["oth-team"]
    assert [col["key"] for col in matrix["cols"]] == ["patient-beliefs"]
    assert matrix["cells"][0][0]["count"] == 2 and matrix["total"] == 2
    url = matrix["cells"][0][0]["configurations_url"]
    assert "programme=other" in url
    assert sorted(slugs(clients["root"].get(url))) == ["other-draft", "other-published"]


@pytest.mark.parametrize("role", ["anonymous", "eva", "oana"])
def test_accepted_lists_and_the_schema_name_visible_slugs_only(clients, role):
    client = clients[role]
    message = client.get("/api/configurations/", {"context": "nope"}).json()["context"][0]
    assert ("only-other" in message) is (role in SEES_OTHER)
    assert "four-hour-target" in message
    message = client.get("/api/teams/", {"programme": "nope"}).json()["programme"][0]
    assert ("other" in message.split("Accepted: ")[1]) is (role in SEES_OTHER)
    # A private programme's slug is as unknown as a made-up one.
    response = client.get("/api/configurations/", {"programme": "other"})
    assert response.status_code == (200 if role in SEES_OTHER else 400)
    schema = client.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/configurations/"]["get"]["parameters"]}
    contexts = parameters["context"]["schema"]["items"]["enum"]
    assert ("only-other" in contexts) is (role in SEES_OTHER)
    assert contexts.count("resigned-dependence") == 1  # a slug two programmes share, once
    assert ("other" in parameters["programme"]["schema"]["items"]["enum"]) is (role in SEES_OTHER)
    qdpx = {p["name"]: p for p in schema["paths"]["/api/export/qdpx/"]["get"]["parameters"]}
    assert ("other" in qdpx["programme"]["schema"]["items"]["enum"]) is (role in SEES_OTHER)


@pytest.mark.parametrize("role", ["anonymous", "eva", "oeva", "root"])
@pytest.mark.parametrize("url", ["/api/excerpts/export/", "/api/excerpts/?format=csv", "/api/configurations/export/",
                                 "/api/configurations/?format=csv", "/api/teams/export/", "/api/evidence-links/export/"])
def test_csv_exports_leave_the_private_programme_out(clients, role, url):
    response = clients[role].get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    header = text.splitlines()[0].split(",")
    assert "programme" in header
    assert (",other" in text or "other," in text.split("\n", 1)[1]) is (role in SEES_OTHER), text[:600]


def test_every_row_says_its_programme(clients):
    root = clients["root"]
    assert {r["programme"] for r in results(root.get("/api/contexts/"))} == {"ctg", "other"}
    assert root.get("/api/excerpts/o-quote/").json()["programme"] == "other"
    link = results(root.get("/api/evidence-links/", {"configuration": "other-published"}))[0]
    assert link["programme"] == "other"
    assert root.get(f"/api/evidence-links/{link['id']}/").json()["programme"] == "other"
    assert root.get("/api/configurations/other-published/").json()["programme"] == "other"
    assert results(root.get("/api/configurations/", {"view": "compact", "programme": "other"}))[0]["programme"] == "other"
    assert root.get("/api/teams/oth-team/").json()["programme"] == "other"
    assert root.get("/api/sources/other-report/").json()["programme"] == "other"


@pytest.mark.parametrize("role", ROLES)
def test_programmes_say_the_readers_role(clients, role):
    rows = {row["slug"]: row for row in results(clients[role].get("/api/programmes/"))}
    expected_ctg = {"ana": "analyst", "eva": "evaluator", "leo": "lead", "mixed": "evaluator", "root": "lead"}.get(role)
    assert rows["ctg"]["role"] == expected_ctg
    assert rows["ctg"]["is_public"] is True and rows["ctg"]["frameworks"] == []
    if role in SEES_OTHER:
        assert rows["other"]["role"] == {"oana": "analyst", "oeva": "evaluator", "oleo": "lead", "mixed": "lead",
                                         "root": "lead"}[role]
        assert rows["other"]["is_public"] is False
        assert set(rows["other"]) >= {"slug", "name", "short_name", "funder", "evaluator", "start_year", "end_year",
                                      "summary", "headline_messages", "is_public", "frameworks", "role"}


def test_programmes_by_role_filter(clients):
    assert slugs(clients["mixed"].get("/api/programmes/", {"role": "lead"})) == ["other"]
    assert slugs(clients["mixed"].get("/api/programmes/", {"role": "evaluator,analyst"})) == ["ctg"]
    assert slugs(clients["anonymous"].get("/api/programmes/", {"role": "lead"})) == []
    assert sorted(slugs(clients["root"].get("/api/programmes/", {"role": "lead"}))) == ["ctg", "other"]
    response = clients["eva"].get("/api/programmes/", {"role": "boss"})
    assert response.status_code == 400 and list(response.json()) == ["role"]
    assert slugs(clients["root"].get("/api/programmes/", {"programme": "other"})) == ["other"]


def test_an_analysts_export_of_public_programmes_may_be_cached(clients):
    assert clients["ana"].get("/api/export/qdc/")["Cache-Control"] == "public, max-age=300"
    assert clients["oana"].get("/api/export/qdc/", {"programme": "ctg"})["Cache-Control"] == "public, max-age=300"
    assert clients["oana"].get("/api/export/qdc/")["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("role,sees", [("anonymous", False), ("eva", False), ("oana", True), ("root", True)])
def test_refi_qda_exports_hold_visible_programmes_only(clients, role, sees):
    import io
    import zipfile

    response = clients[role].get("/api/export/qdpx/")
    assert response.status_code == 200
    # Shared caches keep public programmes' published knowledge only (eva's has internal notes).
    assert response["Cache-Control"] == ("public, max-age=300" if role == "anonymous" else "private, no-store")
    payload = b"".join(response.streaming_content)
    project = zipfile.ZipFile(io.BytesIO(payload)).read("project.qde").decode()
    assert ("Zebrafish" in project) is sees
    assert ("The other report" in project) is sees
    codebook = clients[role].get("/api/export/qdc/").content.decode()
    assert ("Zebrafish" in codebook) is sees
    response = clients[role].get("/api/export/qdpx/", {"programme": "other"})
    assert response.status_code == (200 if sees else 400)
    if not sees:
        assert response.json()["programme"][0].startswith("Unknown programme 'other'. Accepted: ctg")
