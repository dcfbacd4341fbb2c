"""The accounts' forms: sign-up, and the login forms that refuse while logins are throttled."""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest

from gallery.accounts import logins, ratelimit
from gallery.models import Invitation

THROTTLED = "throttled"


class ThrottledMixin:
    """A form refused for going too fast says so with the code THROTTLED (the view answers 429)."""

    def throttled(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, THROTTLED)  # type: ignore[attr-defined]


class SignupForm(ThrottledMixin, UserCreationForm):
    """A new account; sign-ups are counted per client address, every one tried."""

    email = forms.EmailField(label="Email", required=False, help_text="For password resets.")

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")

    def __init__(
        self, *args, request: HttpRequest, invitation: Invitation | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.invitation = invitation
        if invitation is not None and invitation.email:
            # The invitation was mailed there: that is the account's address, not a choice.
            del self.fields["email"]
            self.instance.email = invitation.email

    def clean(self):
        wait = self._too_many()  # counted first, whatever else is wrong with the form
        cleaned = super().clean()
        if wait:
            raise ValidationError(f"Too many sign-ups from here. Try again in {wait}.", THROTTLED)
        return cleaned

    def _too_many(self) -> str | None:
        """Count a sign-up from here; how long to wait, in words, once there are too many."""
        count, seconds = settings.SIGNUP_RATE
        key = f"signup:{ratelimit.client_address(self.request)}"
        if ratelimit.too_many(key, count, seconds):
            return ratelimit.in_words(ratelimit.wait(key, seconds))
        return None


class LoginForm(ThrottledMixin, AuthenticationForm):
    """Refuse, before the password is checked, while failures from here are over the limit."""

    retry_after = 0

    def clean(self):
        if self.request is not None:
            self.retry_after = logins.wait(self.request, str(self.data.get("username", "")))
            if self.retry_after:
                raise ValidationError(
                    "Too many failed logins from here. Try again in "
                    f"{ratelimit.in_words(self.retry_after)}.",
                    code=THROTTLED,
                )
        return super().clean()


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    pass
