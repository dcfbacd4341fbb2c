"""The permission matrix: every URL in the project, for four personas and a stranger to all.

alice owns the Studio team, bob edits, carol views, dave belongs to another team. A URL added
to the project without a row here fails `test_every_url_is_in_the_matrix`.
"""

import uuid

import pytest
from django.core import signing
from django.urls import URLPattern, URLResolver, get_resolver

from gallery.models import (
    Delivery,
    Event,
    Gallery,
    Generation,
    Invitation,
    Membership,
    Preset,
    Style,
)
from gallery.webhooks import endpoints
from jobs import links
from tests.factories import make_generation, make_image

Status = Generation.Status
PERSONAS = ("alice", "bob", "carol", "dave", "anonymous")
LOGIN = "login"  # expected: redirected to the login page


def all_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = pattern.namespace or ""
                if ns == "admin":
                    names.add("admin:*")
                    continue
                walk(pattern.url_patterns, f"{namespace}{ns}:" if ns else namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(namespace + pattern.name)

    walk(get_resolver().url_patterns)
    return names


@pytest.fixture
def world(studio, alice, bob, carol):
    main = studio.galleries.get()
    second = Gallery.objects.create(team=studio, name="Second", created_by=alice)
    done = make_generation(alice, team=studio, gallery=main, status=Status.SUCCEEDED)
    image = make_image(done)
    image2 = make_image(make_generation(alice, team=studio, gallery=main, status=Status.SUCCEEDED))
    batch = make_generation(alice, team=studio, gallery=main, batch=uuid.uuid4()).batch
    failed = make_generation(alice, team=studio, gallery=main, status=Status.FAILED)
    running = make_generation(alice, team=studio, gallery=main, status=Status.RUNNING)
    invitation = Invitation.objects.create(
        team=studio, token="tok-123", role="viewer", expires_at=done.deadline_at
    )
    carol_membership = Membership.objects.get(team=studio, user=carol)
    preset = Preset.objects.create(team=studio, name="P", model_id="sandbox/flux-sync")
    style = Style.objects.create(team=studio, name="S", suffix="in ink")
    hook, _ = endpoints.add(studio, alice, url="https://hooks.example.com/in", events=["x"])
    event = Event.objects.create(team=studio, type="generation.failed")
    delivery = Delivery.objects.create(event=event, endpoint=hook, status="failed")
    return {
        "preset": preset.uuid,
        "style": style.uuid,
        "team": studio.uuid,
        "gallery": main.uuid,
        "second": second.uuid,
        "done": done.uuid,
        "failed": failed.uuid,
        "running": running.uuid,
        "image": image.uuid,
        "image2": image2.uuid,
        "batch": batch,
        "invitation": invitation.pk,
        "token": invitation.token,
        "carol": carol_membership.pk,
        "endpoint": hook.uuid,
        "delivery": delivery.pk,
        "input_token": signing.dumps(["image", str(image.uuid)], salt=links.INPUT_LINK_SALT),
    }


# name: (method, path template, data, {persona: expected status})
MATRIX = {
    "gallery:index": ("get", "/", {}, dict(alice=200, bob=200, carol=200, dave=200)),
    "gallery:generate": ("post", "/generate", {}, dict(alice=400, bob=400, carol=403, dave=400)),
    "gallery:new-cards": (
        "get",
        "/new?since=2000-01-01T00:00:00Z",
        {},
        dict(alice=200, bob=200, carol=200, dave=204),
    ),
    "gallery:model-fields": (
        "get",
        "/generate/fields",
        {},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
    "gallery:generation-card": (
        "get",
        "/generations/{done}/card",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:generation-cancel": (
        "post",
        "/generations/{running}/cancel",
        {},
        dict(alice=302, bob=302, carol=403, dave=404),
    ),
    "gallery:generation-retry": (
        "post",
        "/generations/{failed}/retry",
        {},
        dict(alice=302, bob=302, carol=403, dave=404),
    ),
    "gallery:image-detail": (
        "get",
        "/images/{image}",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:image-move": (
        "post",
        "/images/{image}/move",
        {"gallery": "{second}"},
        dict(alice=302, bob=302, carol=403, dave=404),
    ),
    # Favorites are personal: anyone who can see an image may favorite it.
    "gallery:image-favorite": (
        "post",
        "/images/{image}/favorite",
        {},
        dict(alice=302, bob=302, carol=302, dave=404),
    ),
    "gallery:image-delete": (
        "post",
        "/images/{image}/delete",
        {},
        dict(alice=302, bob=302, carol=403, dave=404),
    ),
    # Restoring needs a deleted image: the world has none, so everyone gets "not found".
    "gallery:image-restore": (
        "post",
        "/images/{image}/restore",
        {},
        dict(alice=404, bob=404, carol=404, dave=404),
    ),
    # Bulk actions see only what the person can see: a stranger's selection is empty.
    "gallery:bulk": (
        "post",
        "/bulk",
        {"image": "{image}", "action": "favorite"},
        dict(alice=302, bob=302, carol=302, dave=302),
    ),
    "gallery:compare": (
        "get",
        "/compare?image={image}&image={image2}",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:try": ("get", "/try", {}, dict(alice=200, bob=200, carol=200, dave=200)),
    "gallery:try-results": (
        "get",
        "/try/{batch}",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:image-comments": (
        "get",
        "/images/{image}/comments",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:image-comment": (
        "post",
        "/images/{image}/comment",
        {"body": "nice"},
        dict(alice=302, bob=302, carol=403, dave=404),
    ),
    "gallery:image-file": (
        "get",
        "/images/{image}/thumbnail",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    # The signed, expiring token is the access: providers fetch inputs without an account.
    "gallery:input-link": (
        "get",
        "/inputs/{input_token}",
        {},
        dict(alice=200, bob=200, carol=200, dave=200, anonymous=200),
    ),
    "gallery:gallery-list": (
        "get",
        "/galleries/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
    "gallery:gallery-detail": (
        "get",
        "/galleries/{gallery}",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:notifications": (
        "get",
        "/notifications/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
    "gallery:team-list": ("get", "/teams/", {}, dict(alice=200, bob=200, carol=200, dave=200)),
    "gallery:team-switch": (
        "post",
        "/teams/switch",
        {"team": "{team}"},
        dict(alice=302, bob=302, carol=302, dave=404),
    ),
    "gallery:team-detail": (
        "get",
        "/teams/{team}/",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:team-activity": (
        "get",
        "/teams/{team}/activity",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:team-keys": (
        "post",
        "/teams/{team}/keys",
        {},
        dict(alice=302, bob=403, carol=403, dave=404),
    ),
    "gallery:library": ("get", "/library/", {}, dict(alice=200, bob=200, carol=200, dave=200)),
    "gallery:library-bar": (
        "get",
        "/library/bar",
        {},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
    "gallery:preset-save": (
        "post",
        "/library/presets/save",
        {},
        dict(alice=302, bob=302, carol=403, dave=302),
    ),
    "gallery:preset-edit": (
        "get",
        "/library/presets/{preset}/",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:preset-apply": (
        "get",
        "/library/presets/apply?preset={preset}",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:style-apply": (
        "get",
        "/library/styles/apply?style={style}",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:style-edit": (
        "get",
        "/library/styles/{style}/",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    "gallery:history": ("get", "/history/", {}, dict(alice=200, bob=200, carol=200, dave=200)),
    "gallery:team-models": (
        "get",
        "/teams/{team}/models",
        {},
        dict(alice=200, bob=403, carol=403, dave=404),
    ),
    "gallery:webhook-new": (
        "get",
        "/teams/{team}/webhooks/new",
        {},
        dict(alice=200, bob=403, carol=403, dave=404),
    ),
    "gallery:webhook-add": (
        "post",
        "/teams/{team}/webhooks/",
        {},
        dict(alice=400, bob=403, carol=403, dave=404),
    ),
    "gallery:webhook-detail": (
        "get",
        "/teams/{team}/webhooks/{endpoint}",
        {},
        dict(alice=200, bob=403, carol=403, dave=404),
    ),
    "gallery:webhook-rotate": (
        "post",
        "/teams/{team}/webhooks/{endpoint}/rotate",
        {},
        dict(alice=200, bob=403, carol=403, dave=404),
    ),
    "gallery:webhook-delete": (
        "post",
        "/teams/{team}/webhooks/{endpoint}/delete",
        {},
        dict(alice=302, bob=403, carol=403, dave=404),
    ),
    "gallery:webhook-resend": (
        "post",
        "/teams/{team}/webhooks/{endpoint}/deliveries/{delivery}/resend",
        {},
        dict(alice=302, bob=403, carol=403, dave=404),
    ),
    "gallery:team-invite": (
        "post",
        "/teams/{team}/invitations",
        {"role": "viewer"},
        dict(alice=302, bob=403, carol=403, dave=404),
    ),
    "gallery:team-invite-revoke": (
        "post",
        "/teams/{team}/invitations/{invitation}/revoke",
        {},
        dict(alice=302, bob=403, carol=403, dave=404),
    ),
    "gallery:team-role": (
        "post",
        "/teams/{team}/members/{carol}/role",
        {"role": "editor"},
        dict(alice=302, bob=403, carol=403, dave=404),
    ),
    # Anyone may leave: carol removing herself is leaving.
    "gallery:team-remove": (
        "post",
        "/teams/{team}/members/{carol}/remove",
        {},
        dict(alice=302, bob=403, carol=302, dave=404),
    ),
    # The token is the access: whoever holds it sees the invitation, and may sign up through it.
    "gallery:invitation": (
        "get",
        "/invitations/{token}",
        {},
        dict(alice=200, bob=200, carol=200, dave=200, anonymous=200),
    ),
    # The usage dashboard is for staff (tests/usage/test_dashboard.py): others are refused.
    "gallery:staff-usage": (
        "get",
        "/staff/usage/",
        {},
        dict(alice=403, bob=403, carol=403, dave=403),
    ),
    "gallery:staff-usage-export": (
        "get",
        "/staff/usage/export/user",
        {},
        dict(alice=403, bob=403, carol=403, dave=403),
    ),
    "login": ("get", "/login/", {}, dict(alice=302, bob=302, carol=302, dave=302, anonymous=200)),
    "logout": (
        "post",
        "/logout/",
        {},
        dict(alice=302, bob=302, carol=302, dave=302, anonymous=302),
    ),
    # Single sign-on is off unless OIDC_ISSUER is set: both routes are not found, for everyone.
    # Set, anyone may start a login and only a login started in that browser ends one
    # (tests/accounts/test_sso.py, tests/e2e/test_sso_browser.py).
    "sso:start": (
        "get",
        "/oidc/authenticate/",
        {},
        dict(alice=404, bob=404, carol=404, dave=404, anonymous=404),
    ),
    "sso:callback": (
        "get",
        "/oidc/callback/?code=x&state=y",
        {},
        dict(alice=404, bob=404, carol=404, dave=404, anonymous=404),
    ),
    # Closed by default (an admin opens it under Site settings; tests/accounts/test_signup.py).
    "signup": ("get", "/signup/", {}, dict(alice=403, bob=403, carol=403, dave=403, anonymous=403)),
    "password_change": (
        "get",
        "/password/change/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
    "password_change_done": (
        "get",
        "/password/change/done/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
    "password_reset": (
        "get",
        "/password/reset/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200, anonymous=200),
    ),
    "password_reset_done": (
        "get",
        "/password/reset/done/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200, anonymous=200),
    ),
    "password_reset_confirm": (
        "get",
        "/password/reset/MQ/bad-token/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200, anonymous=200),
    ),
    "password_reset_complete": (
        "get",
        "/password/reset/complete/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200, anonymous=200),
    ),
    # Staff only: everyone here is sent to the admin's own login.
    "admin:*": ("get", "/admin/", {}, dict(alice=302, bob=302, carol=302, dave=302, anonymous=302)),
    # The sandbox answers only the worker's key, whoever is logged in; a file's signed token is
    # its own key, and a forged one finds nothing.
    "sandbox:generations": (
        "get",
        "/sandbox/v1/images/generations",
        {},
        dict(alice=401, bob=401, carol=401, dave=401, anonymous=401),
    ),
    "sandbox:relay-generate": (
        "get",
        "/sandbox/v2/image/generate",
        {},
        dict(alice=401, bob=401, carol=401, dave=401, anonymous=401),
    ),
    "sandbox:relay-task": (
        "get",
        "/sandbox/v2/tasks/forged",
        {},
        dict(alice=401, bob=401, carol=401, dave=401, anonymous=401),
    ),
    "sandbox:file": (
        "get",
        "/sandbox/files/forged",
        {},
        dict(alice=404, bob=404, carol=404, dave=404, anonymous=404),
    ),
    # For load balancers: open to all, and they tell nothing but up or ready
    # (tests/webapp/test_health.py).
    "healthz": (
        "get",
        "/healthz",
        {},
        dict(alice=200, bob=200, carol=200, dave=200, anonymous=200),
    ),
    "readyz": ("get", "/readyz", {}, dict(alice=200, bob=200, carol=200, dave=200, anonymous=200)),
    # Closed unless METRICS_TOKEN or METRICS_ALLOWED is set, whoever is logged in
    # (tests/webapp/test_metrics.py).
    "metrics": (
        "get",
        "/metrics",
        {},
        dict(alice=404, bob=404, carol=404, dave=404, anonymous=404),
    ),
}


def test_every_url_is_in_the_matrix():
    assert all_url_names() == set(MATRIX)


CASES = [(name, persona) for name in MATRIX for persona in PERSONAS]


@pytest.mark.parametrize(("name", "persona"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_the_matrix(name, persona, client, world, request):
    method, path, data, expected = MATRIX[name]
    if persona != "anonymous":
        user = request.getfixturevalue(persona)
        client.force_login(user)
        session = client.session
        session["team"] = str(world["team"])  # everyone works "in the Studio" if they can
        session.save()
    path = path.format(**world)
    data = {k: v.format(**world) for k, v in data.items()}
    response = getattr(client, method)(path, data)
    want = expected.get(persona, LOGIN)
    if want == LOGIN:
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"].startswith("/login/")
    else:
        assert response.status_code == want, (path, persona, response.status_code)
