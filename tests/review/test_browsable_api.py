"""A person opening the API in a browser gets DRF's browsable pages, filters form included."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/configurations/",
        "/api/configurations/?team=shc&effect=disabled",
        "/api/excerpts/?team=shc",
        "/api/teams/",
        "/api/matrix/?rows=team&cols=mechanism",
        "/api/configurations/shc-fear/",
    ],
)
def test_browsable_api_renders_html(kb, client, url):
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "shc" in response.content.decode()


def test_browsable_api_shows_a_bad_filter_as_a_400_page(kb, client):
    response = client.get("/api/configurations/?team=nope", HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert "Unknown team" in response.content.decode()
