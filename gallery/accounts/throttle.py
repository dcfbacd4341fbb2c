"""How often one person may do each thing (settings.ACTION_RATES, GENERATE_RATE), in words."""

from typing import Any

from django.conf import settings

from gallery.accounts.ratelimit import in_words, too_many, wait

WHAT = {
    "generate": "generations",
    "cancel": "cancels",
    "bulk": "actions on selected images",
    "export": "zip exports",
    "invite": "invitations",
    "team_invite": "invitations for this team",
    "team": "new teams",
    "gallery": "new galleries",
    "comment": "comments",
    "api_token": "new API tokens",
    "share": "share links",
}


def rate(action: str) -> tuple[int, int]:
    if action == "generate":
        return settings.GENERATE_RATE
    return settings.ACTION_RATES[action]


def refusal(user: Any, action: str, times: int = 1) -> str | None:
    """Count `times` more of `action` for this person: why not, once over their limit, else None.

    A team's own limits ("team_invite") are counted the same way, with the team as `user`.

    The generate count is the one the generate form keeps, so a retry, and each model of a
    try, count as the generation they make.
    """
    count, seconds = rate(action)
    key = f"{action}:{user.pk}"
    hits = [too_many(key, count, seconds) for _ in range(times)]
    if not any(hits):
        return None
    return (
        f"That is more than {count} {WHAT[action]} in {in_words(seconds)}. "
        f"Try again in {in_words(wait(key, seconds))}."
    )


def retry_after(user: Any, action: str) -> int:
    """Whole seconds until this person's current window for `action` ends (Retry-After)."""
    return wait(f"{action}:{user.pk}", rate(action)[1])
