"""The composer: which of a model's fields sit on the first line, which stay in sight below it,
and which fold under "Options"; and the disclosure as the person last left it."""

import pytest

from gallery.images.forms import GenerateForm
from gallery.models import Preferences
from jobs import catalog

OPENAI_EDIT = "openai/gpt-image-1:edit"


def names(fields) -> list[str]:
    return [f.name for f in fields]


def test_the_most_used_options_go_on_the_first_line(alice):
    form = GenerateForm(user=alice, model_id="sandbox/flux-sync")
    assert {"p_image_size", "p_num_images"} <= set(names(form.quick_fields()))
    assert "p_seed" in names(form.more_fields())
    assert not set(names(form.quick_fields())) & set(names(form.more_fields()))


def test_every_field_of_every_model_has_one_place(alice, settings):
    settings.AIMLAPI_API_KEY = "key"
    for model in catalog.offered():
        form = GenerateForm(user=alice, model_id=model.id)
        placed = names(form.quick_fields()) + names(form.main_fields()) + names(form.more_fields())
        assert sorted(placed) == sorted(names(form.option_fields())), model.id


def test_pictures_and_required_inputs_are_never_folded_away(alice, settings):
    settings.AIMLAPI_API_KEY = "key"
    for model in catalog.offered():
        form = GenerateForm(user=alice, model_id=model.id)
        folded = {f.name for f in form.more_fields()}
        for param in model.options:
            if param.required or param.type in ("image", "images"):
                assert f"p_{param.name}" not in folded, (model.id, param.name)
    edit = GenerateForm(user=alice, model_id=OPENAI_EDIT)
    assert {"p_image", "p_mask"} <= set(names(edit.main_fields()))


def test_options_start_folded_until_the_person_leaves_them_open(alice):
    assert GenerateForm(user=alice).options_open is False
    Preferences.objects.create(user=alice, options_open=True)
    assert GenerateForm(user=alice).options_open is True


def test_an_error_in_a_folded_field_opens_the_options(alice):
    data = {"model": "sandbox/flux-sync", "prompt": "a fox", "p_seed": "not a number"}
    form = GenerateForm(data, user=alice)
    assert not form.is_valid() and "p_seed" in form.errors
    assert form.options_open is True


@pytest.mark.parametrize("shown", ["1", "0"])
def test_the_page_renders_the_disclosure_as_kept(alice_client, alice, shown):
    Preferences.objects.create(user=alice, options_open=shown == "1")
    page = alice_client.get("/").content.decode()
    start = page.index('<details class="more-options"')
    tag = page[start : page.index(">", start)]
    assert f'data-open="{shown}"' in tag
    assert (" open" in tag.split("data-open")[1]) is (shown == "1")
