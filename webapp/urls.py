from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from gallery.accounts import appearance
from gallery.accounts import views as accounts
from gallery.api import openai_views
from gallery.api.v1 import api
from webapp import health, metrics

# Says in words when a request was refused for its size or its number of files.
handler400 = "gallery.images.uploads.bad_request"

urlpatterns = [
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", accounts.signup, name="signup"),
    # Single sign-on (gallery/accounts/sso.py); 404 while OIDC_ISSUER is unset.
    path("oidc/", include("gallery.accounts.sso_urls")),
    path("account/theme", appearance.set_theme, name="theme"),
    path("account/options", appearance.set_options_open, name="options-open"),
    path("account/favorite-model", appearance.star_model, name="favorite-model"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Browsers ask for it on pages that name no icon (the admin's).
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("favicon.svg"))),
    # Before the admin's own URLs, so its login page is throttled as /login/ is.
    path("admin/login/", accounts.admin_login),
    path("admin/", admin.site.urls),
    # For load balancers and orchestrators: open to anyone, and they tell nothing private.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Only for METRICS_TOKEN or METRICS_ALLOWED; off when neither is set.
    path("metrics", metrics.metrics, name="metrics"),
    path("sandbox/", include("jobs.sandbox.urls")),
    path("api/v1/", api.urls),
    # OpenAI's images API at the site root, so its SDKs take base_url="<site>/v1".
    path("v1/images/generations", openai_views.generations, name="openai-generations"),
    path("v1/images/edits", openai_views.edits, name="openai-edits"),
    path("", include("gallery.sharing.urls")),
    path("", include("gallery.urls")),
]
