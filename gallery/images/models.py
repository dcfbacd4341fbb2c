"""Galleries, generations and their images, uploaded pictures and favorites."""

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from gallery.images.links import ImageLinks
from gallery.images.status import IN_FLIGHT, GenerationStatus
from gallery.teams.models import Membership, Team
from gallery.usage.models import Usage
from gallery.webhooks import events
from jobs import catalog
from webapp import live


class GalleryQuerySet(models.QuerySet["Gallery"]):
    def visible_to(self, user) -> "GalleryQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)

    def editable_by(self, user) -> "GalleryQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(
            team__memberships__user=user,
            team__memberships__role__in=(Membership.Role.OWNER, Membership.Role.EDITOR),
        )


class Gallery(models.Model):
    """A board of images, belonging to a team (a person's own, or a shared one)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="galleries")
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = GalleryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "galleries"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("gallery:gallery-detail", args=[self.uuid])


class GenerationQuerySet(models.QuerySet["Generation"]):
    def visible_to(self, user) -> "GenerationQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)

    def in_flight(self) -> "GenerationQuerySet":
        return self.filter(status__in=Generation.IN_FLIGHT)


class Generation(models.Model):
    Status = GenerationStatus
    IN_FLIGHT = IN_FLIGHT
    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # The order states move in; a transition may only go to a later one.
    ORDER = (Status.QUEUED, Status.SUBMITTED, Status.RUNNING, Status.FETCHING)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="generations")
    gallery = models.ForeignKey(
        Gallery, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    model_id = models.CharField(max_length=200)
    provider = models.CharField(max_length=20)
    prompt = models.TextField()
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    provider_task_id = models.CharField(max_length=300, blank=True)
    poll_url = models.CharField(max_length=500, blank=True)
    # What the provider answered, waiting to be downloaded: [{"url": ...} | {"b64": ...}].
    outputs = models.JSONField(default=list, blank=True)
    # What the provider told about the result: seed, revised prompt, timings, usage.
    provider_meta = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # How many times it was claimed for submission, and until when the last claim holds.
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    # The API token it was asked for with, if any: such images are "made through the API".
    api_token = models.ForeignKey(
        "gallery.ApiToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generations",
    )
    # One prompt tried on several models at once shares a batch.
    batch = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # When the request that may make the provider do paid work was sent, written before it is
    # sent; cleared when the provider refused it or it never left. Settling charges for it.
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the provider's answer with the result arrived (downloading starts).
    result_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last time the pipeline moved or touched it; the sweeper looks for rows left untouched.
    touched_at = models.DateTimeField(default=timezone.now)
    deadline_at = models.DateTimeField(null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="generation_owner_recent"),
            models.Index(fields=["team", "-created_at", "-id"], name="generation_team_recent"),
            models.Index(fields=["status", "created_at"], name="generation_status_age"),
            # The model's latest generations: the "Made with" filter, the learned poll time.
            models.Index(fields=["model_id", "-created_at"], name="generation_model_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id}: {self.prompt[:40]}"

    def save(self, *args, **kwargs) -> None:
        if self.deadline_at is None:
            model = catalog.get(self.model_id)
            seconds = (model and model.deadline) or settings.GENERATION_DEADLINE
            self.deadline_at = self.created_at + timedelta(seconds=seconds)
        super().save(*args, **kwargs)
        live.bump(self.team_id)

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT

    @cached_property
    def live_images(self) -> list["Image"]:
        """Its images that are not deleted, hidden ones included so a card can count them.

        Lists of cards prefetch these in one query with `card_images()`.
        """
        return list(self.images.filter(deleted_at__isnull=True))

    @property
    def shown_images(self) -> list["Image"]:
        """What its card shows: never an image an admin has hidden."""
        return [image for image in self.live_images if image.hidden_at is None]

    @property
    def hidden_count(self) -> int:
        return sum(1 for image in self.live_images if image.hidden_at is not None)

    @property
    def step(self) -> int:
        """How far along it is, 1 to 4, for the progress indicator."""
        if self.status in self.ORDER:
            return self.ORDER.index(self.status) + 1
        return len(self.ORDER)

    @property
    def queue_seconds(self) -> float | None:
        if self.submitted_at is None:
            return None
        return (self.submitted_at - self.created_at).total_seconds()

    @property
    def total_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()

    def advance(self, from_status: str, to_status: str, **fields) -> bool:
        """Move from one state to a later one by compare-and-set; False if someone else moved it."""
        assert self._is_forward(from_status, to_status), (from_status, to_status)
        fields.setdefault("touched_at", timezone.now())
        if to_status in self.TERMINAL:
            return self._finish(to_status, (from_status,), **fields)
        # One UPDATE is atomic by itself; only the final one shares a transaction with the ledger.
        updated = Generation.objects.filter(pk=self.pk, status=from_status).update(
            status=to_status, **fields
        )
        if updated:
            self._set(status=to_status, **fields)
            live.bump(self.team_id)
        return updated == 1

    def _finish(self, status: str, from_statuses: tuple[str, ...] = IN_FLIGHT, **fields) -> bool:
        """End it (succeeded, failed or cancelled) from one of `from_statuses`, settling its
        ledger row in the same transaction; False if it had already left them."""
        with transaction.atomic():
            updated = Generation.objects.filter(pk=self.pk, status__in=from_statuses).update(
                status=status, **fields
            )
            if updated:
                self._set(status=status, **fields)
                Usage.settle(self)
                live.bump(self.team_id)
                events.generation_finished(self)
        return updated == 1

    def _set(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self, name, value)

    def touch(self) -> None:
        self.touched_at = timezone.now()
        Generation.objects.filter(pk=self.pk).update(touched_at=self.touched_at)

    def mark_failed(self, reason: str, *, refused: bool = False) -> bool:
        """Fail from whatever in-flight state it is in; False if it had already ended.

        `refused`: the provider refused the request or never got it, so it did no work to pay
        for: forget that it was sent.
        """
        unsent: dict[str, Any] = {"sent_at": None} if refused else {}
        return self._finish(self.Status.FAILED, error=reason, finished_at=timezone.now(), **unsent)

    def mark_sent(self) -> bool:
        """Record, before sending, that the provider is about to get the request (its own write,
        so a cancel from now on is charged); False if it is no longer being submitted."""
        now = timezone.now()
        updated = Generation.objects.filter(pk=self.pk, status=self.Status.SUBMITTED).update(
            sent_at=now, touched_at=now
        )
        if updated:
            self.sent_at = self.touched_at = now
        return updated == 1

    def cancel(self) -> bool:
        """Stop it wherever it is; a result that arrives later is thrown away."""
        now = timezone.now()
        return self._finish(self.Status.CANCELLED, finished_at=now, touched_at=now)

    @classmethod
    def _is_forward(cls, from_status: str, to_status: str) -> bool:
        if from_status not in cls.IN_FLIGHT:
            return False
        if to_status in cls.TERMINAL:
            return True
        return cls.ORDER.index(to_status) > cls.ORDER.index(from_status)  # type: ignore[arg-type]


class ImageQuerySet(models.QuerySet["Image"]):
    def shown(self) -> "ImageQuerySet":
        """What may appear anywhere in the galleries: neither deleted nor hidden by an admin."""
        return self.filter(deleted_at__isnull=True, hidden_at__isnull=True)

    def visible_to(self, user) -> "ImageQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.shown().filter(team__memberships__user=user)

    def editable_by(self, user) -> "ImageQuerySet":
        return self.filter(gallery__in=Gallery.objects.editable_by(user))


class Image(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="images")
    # Where the image lives now; editors move it (or copy it) to another gallery.
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="images")
    # The gallery's team, kept on the row so a team's grid is one index range scan.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="images")
    # A copy shares its original's files and points back to it.
    copy_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    index = models.PositiveSmallIntegerField()
    original = models.FileField(max_length=300)
    # WebP thumbnails: 768 px on the longest side, and 256 px for dense grids.
    thumbnail = models.FileField(max_length=300)
    thumbnail_small = models.FileField(max_length=300, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    thumb_width = models.PositiveIntegerField()
    thumb_height = models.PositiveIntegerField()
    content_type = models.CharField(max_length=40)
    byte_size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    seed = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Deleted images stay restorable for a while (Undo), then the sweeper removes them.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Hidden by an admin: kept, but shown nowhere in the galleries until an admin shows it again.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_reason = models.CharField(max_length=300, blank=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["generation", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "index"],
                condition=models.Q(copy_of__isnull=True),
                name="image_once_per_index",
            )
        ]
        indexes = [
            models.Index(fields=["team", "-created_at", "-uuid"], name="image_team_recent"),
            models.Index(fields=["gallery", "-created_at", "-uuid"], name="image_gallery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.generation_id}#{self.index}"

    def save(self, *args, **kwargs) -> None:
        if self.gallery_id:
            self.team_id = self.gallery.team_id
        super().save(*args, **kwargs)
        live.bump(self.team_id)

    def get_absolute_url(self) -> str:
        return reverse("gallery:image-detail", args=[self.uuid])

    def delete(self, *args, **kwargs):
        team_id = self.team_id
        deleted = super().delete(*args, **kwargs)
        live.bump(team_id)
        return deleted

    @property
    def is_shown(self) -> bool:
        """Whether links to it may be offered (feeds, notifications): not deleted, not hidden."""
        return self.deleted_at is None and self.hidden_at is None

    def metadata(self) -> dict:
        """How it was made and where it is kept: the export's metadata files, a PNG's text."""
        generation = self.generation
        return {
            "image": str(self.uuid),
            "file": f"{self.uuid}.{(self.original.name or '').rsplit('.', 1)[-1]}",
            "prompt": generation.prompt,
            "model": generation.model_id,
            "provider": generation.provider,
            "parameters": generation.params,
            "seed": self.seed,
            "author": str(generation.owner),
            "gallery": self.gallery.name,
            "created": self.created_at.isoformat(),
            "width": self.width,
            "height": self.height,
            "sha256": self.sha256,
        }

    def move_to(self, gallery: "Gallery") -> None:
        live.bump(self.team_id)  # the team it leaves; save() tells the one it joins
        self.gallery, self.team_id = gallery, gallery.team_id
        self.save(update_fields=["gallery", "team"])

    def copy_to(self, gallery: "Gallery") -> "Image":
        """A copy in another gallery, sharing the same stored files."""
        return Image.objects.create(
            generation=self.generation,
            gallery=gallery,
            copy_of=self.copy_of or self,
            index=self.index,
            original=self.original.name,
            thumbnail=self.thumbnail.name,
            thumbnail_small=self.thumbnail_small.name,
            width=self.width,
            height=self.height,
            thumb_width=self.thumb_width,
            thumb_height=self.thumb_height,
            content_type=self.content_type,
            byte_size=self.byte_size,
            sha256=self.sha256,
            seed=self.seed,
        )

    @cached_property
    def links(self) -> ImageLinks:
        """Its page, files, favorite form and "use these settings", for a grid tile."""
        return ImageLinks.of(self.uuid, self.generation.uuid)

    @property
    def small_width(self) -> int:
        """Width of the 256 px thumbnail, for srcset."""
        longest = max(self.thumb_width, self.thumb_height)
        return self.thumb_width if longest <= 256 else round(self.thumb_width * 256 / longest)


def card_images() -> models.Prefetch:
    """Prefetch for a list of generation cards: their live images in one query."""
    return models.Prefetch(
        "images", queryset=Image.objects.filter(deleted_at__isnull=True), to_attr="live_images"
    )


class InputImageQuerySet(models.QuerySet["InputImage"]):
    def visible_to(self, user) -> "InputImageQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)


class InputImage(models.Model):
    """A picture someone uploaded to edit or use as a reference; checked by decoding it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="input_images"
    )
    file = models.FileField(max_length=300)
    filename = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    objects = InputImageQuerySet.as_manager()

    def __str__(self) -> str:
        return self.filename or str(self.uuid)


class Favorite(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favorites"
    )
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="favorites")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "image"], name="favorite_once")]

    def __str__(self) -> str:
        return f"{self.user} ♥ {self.image_id}"
