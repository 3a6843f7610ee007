from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from .forms import OutboxPasswordResetForm, RateLimitedLoginForm

# Without site_name, Django names the site after the request's Host header
# ("Password reset on 127.0.0.1:8000"); use the configured name instead.
_reset_context = {"site_url": settings.SITE_URL, "site_name": settings.SITE_NAME}


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with the request handed to the form for its rate limit."""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=RateLimitedLoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        PasswordResetView.as_view(
            form_class=OutboxPasswordResetForm,
            extra_email_context=_reset_context,
            email_template_name="registration/password_reset_email.txt",
            success_url=reverse_lazy("password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
