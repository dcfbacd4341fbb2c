import secrets
import unicodedata
import uuid
from contextlib import nullcontext
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property


def one_line(value: str) -> None:
    """A name goes into mail subjects and page titles: one line, nothing that steers the text."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise ValidationError(
            "A name cannot hold line breaks, tabs or other control characters.",
            code="control_characters",
        )


class TeamQuerySet(models.QuerySet["Team"]):
    def of(self, user) -> "TeamQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Team(models.Model):
    """A group that shares galleries. Every user also has a personal one, just for them."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    personal = models.BooleanField(default=False)
    # Provider keys of the team's own, Fernet-encrypted (FIELD_ENCRYPTION_KEY); never shown whole.
    aimlapi_key = models.TextField(blank=True)
    relay_key = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["-personal", "name"]

    def __str__(self) -> str:
        return self.name

    def role_of(self, user) -> str | None:
        membership = self.memberships.filter(user=user).first()
        return membership.role if membership else None

    def default_gallery(self) -> "Gallery":
        gallery = self.galleries.order_by("created_at", "id").first()
        return gallery or Gallery.objects.create(team=self, name="Main")


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_once_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.EDITOR)


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
            from jobs import catalog

            model = catalog.get(self.model_id)
            seconds = (model and model.deadline) or settings.GENERATION_DEADLINE
            self.deadline_at = self.created_at + timedelta(seconds=seconds)
        super().save(*args, **kwargs)

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
        final = to_status in self.TERMINAL
        # One UPDATE is atomic by itself; the final one shares a transaction with the ledger.
        with transaction.atomic() if final else nullcontext():
            updated = Generation.objects.filter(pk=self.pk, status=from_status).update(
                status=to_status, **fields
            )
            if updated:
                self.status = to_status
                for name, value in fields.items():
                    setattr(self, name, value)
                if final:
                    Usage.settle(self)
        return updated == 1

    def touch(self) -> None:
        self.touched_at = timezone.now()
        Generation.objects.filter(pk=self.pk).update(touched_at=self.touched_at)

    def mark_failed(self, reason: str, *, refused: bool = False) -> bool:
        """Fail from whatever in-flight state it is in; False if it had already ended.

        `refused`: the provider refused the request or never got it, so it did no work to pay
        for: forget that it was sent.
        """
        now = timezone.now()
        unsent = {"sent_at": None} if refused else {}
        with transaction.atomic():
            updated = Generation.objects.filter(pk=self.pk, status__in=self.IN_FLIGHT).update(
                status=self.Status.FAILED, error=reason, finished_at=now, **unsent
            )
            if updated:
                self.status, self.error, self.finished_at = self.Status.FAILED, reason, now
                Usage.settle(self)
        return updated == 1

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
        with transaction.atomic():
            updated = Generation.objects.filter(pk=self.pk, status__in=self.IN_FLIGHT).update(
                status=self.Status.CANCELLED, finished_at=now, touched_at=now
            )
            if updated:
                self.status, self.finished_at = self.Status.CANCELLED, now
                Usage.settle(self)
        return updated == 1

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

    def get_absolute_url(self) -> str:
        return reverse("gallery:image-detail", args=[self.uuid])

    @property
    def is_shown(self) -> bool:
        """Whether links to it may be offered (feeds, notifications): not deleted, not hidden."""
        return self.deleted_at is None and self.hidden_at is None

    def move_to(self, gallery: "Gallery") -> None:
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


class Comment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:40]


class Notification(models.Model):
    """Something a person should know: a mention, for now."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.ForeignKey(Comment, null=True, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.text


class Activity(models.Model):
    """The team feed: who did what, and when."""

    class Verb(models.TextChoices):
        GENERATED = "generated", "generated"
        COMMENTED = "commented", "commented on"
        MOVED = "moved", "moved"
        COPIED = "copied", "copied"
        JOINED = "joined", "joined the team"
        ROLE = "role", "changed a role"
        REMOVED = "removed", "removed a member"
        INVITED = "invited", "invited someone"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=12, choices=Verb.choices)
    summary = models.CharField(max_length=300)
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.actor} {self.get_verb_display()} {self.summary}"


class Invitation(models.Model):
    """A link (optionally mailed) that lets someone join a team with a role, until it expires."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True)
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.EDITOR
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation to {self.team}"

    def save(self, *args, **kwargs) -> None:
        # Made for every invitation, wherever it is made: the admin's form leaves the token out.
        if not self.token:
            self.token = secrets.token_urlsafe(32)
        super().save(*args, **kwargs)

    @property
    def usable(self) -> bool:
        return (
            self.revoked_at is None
            and self.accepted_at is None
            and self.expires_at > timezone.now()
        )


NEW_USER_HELP = (
    "Given to each account made from now on as a budget of its own, across all the teams the "
    "person is in (change it per person under Budgets). Empty: none."
)


class SiteSettings(models.Model):
    """Switches an admin flips in the admin site."""

    # Closed unless an admin opens it: each account may spend the site's provider keys.
    # Invitation links let people sign up either way.
    signup_enabled = models.BooleanField(
        "Sign-up open to anyone",
        default=False,
        help_text="People with an invitation link can sign up even when this is off.",
    )
    site_usd_per_month = models.DecimalField(
        "Site spending limit (US dollars per month)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="All people and teams together. Empty: no limit.",
    )
    # Limits for every person and every team without a budget of their own (empty: no limit).
    user_images_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Images a person may make per day, across their teams."
    )
    user_usd_per_month = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="US dollars per month."
    )
    team_images_per_day = models.PositiveIntegerField(null=True, blank=True)
    team_usd_per_month = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Written into a Budget of each new account's own, which follows the person into every team
    # (one on their personal team would not: a team they make escaped it); an admin can change
    # it later under Budgets.
    new_user_images_per_day = models.PositiveIntegerField(
        "Images per day", null=True, blank=True, help_text=NEW_USER_HELP
    )
    new_user_usd_per_month = models.DecimalField(
        "US dollars per month",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=NEW_USER_HELP,
    )

    class Meta:
        verbose_name_plural = "site settings"

    def __str__(self) -> str:
        return "Site settings"

    @classmethod
    def load(cls) -> "SiteSettings":
        return cls.objects.get_or_create(pk=1)[0]


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_users_a_personal_space(sender, instance, created: bool, **kwargs) -> None:
    if created and not kwargs.get("raw"):
        team = Team.objects.create(name=instance.get_username(), personal=True)
        Membership.objects.create(team=team, user=instance, role=Membership.Role.OWNER)
        Gallery.objects.create(team=team, name="Main", created_by=instance)
        site = SiteSettings.objects.filter(pk=1).first()
        budget = {
            "images_per_day": site and site.new_user_images_per_day,
            "usd_per_month": site and site.new_user_usd_per_month,
        }
        if any(value is not None for value in budget.values()):
            Budget.objects.create(user=instance, **budget)


def personal_team(user) -> Team:
    return Team.objects.get(personal=True, memberships__user=user)


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


class Price(models.Model):
    """What one image of a model costs, for an estimate when the provider reports no figure.

    `by_param` holds prices that depend on a parameter, per image: {"quality": {"high": "0.17"}}.
    With `per_megapixel`, the price is per megapixel of the requested size instead.
    """

    model_id = models.CharField(max_length=200, unique=True)
    usd_per_image = models.DecimalField(max_digits=10, decimal_places=6)
    per_megapixel = models.BooleanField(default=False)
    by_param = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where the figure comes from.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_id"]

    def __str__(self) -> str:
        return f"{self.model_id}: ${self.usd_per_image}"


def by_param_problem(value: object) -> str | None:
    """What is wrong with a `Price.by_param` mapping, in words for the admin; None if nothing.

    A value may hold a second mapping instead of a price, for a price that depends on two
    options: {"quality": {"high": {"size": {"1024x1536": "0.25"}}}}.
    """
    if not isinstance(value, dict):
        return "Write an object: {parameter: {value: price}}."
    for name, choices in value.items():
        if not isinstance(choices, dict) or not choices:
            return f'"{name}" needs an object of prices by value, like {{"high": "0.17"}}.'
        for choice, price in choices.items():
            if isinstance(price, dict):
                if problem := by_param_problem(price):
                    return problem
                continue
            if isinstance(price, bool) or not isinstance(price, int | float | str):
                return f'The price of {name}="{choice}" must be a number, like "0.17".'
            try:
                amount = Decimal(str(price))
            except ArithmeticError:
                return f'The price of {name}="{choice}" must be a number, like "0.17".'
            if not amount.is_finite() or amount < 0:
                return f'The price of {name}="{choice}" must be zero or more.'
    return None


class Budget(models.Model):
    """Limits for one team, or for one person across all their teams; empty means the default."""

    team = models.OneToOneField(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="budget",
    )
    images_per_day = models.PositiveIntegerField(null=True, blank=True)
    usd_per_month = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__isnull=True, user__isnull=False)
                | models.Q(team__isnull=False, user__isnull=True),
                name="budget_for_team_or_user",
            )
        ]

    def __str__(self) -> str:
        return f"budget of {self.team or self.user}"

    def clean(self) -> None:
        # The database constraint says the same, but in words no one should have to decode.
        if (self.team_id is None) == (self.user_id is None):
            raise ValidationError(
                "A budget is for one team or for one person: choose either a team or a user, "
                "not both and not neither."
            )


class Usage(models.Model):
    """The ledger: one row per generation, kept when the generation, team or person is gone.

    Written when the generation is made (with the estimated cost, which counts against budgets
    while it runs) and settled when it ends: outcome, images made, times, and the cost the
    provider reported, or else the estimate.
    """

    class Source(models.TextChoices):
        REPORTED = "reported", "Reported by the provider"
        ESTIMATED = "estimated", "Estimated from the price table"
        FAMILY = "family", "Estimated at the highest price of its family"
        UNPRICED = "unpriced", "No price known"
        FREE = "free", "Not charged"

    generation = models.OneToOneField(
        Generation, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    user_name = models.CharField(max_length=150)
    team_name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20)
    model_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    # Requested while in flight; the number made once it ends.
    images = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(
        max_length=12, choices=Generation.Status.choices, default=Generation.Status.QUEUED
    )
    error = models.CharField(max_length=300, blank=True)
    queue_seconds = models.FloatField(null=True, blank=True)
    provider_seconds = models.FloatField(null=True, blank=True)
    download_seconds = models.FloatField(null=True, blank=True)
    total_seconds = models.FloatField(null=True, blank=True)
    estimated_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    reported_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    reported_credits = models.BigIntegerField(null=True, blank=True)
    # What counts: the reported figure when there is one, else the estimate.
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    cost_source = models.CharField(max_length=10, choices=Source.choices)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "usage"
        indexes = [
            models.Index(fields=["created_at"], name="usage_time"),
            models.Index(fields=["team", "created_at"], name="usage_team_time"),
            models.Index(fields=["user", "created_at"], name="usage_user_time"),
            models.Index(fields=["model_id", "created_at"], name="usage_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} / {self.model_id} ({self.outcome})"

    @classmethod
    def settle(cls, generation: "Generation") -> None:
        from gallery import usage

        usage.settle(generation)


class UsageDay(models.Model):
    """Daily roll-ups of the ledger, so the usage dashboard need not read every row.

    One row per day and `grain`: "all" is keyed by team, person, provider and model (any filter
    can be answered from it); "model", "team", "user" and "team_model" keep only those keys, so
    most views read a few rows per day; "failure" (keyed like "all") and "reason" (the reason
    alone) count failures by reason. Rebuilt whole, a day at a time, from the ledger
    (`gallery.dashboard.rollup`); `UsageRollup` says which days are done.
    """

    day = models.DateField()
    grain = models.CharField(max_length=12)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    team_name = models.CharField(max_length=100, blank=True)
    user_name = models.CharField(max_length=150, blank=True)
    provider = models.CharField(max_length=20, blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    generations = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal(0))
    reported_usd = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal(0))
    estimated_usd = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal(0))
    timed = models.PositiveIntegerField(default=0)
    total_seconds = models.FloatField(default=0.0)
    # Succeeded generations by total time: {"bucket index": count}, see dashboard.BUCKETS.
    latency = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["grain", "day"], name="usageday_grain_day"),
            models.Index(fields=["grain", "team", "day"], name="usageday_team_day"),
            models.Index(fields=["grain", "user", "day"], name="usageday_user_day"),
            models.Index(fields=["grain", "model_id", "day"], name="usageday_model_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.grain}"


class UsageRollup(models.Model):
    """A day whose roll-ups are built: the dashboard reads `UsageDay` for it, not the ledger."""

    day = models.DateField(primary_key=True)
    built_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.day)
