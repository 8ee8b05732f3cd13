"""Error pages use the site's own layout (DEBUG is off under the test runner)."""

import pytest

pytestmark = pytest.mark.django_db


def test_unknown_page_is_a_styled_404_naming_the_path(client):
    response = client.get("/programmes/ctg/teams/no-such-team/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "<h1>Page not found</h1>" in body
    assert "/programmes/ctg/teams/no-such-team/" in body
    assert 'class="skip-link"' in body  # the base layout
