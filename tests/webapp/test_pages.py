"""What every page carries: a strict content security policy, and the icon where browsers look."""


def test_pages_carry_a_strict_content_security_policy(alice_client):
    policy = alice_client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_the_icon_is_found_where_browsers_look_for_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
