"""Copy media from a local folder into the bucket: resumable, idempotent, every copy checked.

Each file is one step that can be repeated: an object already in the bucket with the right
SHA-256 is left alone, so a copy cut short is simply run again. Originals and uploads are
checked against the SHA-256 their row recorded when they were stored; thumbnails have no
recorded hash, so their copy is checked against the local file's.

The hash is kept on each object it copies (`x-amz-meta-sha256`), so a second run checks an
object with one HEAD request; an object without it (stored by Atelier itself) is read back.
"""

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError
from django.core.files.storage import Storage

from gallery.models import Image, InputImage
from webapp.storage import CHUNK

COPIED, PRESENT, MISSING, MISMATCH = "copied", "already there", "missing locally", "mismatched"


@dataclass(frozen=True)
class Item:
    name: str  # the storage name, as in the row's FileField
    content_type: str
    sha256: str  # what the row recorded, or "" when it recorded none


def items() -> Iterator[Item]:
    """Every stored file a row names: originals and thumbnails, then uploaded pictures."""
    rows = Image.objects.values_list(
        "original", "thumbnail", "thumbnail_small", "content_type", "sha256"
    )
    for original, thumbnail, small, content_type, sha256 in rows.iterator():
        yield Item(original, content_type, sha256)
        for name in (thumbnail, small):
            if name:
                yield Item(name, "image/webp", "")
    uploads = InputImage.objects.values_list("file", "content_type", "sha256")
    for name, content_type, sha256 in uploads.iterator():
        yield Item(name, content_type, sha256)


def copy_all(
    source: Path, storage: Storage, found: Iterable[Item], report: Callable[[str], None]
) -> Counter:
    """Copy each item from `source` into the bucket behind `storage`; count the outcomes and
    report each problem in a sentence."""
    outcomes: Counter = Counter()
    for item in found:
        outcome = copy_one(source, storage, item)
        outcomes[outcome] += 1
        if outcome == MISSING:
            report(f"{item.name}: not in {source} and not in the bucket.")
        elif outcome == MISMATCH:
            report(f"{item.name}: its SHA-256 does not match the row's; not copied.")
    return outcomes


def copy_one(source: Path, storage: Storage, item: Item) -> str:
    obj = storage.bucket.Object(storage._normalize_name(item.name))  # type: ignore[attr-defined]
    local = source / item.name
    if _in_bucket(obj):
        expected = item.sha256 or (_file_hash(local) if local.is_file() else "")
        if not expected or obj.metadata.get("sha256") == expected:
            return PRESENT
        if _object_hash(obj) == expected:
            return PRESENT
    if not local.is_file():
        return MISSING
    digest = _file_hash(local)
    if item.sha256 and digest != item.sha256:
        return MISMATCH  # the local file is not what was stored: copying it would hide that
    with local.open("rb") as f:
        obj.upload_fileobj(
            f, ExtraArgs={"ContentType": item.content_type, "Metadata": {"sha256": digest}}
        )
    obj.reload()
    return COPIED if _object_hash(obj) == digest else MISMATCH


def _in_bucket(obj) -> bool:
    try:
        obj.load()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _file_hash(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _object_hash(obj) -> str:
    """The SHA-256 of the object as the bucket sends it back, read in pieces."""
    digest = hashlib.sha256()
    body = obj.get()["Body"]
    for chunk in body.iter_chunks(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
