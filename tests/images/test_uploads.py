"""Upload limits hold while the body streams in: per file, per request, and in number of files."""

import os
import random
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.template.defaultfilters import filesizeformat
from django.test import RequestFactory
from django.utils import timezone

from gallery.images.forms import GenerateForm, save_upload
from gallery.images.uploads import CappedUploadHandler, TooLarge
from gallery.models import Budget, Generation, InputImage, OverBudget, personal_team
from jobs import catalog, cleanup, images
from tests.factories import make_generation, png_bytes

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
    settings.FILE_UPLOAD_HANDLERS = [*kept, "tests.images.test_uploads.Recording"]
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


# --- What is kept of uploads, and for how long --------------------------------------------------


def stored_inputs(media_root) -> list[Path]:
    return sorted((Path(media_root) / "inputs").glob("*")) if media_root else []


def pictures(count: int) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"{i}.png", png_bytes(), "image/png") for i in range(count)]


def test_a_generation_refused_by_a_budget_keeps_none_of_its_uploads(
    alice_client, alice, limits, media_root
):
    """The pictures were stored before the budgets were checked; the refusal rolled back their
    rows and left the files on disk, named by nothing."""
    Budget.objects.create(user=alice, usd_per_month=Decimal(0))
    data = {"model": "openai/gpt-image-1:edit", "prompt": "a fox", "p_image": pictures(16)}
    response = alice_client.post("/generate", data)
    assert response.status_code == 403
    assert not InputImage.objects.exists()
    assert stored_inputs(media_root) == []


def test_uploads_are_limited_per_person(alice_client, alice, bob, limits, settings, media_root):
    settings.UPLOAD_QUOTA_BYTES = 3 * len(png_bytes())
    for owner in (alice, alice, bob):  # bob's do not count against alice
        InputImage.objects.create(
            owner=owner,
            file="inputs/x.png",
            content_type="image/png",
            width=64,
            height=48,
            byte_size=len(png_bytes()),
            sha256="0" * 64,
        )
    data = {"model": "openai/gpt-image-1:edit", "prompt": "a fox", "p_image": pictures(2)}
    response = alice_client.post("/generate", data)
    assert response.status_code == 400
    most = filesizeformat(settings.UPLOAD_QUOTA_BYTES)
    assert f"would be more than the {most} each person may keep" in response.content.decode()
    assert InputImage.objects.filter(owner=alice).count() == 2
    assert not Generation.objects.exists() and stored_inputs(media_root) == []


def test_the_quota_holds_for_requests_that_race_each_other(alice, settings, media_root):
    """Checked only by the form, requests sent at once all passed: each stored its pictures."""
    settings.AIMLAPI_API_KEY = "aimlapi-key"
    settings.UPLOAD_QUOTA_BYTES = 3 * len(png_bytes())
    data = {"model": "openai/gpt-image-1:edit", "prompt": "a fox"}
    form = GenerateForm(data, {"p_image": pictures(2)}, user=alice)
    assert form.is_valid(), form.errors
    # Another request, checked at the same moment, stored its two pictures first.
    GenerateForm(data, {"p_image": pictures(2)}, user=alice).is_valid()
    InputImage.objects.bulk_create(
        InputImage(
            owner=alice,
            file=f"inputs/{i}.png",
            content_type="image/png",
            width=64,
            height=48,
            byte_size=len(png_bytes()),
            sha256="0" * 64,
        )
        for i in range(2)
    )
    with pytest.raises(OverBudget, match="each person may keep"):
        form.params()
    assert InputImage.objects.count() == 2 and stored_inputs(media_root) == []


def upload_for(owner, *, days_old: float = 2) -> InputImage:
    item = save_upload(owner, inspected(SimpleUploadedFile("in.png", png_bytes(), "image/png")))
    InputImage.objects.filter(pk=item.pk).update(
        created_at=timezone.now() - timedelta(days=days_old)
    )
    return item


def inspected(upload: SimpleUploadedFile) -> SimpleUploadedFile:
    upload.inspected = images.inspect(upload.read())  # type: ignore[attr-defined]
    return upload


def naming(owner, item: InputImage, status: str, *, ended_days_ago: float = 0, team=None):
    ended = timezone.now() - timedelta(days=ended_days_ago)
    return make_generation(
        owner,
        team=team or personal_team(owner),
        model_id="openai/gpt-image-1:edit",
        provider="aimlapi",
        params={"image": [{"upload": str(item.uuid)}]},
        status=status,
        finished_at=None if status in Generation.IN_FLIGHT else ended,
    )


def test_uploads_no_generation_can_send_any_more_are_removed_after_a_day(alice, bob, media_root):
    Status = Generation.Status
    done = upload_for(alice)
    naming(alice, done, Status.SUCCEEDED)
    running = upload_for(alice)
    naming(alice, running, Status.RUNNING)
    to_retry = upload_for(alice)
    naming(alice, to_retry, Status.FAILED, ended_days_ago=1)
    too_late = upload_for(alice)
    naming(alice, too_late, Status.CANCELLED, ended_days_ago=8)
    upload_for(alice)  # named by no generation
    fresh = upload_for(alice, days_old=0.5)
    # Bob retried alice's failed generation: his row shares her file, which stays for him.
    shared = upload_for(alice)
    naming(alice, shared, Status.SUCCEEDED)
    bobs = InputImage.objects.create(
        owner=bob,
        **{
            f: getattr(shared, f)
            for f in ("file", "content_type", "width", "height", "byte_size", "sha256")
        },
    )
    naming(bob, bobs, Status.FAILED)

    assert cleanup.purge_unused_uploads(timezone.now()) == 4
    kept = set(InputImage.objects.values_list("pk", flat=True))
    assert kept == {running.pk, to_retry.pk, fresh.pk, bobs.pk}
    files = {f"inputs/{p.name}" for p in stored_inputs(media_root)}
    assert files == {i.file.name for i in (running, to_retry, fresh, bobs)}


def test_stored_files_no_upload_names_are_removed_after_a_day(alice, media_root):
    kept = upload_for(alice, days_old=0)
    orphans = [default_storage.save(f"inputs/{name}.png", ContentFile(b"x")) for name in "ab"]
    old = time.time() - 2 * 86400
    os.utime(Path(media_root) / orphans[0], (old, old))
    os.utime(Path(media_root) / kept.file.name, (old, old))
    assert cleanup.purge_orphan_inputs(timezone.now() - timedelta(days=1)) == 1
    assert {f"inputs/{p.name}" for p in stored_inputs(media_root)} == {kept.file.name, orphans[1]}
