"""Adding and changing a webhook endpoint: the page and the API validate with the same form."""

from django import forms

from gallery.webhooks.models import EventType
from jobs.webhooks import Refused, check_url


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="Receiver URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where Atelier POSTs each event, signed (Standard Webhooks).",
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=EventType.choices,
        initial=[EventType.GENERATION_SUCCEEDED, EventType.GENERATION_FAILED],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send."},
    )
    active = forms.BooleanField(label="Active", required=False, initial=True)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except Refused as e:
            private = "private" in str(e)
            hint = " An operator can allow it with WEBHOOK_ALLOWED_HOSTS." if private else ""
            raise forms.ValidationError(f"{e}{hint}") from None
        return url
