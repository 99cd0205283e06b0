import time

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView


class IdpLoginForm(AuthenticationForm):
    """Like a company IdP, tells a person whose account an administrator disabled so, once they
    have proved who they are with the right password."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
            person = get_user_model().objects.filter(username=username, is_active=False).first()
            if person is not None and password and person.check_password(password):
                raise forms.ValidationError(
                    "Your account is disabled. Contact your administrator.", code="inactive") from None
            raise


class IdpLoginView(LoginView):
    template_name = "idp/login.html"
    form_class = IdpLoginForm


class SlowTokenEndpointMiddleware:
    """Answers the token endpoint ``IDP_TOKEN_DELAY`` seconds late (0: at once)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.IDP_TOKEN_DELAY and request.path.startswith("/openid/token"):
            time.sleep(settings.IDP_TOKEN_DELAY)
        return response
