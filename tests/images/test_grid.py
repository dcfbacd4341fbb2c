"""The team's grid: the generate form above the images, newest first, and new cards as they come."""

import re

from gallery.models import Generation
from tests.factories import make_generation

Status = Generation.Status


def test_it_shows_the_generate_form_and_the_gallery(alice_client):
    html = alice_client.get("/").content.decode()
    assert '<label for="id_model">Model</label>' in html
    assert re.search(r'<option value="sandbox/flux-sync"[^>]* selected>', html)
    assert "Sandbox (offline)" in html
    assert '<label for="id_prompt">Prompt</label>' in html
    assert 'name="generate" id="generate-button" class="primary">Generate</button>' in html
    assert '<section id="grid" class="grid" aria-label="Gallery"' in html
    assert 'name="p_num_images"' in html and 'name="p_seed"' in html


def test_the_gallery_lists_newest_first(alice_client, alice):
    old = make_generation(alice, prompt="older one", status=Status.FAILED)
    new = make_generation(alice, prompt="newer one", status=Status.QUEUED)
    html = alice_client.get("/").content.decode()
    assert html.index(str(new.uuid)) < html.index(str(old.uuid))


def test_it_hides_other_peoples_generations(client, alice, dave):
    make_generation(alice, prompt="alice's secret idea")
    client.force_login(dave)
    assert "alice&#x27;s secret idea" not in client.get("/").content.decode()


def test_new_cards_come_with_one_poller_asking_from_the_newest(alice_client, alice):
    older = make_generation(alice)
    newer = make_generation(alice, prompt="a newer fox")
    page = alice_client.get("/", {}).content.decode()
    assert page.count('id="poller"') == 1 and 'hx-swap-oob="true" hx-get="/new' not in page
    response = alice_client.get("/new", {"since": older.created_at.isoformat()})
    fresh = response.content.decode()
    assert f'id="gen-{newer.uuid}"' in fresh and f'id="gen-{older.uuid}"' not in fresh
    assert fresh.count('id="poller"') == 1 and 'id="poller" hx-swap-oob="true"' in fresh
    since = response.context["since"]
    assert since == newer.created_at
