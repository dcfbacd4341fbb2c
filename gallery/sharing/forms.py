from django import forms

EXPIRY_CHOICES = [
    ("1", "After 1 day"),
    ("7", "After 7 days"),
    ("30", "After 30 days"),
    ("never", "Never (until revoked)"),
]

# How long a new link lasts, for the team's activity feed.
LASTS = {"1": "for 1 day", "7": "for 7 days", "30": "for 30 days", "never": "until revoked"}


class ShareForm(forms.Form):
    expiry = forms.ChoiceField(
        label="Link expires",
        choices=EXPIRY_CHOICES,
        initial="7",
        error_messages={
            "required": "Choose when the link expires: after 1, 7 or 30 days, or never.",
            "invalid_choice": "Choose when the link expires: after 1, 7 or 30 days, or never.",
        },
    )
    allow_download = forms.BooleanField(label="Allow downloads of originals", required=False)
    show_prompts = forms.BooleanField(label="Show prompts and parameters", required=False)
    allow_indexing = forms.BooleanField(
        label="Let search engines list the page",
        required=False,
        help_text="Off: the page asks search engines not to index it (noindex).",
    )
