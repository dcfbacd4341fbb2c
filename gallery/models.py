import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class GenerationQuerySet(models.QuerySet["Generation"]):
    def visible_to(self, user) -> "GenerationQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def in_flight(self) -> "GenerationQuerySet":
        return self.filter(status__in=Generation.IN_FLIGHT)


class Generation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SUBMITTED = "submitted", "Submitted"
        RUNNING = "running", "Running"
        FETCHING = "fetching", "Downloading"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    IN_FLIGHT = (Status.QUEUED, Status.SUBMITTED, Status.RUNNING, Status.FETCHING)
    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # The order states move in; a transition may only go to a later one.
    ORDER = (Status.QUEUED, Status.SUBMITTED, Status.RUNNING, Status.FETCHING)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations"
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
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last time the pipeline moved or touched it; the sweeper looks for rows left untouched.
    touched_at = models.DateTimeField(default=timezone.now)
    deadline_at = models.DateTimeField(null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="generation_owner_recent"),
            models.Index(fields=["status", "created_at"], name="generation_status_age"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id}: {self.prompt[:40]}"

    def save(self, *args, **kwargs) -> None:
        if self.deadline_at is None:
            from jobs import catalog

            model = catalog.get(self.model_id)
            seconds = (model and model.deadline) or settings.GENERATION_DEADLINE
            self.deadline_at = self.created_at + timedelta(seconds=seconds)
        super().save(*args, **kwargs)

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT

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
        updated = Generation.objects.filter(pk=self.pk, status=from_status).update(
            status=to_status, **fields
        )
        if updated:
            self.status = to_status
            for name, value in fields.items():
                setattr(self, name, value)
        return updated == 1

    def touch(self) -> None:
        self.touched_at = timezone.now()
        Generation.objects.filter(pk=self.pk).update(touched_at=self.touched_at)

    def mark_failed(self, reason: str) -> bool:
        """Fail from whatever in-flight state it is in; False if it had already ended."""
        now = timezone.now()
        updated = Generation.objects.filter(pk=self.pk, status__in=self.IN_FLIGHT).update(
            status=self.Status.FAILED, error=reason, finished_at=now
        )
        if updated:
            self.status, self.error, self.finished_at = self.Status.FAILED, reason, now
        return updated == 1

    def cancel(self) -> bool:
        """Stop it wherever it is; a result that arrives later is thrown away."""
        now = timezone.now()
        updated = Generation.objects.filter(pk=self.pk, status__in=self.IN_FLIGHT).update(
            status=self.Status.CANCELLED, finished_at=now, touched_at=now
        )
        if updated:
            self.status, self.finished_at = self.Status.CANCELLED, now
        return updated == 1

    def make_retry(self) -> "Generation":
        """A new attempt with the same model, prompt and parameters."""
        return Generation.objects.create(
            owner=self.owner,
            model_id=self.model_id,
            provider=self.provider,
            prompt=self.prompt,
            params=self.params,
            retry_of=self,
        )

    @classmethod
    def _is_forward(cls, from_status: str, to_status: str) -> bool:
        if from_status not in cls.IN_FLIGHT:
            return False
        if to_status in cls.TERMINAL:
            return True
        return cls.ORDER.index(to_status) > cls.ORDER.index(from_status)  # type: ignore[arg-type]


class ImageQuerySet(models.QuerySet["Image"]):
    def visible_to(self, user) -> "ImageQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(generation__owner=user)


class Image(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="images")
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

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["generation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="image_once_per_index")
        ]

    def __str__(self) -> str:
        return f"{self.generation_id}#{self.index}"

    def get_absolute_url(self) -> str:
        return reverse("gallery:image-detail", args=[self.uuid])

    @property
    def small_width(self) -> int:
        """Width of the 256 px thumbnail, for srcset."""
        longest = max(self.thumb_width, self.thumb_height)
        return self.thumb_width if longest <= 256 else round(self.thumb_width * 256 / longest)


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
