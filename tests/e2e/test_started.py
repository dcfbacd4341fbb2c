"""The app as an operator starts it answers with its real defaults."""

import pytest

pytestmark = pytest.mark.e2e


def test_it_serves_the_login_page(start_app):
    app = start_app()
    with app.client() as client:
        response = client.get("/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.text
