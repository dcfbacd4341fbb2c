"""Single sign-on routes: `/oidc/authenticate/` starts a login, `/oidc/callback/` ends it.

Both answer 404 while OIDC_ISSUER is unset.
"""

from django.urls import path

from gallery.accounts import sso

app_name = "sso"
urlpatterns = [
    path("authenticate/", sso.Start.as_view(), name="start"),
    path("callback/", sso.Callback.as_view(), name="callback"),
]
