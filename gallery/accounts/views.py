"""Sign-up (closed unless an admin opens it, or through an invitation), login and password reset.

Logins are throttled by `gallery.accounts.logins` (the counters) and `forms.LoginForm` (the
refusal); sign-ups (`forms.SignupForm`) and password resets by client address, and resets also
by the email address asked for.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from gallery.accounts import ratelimit, sso
from gallery.accounts.forms import LoginForm, SignupForm
from gallery.models import Invitation, SiteSettings
from gallery.teams.invitations import by_token, invitation_refusal, join


class Refused(Exception):
    """The invitation went away while the account was being made; nothing is kept."""


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Anyone may sign up while an admin has opened sign-up; with a usable invitation, always."""
    invite, refusal = _invitation(request)
    if refusal:
        return _refused(request, invite, refusal)
    if invite is None and not SiteSettings.load().signup_enabled:
        return TemplateResponse(request, "registration/signup_closed.html", status=403)
    data = request.POST if request.method == "POST" else None
    form = SignupForm(data, request=request, invitation=invite)
    if request.method == "POST" and form.is_valid():
        try:
            user = _create(form, invite)
        except Refused as e:
            return _refused(request, invite, str(e))
        return _welcome(request, user, invite)
    status = 429 if form.throttled() else 400 if form.is_bound else 200
    context = {"form": form, "invite": invite}
    return TemplateResponse(request, "registration/signup.html", context, status=status)


def _refused(request: HttpRequest, invite: Invitation | None, refusal: str) -> TemplateResponse:
    context = {"invite": invite, "refusal": refusal}
    return TemplateResponse(request, "gallery/invitation.html", context, status=410)


def _invitation(request: HttpRequest) -> tuple[Invitation | None, str | None]:
    """The invitation named by ?invitation=, and why it cannot be used (None if it can)."""
    token = request.GET.get("invitation")
    if not token:  # an empty one names nothing, however the row behind it was made
        return None, None
    invite = by_token(token)
    return invite, invitation_refusal(invite)[0]


@transaction.atomic
def _create(form: SignupForm, invite: Invitation | None):
    """The account, and its membership when it came with an invitation: both or neither."""
    user = form.save()
    if invite is not None:
        refusal, _status = join(invite, user)
        if refusal:
            raise Refused(refusal)
    return user


def _welcome(request: HttpRequest, user, invite: Invitation | None) -> HttpResponse:
    """Log the new account in, in the team that invited it if one did."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if invite is not None:
        request.session["team"] = str(invite.team.uuid)
        messages.success(request, f"Welcome! You joined {invite.team.name}.")
    return redirect("gallery:index")


class LoginView(auth_views.LoginView):
    """Django's login, refused with a clear message while failures from here are over the limit."""

    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_invalid(self, form):
        return _with_status(super().form_invalid(form))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["signup_enabled"] = SiteSettings.load().signup_enabled
        context["sso_enabled"] = sso.enabled()
        context["password_for_admins_only"] = settings.OIDC_ONLY
        return context


def admin_login(request: HttpRequest, **kwargs) -> HttpResponse:
    """The admin site's own login page, with the same throttle (its form is `AdminLoginForm`)."""
    return _with_status(admin.site.login(request, **kwargs))


def _with_status(response: HttpResponse) -> HttpResponse:
    """A login page refused by the throttle answers 429, with when to try again."""
    context = response.context_data if isinstance(response, TemplateResponse) else None
    form = (context or {}).get("form")
    if isinstance(form, LoginForm) and form.throttled():
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset mail, at most so many per client address and per email address asked for.

    An address asked for counts whether or not an account has it, so the limit tells nothing
    about which addresses have accounts. Someone asking for another person's address to stop
    them resetting only fills that person's inbox with links that work.
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        count, seconds = settings.PASSWORD_RESET_RATE
        email = ratelimit.digest(request.POST.get("email", "")[:254])
        keys = (f"reset:{ratelimit.client_address(request)}", f"reset:email:{email}")
        # Counted in this order, stopping at the first refusal: a request refused for its client
        # address leaves no counter for the address it asked for, so a flood of made-up email
        # addresses from one client makes no more than `count` counters.
        over = next((key for key in keys if ratelimit.too_many(key, count, seconds)), None)
        if over is None:
            return super().post(request, *args, **kwargs)
        wait = ratelimit.wait(over, seconds)
        form = self.get_form()
        form.add_error(
            "email",
            "Too many reset requests. A reset mail already sent still works; or try again in "
            f"{ratelimit.in_words(wait)}.",
        )
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(wait)
        return response
