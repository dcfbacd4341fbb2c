"""The login page: labelled, logs in and out, and where strangers are sent."""


def test_it_labels_the_login_form(client, db):
    html = client.get("/login/").content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html


def test_it_logs_in_and_out(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "password"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_it_sends_strangers_to_the_login_page(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
