"""Limits on uploads that hold while the body streams in, not after it is on disk.

`CappedUploadHandler` comes first in FILE_UPLOAD_HANDLERS. It refuses a request whose declared
length is over UPLOAD_REQUEST_MAX_BYTES before anything is read, and counts each file's bytes as
they arrive: past UPLOAD_MAX_BYTES the rest of that file is read and dropped, never stored, and
the form receives a `TooLarge` stand-in that says how big it was, so the person gets an error
naming the file while everything else they sent is kept. Too many files in one request
(DATA_UPLOAD_MAX_NUMBER_FILES) is Django's own check; `bad_request` words both refusals.
"""

import io
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponseBadRequest
from django.template import loader
from django.template.defaultfilters import filesizeformat

from gallery.models import InputImage
from jobs import images

log = logging.getLogger(__name__)


class TooLarge(UploadedFile):
    """What the form gets for a file cut off at the limit: its name and size, none of its bytes."""

    def __init__(self, name: str, size: int, content_type: str) -> None:
        super().__init__(io.BytesIO(), name, content_type, size)


class RequestTooLarge(RequestDataTooBig):
    """A multipart request declaring more bytes than UPLOAD_REQUEST_MAX_BYTES: nothing is read."""


class CappedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > settings.UPLOAD_REQUEST_MAX_BYTES:
            raise RequestTooLarge(f"A request of {content_length} bytes, over the limit.")
        return None  # parse as usual, with the handlers after this one storing the files

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            return None  # dropped here: the handlers that store files never see it
        return raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.received <= settings.UPLOAD_MAX_BYTES:
            return None  # the next handler's stored file is the upload
        log.info("Upload %r refused: %d bytes", self.file_name, self.received)
        return TooLarge(self.file_name or "", self.received, self.content_type or "")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBadRequest:
    """The 400 page, saying in words what was wrong when it was the size of what was sent.

    Rendered without the request, so it works also for a request refused before the session
    and the user were read.
    """
    return HttpResponseBadRequest(loader.render_to_string("400.html", {"reason": why(exception)}))


def why(exception: Exception) -> str:
    if isinstance(exception, TooManyFilesSent):
        return f"It sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files at once."
    if isinstance(exception, RequestTooLarge):
        return (
            f"It was larger than {filesizeformat(settings.UPLOAD_REQUEST_MAX_BYTES)} in all; "
            f"each picture may be at most {filesizeformat(settings.UPLOAD_MAX_BYTES)}."
        )
    if isinstance(exception, RequestDataTooBig):
        return (
            f"Its text fields held more than "
            f"{filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}."
        )
    if isinstance(exception, TooManyFieldsSent):
        return "It sent too many form fields."
    return ""


def save_upload(owner: Any, upload: UploadedFile) -> InputImage:
    info: images.Inspected = upload.inspected  # type: ignore[attr-defined]
    upload.seek(0)
    data = upload.read()
    item = InputImage(
        owner=owner,
        filename=(upload.name or "")[:200],
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        byte_size=len(data),
        sha256=info.sha256,
    )
    ext = images.CONTENT_TYPES_EXT[info.content_type]
    item.file.save(f"inputs/{item.uuid}.{ext}", ContentFile(data), save=False)
    item.save()
    return item


def share_upload(item: InputImage, user: Any) -> InputImage:
    """An upload as `user` owns it: itself, or a new row for them sharing the stored file.

    An upload is sent only for its own owner, so someone retrying another person's generation
    sends their own reference to the same picture (stored once, as copies of an image are).
    """
    if item.owner_id == user.pk:
        return item
    fields = ("file", "filename", "content_type", "width", "height", "byte_size", "sha256")
    return InputImage.objects.create(owner=user, **{f: getattr(item, f) for f in fields})
