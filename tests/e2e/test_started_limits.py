"""Sign-up and the limits, as they hold in the app as an operator starts it (gunicorn, real env)."""

import re
import time

import httpx
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from gallery.models import Generation

pytestmark = pytest.mark.e2e
PASSWORD = "a-long-pass-phrase"
GENERATE = {
    "model": "sandbox/flux-sync",
    "prompt": "a lighthouse at dusk",
    "p_image_size": "square",
    "p_num_images": "1",
    "p_output_format": "png",
}


@pytest.fixture
def real_hashing(settings):
    """Passwords hashed as the started app checks them (the suite's fast MD5 it does not know).

    Each wrong password costs the app a full hash, whatever the stored one's rounds: Django
    evens out the time so that guesses learn nothing from it.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


def csrf_token(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text[:500]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def log_in(client: httpx.Client, username: str, password: str, path: str = "/login/", **headers):
    token = csrf_token(client, path)
    data = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    return client.post(path, data=data, headers=headers)


def test_sign_up_is_closed_on_a_fresh_site(start_app):
    app = start_app()
    with app.client() as client:
        assert "Create an account" not in client.get("/login/").text
        page = client.get("/signup/")
        assert page.status_code == 403 and "Sign-up is closed" in page.text
        assert 'name="password1"' not in page.text
        form = {"username": "erin", "password1": PASSWORD, "password2": PASSWORD}
        token = {"X-CSRFToken": client.cookies["csrftoken"]}
        assert client.post("/signup/", data=form, headers=token).status_code == 403
    assert not get_user_model().objects.filter(username="erin").exists()


def test_bad_admin_logins_are_throttled_and_the_admin_still_gets_in_from_elsewhere(
    start_app, real_hashing
):
    get_user_model().objects.create_superuser("root", "", PASSWORD)
    app = start_app({"PROXY_HOPS": "1"})  # behind one proxy, which says who the client is
    guesser = {"X-Forwarded-For": "203.0.113.5"}
    with app.client() as client:
        codes = [
            log_in(client, "root", f"guess-{i}", "/admin/login/", **guesser).status_code
            for i in range(15)
        ]
        assert 429 in codes[:14], codes
        assert codes[codes.index(429) :] == [429] * (15 - codes.index(429)), codes
        assert set(codes[: codes.index(429)]) == {200}
        refused = log_in(client, "root", PASSWORD, "/admin/login/", **guesser)
        assert refused.status_code == 429 and "Too many failed logins" in refused.text
    with app.client() as admin:
        answer = log_in(
            admin, "root", PASSWORD, "/admin/login/", **{"X-Forwarded-For": "198.51.100.7"}
        )
        assert answer.status_code == 302
        assert admin.get("/admin/").status_code == 200


@pytest.mark.parametrize("cache", ["file", "redis"])
def test_the_generate_limit_recovers_after_its_window(start_app, real_hashing, cache):
    env = {"SANDBOX_ENABLED": "1", "GENERATE_RATE_COUNT": "2", "GENERATE_RATE_SECONDS": "2"}
    if cache == "redis":
        if not django_settings.REDIS_URL:
            pytest.skip("Redis is tested when REDIS_URL is set")
        env["REDIS_URL"] = django_settings.REDIS_URL
    user = get_user_model().objects.create_user("gina", password=PASSWORD)
    app = start_app(env)
    try:
        with app.client() as client:
            assert log_in(client, "gina", PASSWORD).status_code == 302
            token = client.cookies["csrftoken"]

            def generate() -> httpx.Response:
                return client.post("/generate", data=GENERATE, headers={"X-CSRFToken": token})

            # A burst may straddle two windows (their edges are not aligned to the test), so
            # keep going until refused rather than expecting the refusal at a fixed count.
            answers: list[httpx.Response] = []
            while not answers or answers[-1].status_code != 429:
                assert len(answers) < 10, [a.status_code for a in answers]
                answers.append(generate())
            assert {a.status_code for a in answers[:-1]} == {302}
            assert "Try again in" in answers[-1].text
            time.sleep(2.1)  # the window has passed
            assert generate().status_code == 302
    finally:
        # No worker of this app runs them; a suite's worker on the same broker must not either.
        Generation.objects.filter(owner=user).update(status=Generation.Status.CANCELLED)
