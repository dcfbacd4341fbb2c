"""The permission matrix: every URL in the project, for four personas and a stranger to all.

alice owns the Studio team, bob edits, carol views, dave belongs to another team. A URL added
to the project without a row here fails `test_every_url_is_in_the_matrix`.

Share links add two anonymous personas: "holder" holds a live link to the Main gallery, and
"revoked" holds the same link after it was revoked. Everyone else logged in holds it too; plain
"anonymous" only guesses at one. Where a row does not name them, they get what "anonymous" gets.
"""

import json
import uuid
from datetime import timedelta

import pytest
from django.core import signing
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from gallery.models import (
    ApiToken,
    Delivery,
    Event,
    Gallery,
    Generation,
    Invitation,
    Membership,
    Preset,
    ShareLink,
    Style,
    Team,
)
from gallery.sharing import files
from gallery.webhooks import endpoints
from jobs import links
from tests.factories import make_generation, make_image, make_share_link

Status = Generation.Status
PERSONAS = ("alice", "bob", "carol", "dave", "anonymous", "holder", "revoked")
HOLDERS = ("holder", "revoked")
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
    api_token, _ = ApiToken.issue(alice, studio, "script")
    link = make_share_link(alice, gallery=main, allow_download=True)
    return {
        "api_token": api_token.uuid,
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
        "share_link": link.uuid,
        "share_token": link.token,
        "share_file": files.file_url(link, image, "thumbnail").rsplit("/", 1)[-1],
    }


# Share pages: anyone holding the link (logged in or not) reads them, until it is revoked; a
# guessed token or signature finds nothing.
SHARED = dict(alice=200, bob=200, carol=200, dave=200, anonymous=404, holder=200, revoked=404)


# name: (method, path template, data, {persona: expected status})
MATRIX = {
    "gallery:index": ("get", "/", {}, dict(alice=200, bob=200, carol=200, dave=200)),
    "gallery:generate": ("post", "/generate", {}, dict(alice=400, bob=400, carol=403, dave=400)),
    "gallery:new-cards": (
        "get",
        "/new?team={team}&since=2000-01-01T00:00:00Z",
        {},
        dict(alice=200, bob=200, carol=200, dave=404),
    ),
    # The tab's poll: its signed token is the access (tests/images/test_live.py); without one,
    # everyone is refused, logged in or not.
    "gallery:live": (
        "get",
        "/live?v=1",
        {},
        dict(alice=403, bob=403, carol=403, dave=403, anonymous=403),
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
    # Everyone has their own API tokens page; a token is found only by its owner.
    "gallery:api-tokens": (
        "get",
        "/settings/api-tokens/",
        {},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
    "gallery:api-token-revoke": (
        "post",
        "/settings/api-tokens/{api_token}/revoke",
        {},
        dict(alice=302, bob=404, carol=404, dave=404),
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
    "sharing:create": (
        "get",
        "/share/new?gallery={gallery}",
        {},
        dict(alice=200, bob=200, carol=403, dave=404),
    ),
    "sharing:link": (
        "get",
        "/share/{share_link}",
        {},
        dict(alice=200, bob=200, carol=403, dave=404),
    ),
    "sharing:revoke": (
        "post",
        "/share/{share_link}/revoke",
        {},
        dict(alice=302, bob=302, carol=403, dave=404),
    ),
    "sharing:page": ("get", "/s/{share_token}", {}, SHARED),
    "sharing:card": ("get", "/s/{share_token}/card", {}, SHARED),
    "sharing:image": ("get", "/s/{share_token}/images/{image}", {}, SHARED),
    # The link allows downloads: a fresh signed file URL (tests/sharing/test_files.py).
    "sharing:download": (
        "get",
        "/s/{share_token}/images/{image}/download",
        {},
        {**SHARED, **{p: 302 for p, status in SHARED.items() if status == 200}},
    ),
    "sharing:file": ("get", "/share/files/{share_file}", {}, SHARED),
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
    # Anyone logged in chooses their own theme, and only their own.
    "theme": (
        "post",
        "/account/theme",
        {"theme": "dark"},
        dict(alice=302, bob=302, carol=302, dave=302),
    ),
    # And whether their own composer's options start open.
    "options-open": (
        "post",
        "/account/options",
        {"options_open": "1"},
        dict(alice=302, bob=302, carol=302, dave=302),
    ),
    # Anyone logged in stars models for their own picker, and only for themselves.
    "favorite-model": (
        "post",
        "/account/favorite-model",
        {"model": "sandbox/flux-sync", "starred": "1"},
        dict(alice=200, bob=200, carol=200, dave=200),
    ),
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


# The REST API, /api/v1/, for a token of each persona acting in the Studio (dave's in his own
# team), alice's read-only token, her revoked and expired ones, and no token at all.
# (name, method): (path template, JSON body, {persona: expected status}).
API_PERSONAS = ("alice", "bob", "carol", "dave", "readonly", "revoked", "expired", "none")
READ = dict(alice=200, bob=200, carol=200, dave=200, readonly=200)
SEEN = dict(alice=200, bob=200, carol=200, dave=404, readonly=200)
CHANGED = dict(alice=200, bob=200, carol=403, dave=404, readonly=403)
API_MATRIX = {
    ("api:models", "get"): ("/models", None, READ),
    ("api:generations", "post"): (
        "/generations",
        {"model": "sandbox/flux-sync", "prompt": "a fox"},
        dict(alice=202, bob=202, carol=403, dave=202, readonly=403),
    ),
    ("api:generation", "get"): ("/generations/{done}", None, SEEN),
    ("api:generation-cancel", "post"): ("/generations/{running}/cancel", None, CHANGED),
    ("api:generation-retry", "post"): (
        "/generations/{failed}/retry",
        None,
        dict(alice=202, bob=202, carol=403, dave=404, readonly=403),
    ),
    ("api:images", "get"): ("/images", None, READ),
    ("api:image", "get"): ("/images/{image}", None, SEEN),
    ("api:image", "patch"): ("/images/{image}", {"gallery": "{second}"}, CHANGED),
    ("api:image", "delete"): (
        "/images/{image}",
        None,
        dict(alice=204, bob=204, carol=403, dave=404, readonly=403),
    ),
    ("api:image-file", "get"): ("/images/{image}/file?kind=thumbnail", None, SEEN),
    ("api:galleries", "get"): ("/galleries", None, READ),
    ("api:galleries", "post"): (
        "/galleries",
        {"name": "New"},
        dict(alice=201, bob=201, carol=403, dave=201, readonly=403),
    ),
    # Owners only; alice's read-only token may look, not change.
    ("api:webhooks", "get"): (
        "/webhooks",
        None,
        dict(alice=200, bob=403, carol=403, dave=200, readonly=200),
    ),
    ("api:webhooks", "post"): (
        "/webhooks",
        {"url": "https://93.184.216.34/in", "events": ["generation.failed"]},
        dict(alice=201, bob=403, carol=403, dave=201, readonly=403),
    ),
    ("api:webhook", "delete"): (
        "/webhooks/{endpoint}",
        None,
        dict(alice=204, bob=403, carol=403, dave=404, readonly=403),
    ),
    # ninja's root only names where the docs are: not found, for everyone.
    ("api:api-root", "get"): ("/", None, {p: 404 for p in API_PERSONAS}),
    # Public: they describe the API and hold nothing of anyone's.
    ("api:openapi-json", "get"): ("/openapi.json", None, {p: 200 for p in API_PERSONAS}),
    ("api:openapi-view", "get"): ("/docs", None, {p: 200 for p in API_PERSONAS}),
}


# OpenAI's images API at the site root, for the same tokens; with no worker running, a
# generation that starts waits API_WAIT_SECONDS (1 here) and answers 504.
OPENAI_MATRIX = {
    "openai-generations": (
        "/v1/images/generations",
        {"model": "sandbox/flux-sync", "prompt": "a fox"},
        dict(alice=504, bob=504, carol=403, dave=504, readonly=403),
    ),
    # sandbox/flux-sync takes no picture: a 400 naming the model, for those who may edit.
    "openai-edits": (
        "/v1/images/edits",
        {"model": "sandbox/flux-sync", "prompt": "a fox"},
        dict(alice=400, bob=400, carol=403, dave=400, readonly=403),
    ),
}


def test_every_url_is_in_the_matrix():
    api = {name for name, _ in API_MATRIX}
    assert all_url_names() == set(MATRIX) | api | set(OPENAI_MATRIX)


CASES = [(name, persona) for name in MATRIX for persona in PERSONAS]


@pytest.mark.parametrize(("name", "persona"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_the_matrix(name, persona, client, world, request):
    method, path, data, expected = MATRIX[name]
    if persona == "anonymous":  # guesses, not holding the link
        world = {**world, "share_token": "guessed-token", "share_file": "guessed:sig"}
    if persona == "revoked":
        ShareLink.objects.get(uuid=world["share_link"]).revoke(None)
    if persona not in ("anonymous", *HOLDERS):
        user = request.getfixturevalue(persona)
        client.force_login(user)
        session = client.session
        session["team"] = str(world["team"])  # everyone works "in the Studio" if they can
        session.save()
    path = path.format(**world)
    data = {k: v.format(**world) for k, v in data.items()}
    response = getattr(client, method)(path, data)
    fallback = expected.get("anonymous", LOGIN) if persona in HOLDERS else LOGIN
    want = expected.get(persona, fallback)
    if want == LOGIN:
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"].startswith("/login/")
    else:
        assert response.status_code == want, (path, persona, response.status_code)


API_CASES = [(name, method, p) for (name, method) in API_MATRIX for p in API_PERSONAS]


@pytest.fixture
def api_tokens(world, alice, bob, carol, dave, studio) -> dict[str, str | None]:
    daves = Team.objects.get(name="Dave's team")
    revoked, revoked_text = ApiToken.issue(alice, studio, "revoked")
    revoked.revoke()
    past = timezone.now() - timedelta(minutes=1)
    return {
        "alice": ApiToken.issue(alice, studio, "a")[1],
        "bob": ApiToken.issue(bob, studio, "b")[1],
        "carol": ApiToken.issue(carol, studio, "c")[1],
        "dave": ApiToken.issue(dave, daves, "d")[1],
        "readonly": ApiToken.issue(alice, studio, "r", read_only=True)[1],
        "revoked": revoked_text,
        "expired": ApiToken.issue(alice, studio, "e", expires_at=past)[1],
        "none": None,
    }


@pytest.mark.parametrize(
    ("name", "method", "persona"), API_CASES, ids=[f"{n}-{m}-{p}" for n, m, p in API_CASES]
)
def test_the_api_matrix(name, method, persona, client, world, api_tokens):
    path, body, expected = API_MATRIX[(name, method)]
    token = api_tokens[persona]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = "/api/v1" + path.format(**world)
    if method == "get":
        response = client.get(path, headers=headers)
    else:
        filled = {
            k: v.format(**world) if isinstance(v, str) else v for k, v in (body or {}).items()
        }
        data = json.dumps(filled) if body else ""
        response = getattr(client, method)(
            path, data, content_type="application/json", headers=headers
        )
    want = expected.get(persona, 401)
    assert response.status_code == want, (path, persona, response.content[:300])


OPENAI_CASES = [(name, p) for name in OPENAI_MATRIX for p in API_PERSONAS]


@pytest.mark.parametrize(
    ("name", "persona"), OPENAI_CASES, ids=[f"{n}-{p}" for n, p in OPENAI_CASES]
)
def test_the_openai_matrix(name, persona, client, world, api_tokens, settings):
    settings.API_WAIT_SECONDS = 1
    path, body, expected = OPENAI_MATRIX[name]
    token = api_tokens[persona]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if name == "openai-edits":  # multipart, as the SDKs send it
        response = client.post(path, body, headers=headers)
    else:
        response = client.post(path, body, content_type="application/json", headers=headers)
    want = expected.get(persona, 401)
    assert response.status_code == want, (path, persona, response.content[:300])
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
