"""The states a generation goes through."""

from django.db import models


class GenerationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SUBMITTED = "submitted", "Submitted"
    RUNNING = "running", "Running"
    FETCHING = "fetching", "Downloading"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


IN_FLIGHT = (
    GenerationStatus.QUEUED,
    GenerationStatus.SUBMITTED,
    GenerationStatus.RUNNING,
    GenerationStatus.FETCHING,
)
