"""allauth forms with soc2hub's rules: a locked-out person's right code is refused too."""

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from axes.handlers.proxy import AxesProxyHandler
from django.core.exceptions import ValidationError

from soc2hub.auth import client_ip, locked_until, lockout_message


class MfaAuthenticateForm(AuthenticateForm):
    """The second step of signing in. Wrong codes count towards the lockout (see
    ``soc2hub.signals``); once locked out, even a right code waits for the cool-off."""

    def clean_code(self) -> str:
        request = context.request
        if AxesProxyHandler.is_locked(request, {"username": self.user.username}):
            raise ValidationError(lockout_message(locked_until(
                username=self.user.username, ip_address=client_ip(request))))
        return super().clean_code()
