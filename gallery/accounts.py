"""Sign-up (an admin can turn it off) and a login that slows down guessing."""

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from gallery.models import SiteSettings
from gallery.ratelimit import client_address, too_many


class SignupForm(UserCreationForm):
    email = forms.EmailField(label="Email", required=False, help_text="For password resets.")

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not SiteSettings.load().signup_enabled:
        return TemplateResponse(request, "registration/signup_closed.html", status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("gallery:index")
    return TemplateResponse(request, "registration/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Django's login, refused with a clear message after too many tries from one place."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "").lower()[:150]
        count, seconds = settings.LOGIN_RATE
        keys = [f"login:addr:{client_address(request)}", f"login:user:{username}"]
        if any(too_many(key, count, seconds) for key in keys):
            form = self.get_form()
            form.add_error(
                None,
                f"Too many login attempts. Wait {seconds // 60} minutes and try again.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["signup_enabled"] = SiteSettings.load().signup_enabled
        return context
