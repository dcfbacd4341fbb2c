"""The accounts' forms: sign-up, and the login forms that refuse while logins are throttled."""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.signals import user_login_failed
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

    def confirm_login_allowed(self, user) -> None:
        """With OIDC_ONLY, only superusers log in with a password; for anyone else a right
        password is answered, and counted, as a wrong one, so it tells nothing."""
        if settings.OIDC_ONLY and not user.is_superuser:
            credentials = {"username": self.cleaned_data.get("username", "")}
            user_login_failed.send(__name__, credentials=credentials, request=self.request)
            raise self.get_invalid_login_error()
        super().confirm_login_allowed(user)

    def get_invalid_login_error(self) -> ValidationError:
        if not settings.OIDC_ONLY:
            return super().get_invalid_login_error()
        return ValidationError(
            "Password login is for site administrators only: sign in with SSO. "
            "(Or the username or password is wrong.)",
            code="invalid_login",
        )


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    pass
