"""A team's prompt library: presets (a model, a prompt template, parameters) and styles.

Prompt history needs no table of its own: it is a person's generations, searched (history.py).
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from gallery.teams.models import Team, one_line

SUBJECT = "{subject}"


class LibraryQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> "LibraryQuerySet":
        """What the teams the person is in have saved (a membership is once per team)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)


class LibraryItem(models.Model):
    """What presets and styles share: a name, unique in the team (each declares its `team`), and
    who saved it when."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, validators=[one_line])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LibraryQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="%(class)s_name_once_per_team")
        ]

    def __str__(self) -> str:
        return self.name


class Preset(LibraryItem):
    """A starting point the whole team shares. The prompt is a template: `{subject}` stands
    for what the person wants this time. `params` are under the provider's own names, as a
    generation keeps them, without pictures (those belong to one generation)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="presets")
    model_id = models.CharField(max_length=200)
    prompt = models.TextField(blank=True, max_length=4000)
    params = models.JSONField(default=dict, blank=True)

    def fill(self, subject: str) -> str:
        """The prompt for a subject; a template without the placeholder is used as it is."""
        return self.prompt.replace(SUBJECT, subject.strip())


class Style(LibraryItem):
    """Words added to a prompt (a look, a medium), and/or a negative prompt for the models
    that take one."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="styles")
    suffix = models.TextField(
        "added to the prompt", blank=True, max_length=1000, help_text="Appended after a comma."
    )
    negative = models.TextField(
        "negative prompt",
        blank=True,
        max_length=1000,
        help_text="Used only with models that take a negative prompt.",
    )

    def applied(self, prompt: str, negative: Any) -> tuple[str, str | None]:
        """(prompt, negative prompt) with this style added; the negative is None when the
        model takes none (`negative` is None then too)."""
        prompt = prompt.strip()
        if self.suffix and self.suffix not in prompt:
            prompt = f"{prompt}, {self.suffix}" if prompt else self.suffix
        if negative is None:
            return prompt, None
        negative = str(negative or "").strip()
        if self.negative and self.negative not in negative:
            negative = f"{negative}, {self.negative}" if negative else self.negative
        return prompt, negative
