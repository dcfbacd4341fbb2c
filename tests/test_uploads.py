"""Upload limits hold while the body streams in: per file, per request, and in number of files."""

import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import RequestFactory

from gallery.models import Generation, InputImage
from gallery.uploads import CappedUploadHandler, TooLarge
from jobs import catalog
from tests.factories import png_bytes

LIMIT = 100_000
CHUNK = 64 * 1024


class Recording(TemporaryFileUploadHandler):
    """Stores files as Django does, and remembers the most bytes it was handed for one file."""

    most = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.got = 0

    def receive_data_chunk(self, raw_data, start):
        self.got += len(raw_data)
        Recording.most = max(Recording.most, self.got)
        return super().receive_data_chunk(raw_data, start)


@pytest.fixture
def limits(settings):
    settings.UPLOAD_MAX_BYTES = LIMIT
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    # The configured handlers, with Django's storing ones replaced by one that records.
    kept = [h for h in settings.FILE_UPLOAD_HANDLERS if not h.startswith("django.")]
    settings.FILE_UPLOAD_HANDLERS = [*kept, "tests.test_uploads.Recording"]
    Recording.most = 0


def feed(handler, size: int) -> int:
    """Stream `size` bytes through the handler as the multipart parser does; bytes passed on."""
    handler.new_file("p_image_url", "big.png", "image/png", None)
    passed = 0
    for start in range(0, size, CHUNK):
        chunk = b"x" * min(CHUNK, size - start)
        passed += len(handler.receive_data_chunk(chunk, start) or b"")
    return passed


def test_the_handler_passes_on_nothing_past_the_limit(limits):
    handler = CappedUploadHandler(RequestFactory().post("/"))
    assert feed(handler, 10 * LIMIT) <= LIMIT  # the storing handlers never see the rest
    refused = handler.file_complete(10 * LIMIT)
    assert isinstance(refused, TooLarge)
    assert (refused.name, refused.size, refused.read()) == ("big.png", 10 * LIMIT, b"")


def test_the_handler_leaves_a_file_at_the_limit_to_be_stored(limits):
    handler = CappedUploadHandler(RequestFactory().post("/"))
    assert feed(handler, LIMIT) == LIMIT
    assert handler.file_complete(LIMIT) is None  # the next handler's file is the upload


def test_an_upload_over_the_limit_is_refused_with_the_form_kept(alice_client, limits):
    big = SimpleUploadedFile("holiday.png", random.randbytes(5 * LIMIT), "image/png")
    data = {"model": "flux/dev/image-to-image", "prompt": "a fox", "p_image_url": big}
    response = alice_client.post("/generate", data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "holiday.png is larger than 97.7\xa0KB; use a smaller picture." in page
    assert "a fox</textarea>" in page
    assert Recording.most <= LIMIT  # nothing past the limit was stored, even for a moment
    assert not Generation.objects.exists() and not InputImage.objects.exists()


def test_an_upload_under_the_limit_goes_through(alice_client, limits, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.submit, "delay", lambda pk: None)
    small = SimpleUploadedFile("fox.png", png_bytes(), "image/png")
    data = {"model": "flux/dev/image-to-image", "prompt": "a fox", "p_image_url": small}
    assert alice_client.post("/generate", data).status_code == 302
    assert InputImage.objects.get().byte_size == len(png_bytes())


def test_a_request_over_the_total_limit_is_refused_unread(alice_client, limits, settings):
    settings.UPLOAD_REQUEST_MAX_BYTES = 3 * LIMIT
    files = [SimpleUploadedFile(f"{i}.png", b"x" * LIMIT, "image/png") for i in range(4)]
    data = {"model": "openai/gpt-image-1:edit", "prompt": "a fox", "p_image": files}
    response = alice_client.post("/generate", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "It was larger than 293.0\xa0KB in all; each picture may be at most 97.7\xa0KB." in page
    assert Recording.most == 0 and not Generation.objects.exists()


def test_too_many_files_get_a_page_that_says_so(alice_client, limits, settings):
    files = [SimpleUploadedFile(f"{i}.png", png_bytes(), "image/png") for i in range(21)]
    data = {"model": "openai/gpt-image-1:edit", "prompt": "a fox", "p_image": files}
    response = alice_client.post("/generate", data)
    assert response.status_code == 400
    assert "It sent more than 20 files at once." in response.content.decode()
    assert not Generation.objects.exists()


def test_the_file_count_limit_fits_the_most_inputs_a_model_takes(settings):
    def inputs(model: catalog.Model) -> int:
        return sum((p.max_items or 1) if p.type == "images" else 1 for p in model.image_params)

    most = max(inputs(model) for model in catalog.MODELS.values())
    assert most < settings.DATA_UPLOAD_MAX_NUMBER_FILES <= most + 5
