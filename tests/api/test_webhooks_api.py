"""/api/v1/webhooks: owners list, add and remove their team's receivers; the secret is shown
once; the page's SSRF guard refuses a private address."""

import standardwebhooks

from gallery.webhooks.models import Endpoint

PUBLIC = "https://93.184.216.34/atelier"


def test_an_owner_adds_a_receiver_and_sees_the_secret_once(call, tokens, studio):
    made = call(
        tokens["alice"], "post", "/webhooks", {"url": PUBLIC, "events": ["generation.succeeded"]}
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["secret"].startswith("whsec_")
    assert made["Cache-Control"] == "no-store"
    endpoint = Endpoint.objects.get(uuid=body["uuid"])
    assert (endpoint.team, endpoint.url, endpoint.events) == (
        studio,
        PUBLIC,
        ["generation.succeeded"],
    )
    # The secret signs: a receiver holding it verifies what Atelier sends.
    assert endpoint.signing_secrets()[0] == body["secret"]
    standardwebhooks.Webhook(body["secret"])
    listed = call(tokens["alice"], "get", "/webhooks").json()
    assert [e["uuid"] for e in listed] == [body["uuid"]]
    assert "secret" not in listed[0]


def test_it_refuses_a_private_address_naming_the_url(call, tokens):
    refused = call(
        tokens["alice"],
        "post",
        "/webhooks",
        {"url": "http://127.0.0.1:9000/in", "events": ["generation.failed"]},
    )
    assert refused.status_code == 400
    assert "WEBHOOK_ALLOWED_HOSTS" in refused.json()["errors"]["url"][0]
    assert not Endpoint.objects.exists()


def test_it_refuses_an_event_it_does_not_send(call, tokens):
    refused = call(tokens["alice"], "post", "/webhooks", {"url": PUBLIC, "events": ["image.eaten"]})
    assert refused.status_code == 400
    assert "events" in refused.json()["errors"]


def test_an_owner_removes_a_receiver_and_another_team_cannot(call, tokens):
    made = call(
        tokens["alice"], "post", "/webhooks", {"url": PUBLIC, "events": ["budget.exceeded"]}
    )
    uuid = made.json()["uuid"]
    assert call(tokens["dave"], "delete", f"/webhooks/{uuid}").status_code == 404
    assert call(tokens["bob"], "delete", f"/webhooks/{uuid}").status_code == 403
    assert call(tokens["alice"], "delete", f"/webhooks/{uuid}").status_code == 204
    assert not Endpoint.objects.exists()
