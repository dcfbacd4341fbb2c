"""Personal API tokens: a person's key for scripts, acting in one team with their role there.

A token reads `atl_<prefix>_<secret>`. The prefix names the row (and is shown in the list); the
secret is 32 random bytes and only its SHA-256 is stored. A password hasher (PBKDF2, Argon2) is
slow on purpose, to make guessing a low-entropy password expensive; a 256-bit random secret
cannot be guessed, so slowness would protect nothing and would only cost every API request
hundreds of milliseconds of CPU, an easy way to overload the server. A plain digest also lets
the check be a constant-time comparison of two short strings.
"""

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from gallery.teams.models import Membership, Team, one_line
from gallery.usage.models import Usage

SCHEME = "atl"
# last_used_at is written at most this often per token: one write a minute, not one a request.
USED_EVERY = timedelta(minutes=1)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) from `atl_<prefix>_<secret>`; None for anything else."""
    scheme, _, rest = raw.strip().partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != SCHEME or not prefix or not secret or len(raw) > 200:
        return None
    return prefix, secret


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def of(self, user) -> "ApiTokenQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def with_usage(self, since: datetime) -> "ApiTokenQuerySet":
        """Each token with the images and dollars the ledger counts for it since `since`."""
        rows = (
            Usage.objects.filter(api_token=OuterRef("pk"), created_at__gte=since)
            .order_by()
            .values("api_token")
        )
        return self.annotate(
            images_used=Coalesce(Subquery(rows.annotate(n=Sum("images")).values("n")), 0),
            usd_used=Coalesce(
                Subquery(rows.annotate(usd=Sum("cost_usd")).values("usd")),
                Value(Decimal(0)),
                output_field=DecimalField(max_digits=16, decimal_places=6),
            ),
        )

    def live(self) -> "ApiTokenQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, validators=[one_line])
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    read_only = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({SCHEME}_{self.prefix}_…)"

    @classmethod
    def issue(
        cls,
        owner,
        team: Team,
        name: str,
        *,
        expires_at: datetime | None = None,
        read_only: bool = False,
    ) -> tuple["ApiToken", str]:
        """A new token and its full text, which is never stored and cannot be shown again."""
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        token = cls.objects.create(
            owner=owner,
            team=team,
            name=name,
            prefix=prefix,
            secret_hash=digest(secret),
            expires_at=expires_at,
            read_only=read_only,
        )
        return token, f"{SCHEME}_{prefix}_{secret}"

    @classmethod
    def find(cls, raw: str) -> "ApiToken | None":
        """The token this text is, whatever its state; None when it is no token of ours."""
        parts = parse(raw)
        if parts is None:
            return None
        token = cls.objects.select_related("owner", "team").filter(prefix=parts[0]).first()
        if token is None or not hmac.compare_digest(token.secret_hash, digest(parts[1])):
            return None
        return token

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired else "active"

    def role(self) -> str | None:
        """The owner's role in the token's team now (None once they left it): never cached,
        so a changed role or a removal counts from the next request."""
        return (
            Membership.objects.filter(team_id=self.team_id, user_id=self.owner_id)
            .values_list("role", flat=True)
            .first()
        )

    def revoke(self) -> bool:
        """Revoke it; False when it was revoked already."""
        now = timezone.now()
        updated = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if updated:
            self.revoked_at = now
        return updated == 1

    def mark_used(self) -> None:
        """Note the use, at most once every USED_EVERY (a conditional UPDATE, so two requests
        at once write it once)."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < USED_EVERY:
            return
        ApiToken.objects.filter(pk=self.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - USED_EVERY)
        ).update(last_used_at=now)
        self.last_used_at = now
