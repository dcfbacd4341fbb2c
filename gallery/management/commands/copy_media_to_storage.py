"""Copy the media under MEDIA_ROOT into the bucket Atelier now stores into (webapp.media_copy)."""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from webapp import media_copy, storage


class Command(BaseCommand):
    help = (
        "Copy local media (originals, thumbnails, uploads) into the S3 bucket, checking each "
        "copy's SHA-256. Run it again after an interruption: what is already there is skipped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--source",
            type=Path,
            default=None,
            help="The folder to copy from (default: MEDIA_ROOT).",
        )

    def handle(self, *args, source: Path | None, **options) -> None:
        if not storage.is_remote():
            raise CommandError(
                "Media is stored on this disk, so there is no bucket to copy into: set "
                "AWS_STORAGE_BUCKET_NAME and the other AWS_* variables, then run this again."
            )
        source = source or Path(settings.MEDIA_ROOT)
        if not source.is_dir():
            raise CommandError(f"{source} is not a folder: name the old one with --source.")
        outcomes = media_copy.copy_all(
            source, default_storage, media_copy.items(), self.stderr.write
        )
        kinds = (media_copy.COPIED, media_copy.PRESENT, media_copy.MISSING, media_copy.MISMATCH)
        self.stdout.write(", ".join(f"{outcomes[kind]} {kind}" for kind in kinds) + ".")
        problems = outcomes[media_copy.MISSING] + outcomes[media_copy.MISMATCH]
        if problems:
            raise CommandError(f"{problems} file(s) were not copied; see the lines above.")
