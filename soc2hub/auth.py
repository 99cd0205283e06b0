"""Signing in: who must use a second factor, lockout after failed attempts, and the identity
check an exception signature asks for.

* django-allauth runs the sign-in (password, then a TOTP or recovery code when the person
  has one; OpenID Connect single sign-on in ``soc2hub.sso``). Nobody signs up.
* ``MFA_REQUIRED_GROUPS`` names who must enrol a second factor before using anything else;
  ``MfaRequiredMiddleware`` sends them to enrolment.
* django-axes counts failed attempts per username + address: wrong passwords at sign-in, wrong
  second-factor codes, and wrong passwords or codes on the signing page all count alike
  (``LockoutHandler`` adds a ceiling per address for password spraying). A lockout lands in
  the activity log; Security lifts it from the Lockouts page.
"""

import datetime as dt
import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format

from soc2hub.models import TeamFunction, User

FINANCE_GROUP = "Finance"  # in MFA_REQUIRED_GROUPS: members of a finance team


# --- second factor -----------------------------------------------------------------------

def mfa_required(user) -> bool:
    """Must this person have a second factor? Members of the groups in ``MFA_REQUIRED_GROUPS``
    do, and superusers whenever anyone does; "Finance" there means members of a finance team
    (Finance signs access exceptions)."""
    required = {name for name in settings.MFA_REQUIRED_GROUPS if name}  # MFA_REQUIRED_GROUPS= means nobody
    if not required or not (user and user.is_authenticated):
        return False
    if user.is_superuser:
        return True  # the setup administrator holds every right, Security's included
    if required & user.group_names():
        return True
    return FINANCE_GROUP in required and user.memberships.filter(team__function=TeamFunction.FINANCE).exists()


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()


@transaction.atomic
def second_factor_enrol(*, user, secret: str) -> list[str]:
    """Give ``user`` an authenticator app with ``secret`` (base32) and recovery codes, the way
    the enrolment page does after the first code is confirmed; returns the unused recovery codes.
    Used to seed the demo's signers; people enrol themselves on the page."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, secret)
    return RecoveryCodes.activate(user).get_unused_codes()


def unused_recovery_codes(user) -> list[str]:
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).first()
    return authenticator.wrap().get_unused_codes() if authenticator else []


class MfaRequiredMiddleware:
    """Sends a person who must use a second factor and has none to the enrolment page; the API
    answers 403 for them. Enrolment, signing out and static files stay open."""

    OPEN_PREFIXES = ("/accounts/", "/static/", "/healthz", "/readyz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (settings.MFA_REQUIRED_GROUPS and user is not None and user.is_authenticated
                and not request.path.startswith(self.OPEN_PREFIXES)
                and mfa_required(user) and not has_second_factor(user)):
            message = "Set up two-factor authentication before you continue: your role requires it."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=403)
            messages.warning(request, message)
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        """Accounts come from Security (the admin) or the identity provider, never a form."""
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """Changing one's second factor or password asks for the password again, unless the
        person signed in (password, then code) within the last few minutes: someone sent to
        enrolment straight after signing in is not asked twice."""
        from allauth.account import app_settings as account_settings
        from allauth.account.internal.flows.login import get_authentication_records
        from allauth.core import context

        request = context.request
        records = get_authentication_records(request, request.user) if request is not None else []
        if records and time.time() - records[-1]["at"] < account_settings.REAUTHENTICATION_TIMEOUT:
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def pre_login(self, request, user, **kwargs):
        """An account made by single sign-on signs in only through the identity provider, even
        if a password was set on it: disabling someone there must lock them out here."""
        from soc2hub.sso import sso_managed

        if not (kwargs.get("signal_kwargs") or {}).get("sociallogin") and sso_managed(user):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            return render(request, "account/sso_refused.html", {"message": (
                f"This account signs in with {settings.OIDC_PROVIDER_NAME} only: use the "
                f"“Sign in with {settings.OIDC_PROVIDER_NAME}” button.")}, status=403)
        return super().pre_login(request, user, **kwargs)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Rendered here, sent by a task after commit: a slow mail server never holds up a
        sign-in or account page."""
        from allauth.core import context as allauth_context
        from django.contrib.sites.shortcuts import get_current_site

        from soc2hub.notifications import email_queue

        request = allauth_context.request
        message = self.render_mail(template_prefix, email, {
            "request": request, "email": email, "current_site": get_current_site(request), **context})
        email_queue(message)

    def send_password_reset_mail(self, user, email, context) -> None:
        """No password reset for single sign-on accounts: their password lives at the IdP."""
        from soc2hub.sso import sso_managed

        if not sso_managed(user):
            super().send_password_reset_mail(user, email, context)


class MfaAdapter(DefaultMFAAdapter):
    def get_totp_label(self, user) -> str:
        return user.username


# --- lockout -----------------------------------------------------------------------------

def lockout_username(request, credentials) -> str | None:
    """The username axes counts failures against: case-folded, because allauth finds the
    account whatever the case (``Alice`` and ``alice`` are one person's attempts)."""
    username = (credentials or {}).get("username")
    if username is None and request is not None:
        username = request.POST.get("login") or request.POST.get("username")
    return username.casefold() if username else username


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler plus a ceiling per address: ``AXES_IP_FAILURE_LIMIT`` failures
    from one address within the cool-off, whatever the usernames, lock that address out."""

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or self._address_locked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not getattr(request, "axes_locked_out", False) and self._address_locked(request):
            # Axes flags a lockout by the username's own count; the address's ceiling too.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=lockout_username(request, credentials),
                                 ip_address=client_ip(request))

    @staticmethod
    def _address_locked(request) -> bool:
        ip_address = client_ip(request)
        return bool(ip_address) and address_failures(ip_address) >= settings.AXES_IP_FAILURE_LIMIT


def _recent_attempts():
    return AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - get_cool_off())


def address_failures(ip_address: str) -> int:
    return _recent_attempts().filter(ip_address=ip_address).aggregate(n=Sum("failures_since_start"))["n"] or 0


def locked_until(*, username: str | None, ip_address: str | None) -> dt.datetime | None:
    """When the lockout for this username + address (or the whole address) ends."""
    username = username.casefold() if username else username
    attempts = _recent_attempts().filter(ip_address=ip_address)
    per_user = attempts.filter(username=username).aggregate(n=Sum("failures_since_start"), last=Max("attempt_time"))
    if per_user["n"] and per_user["n"] >= settings.AXES_FAILURE_LIMIT:
        return per_user["last"] + get_cool_off()
    per_address = attempts.aggregate(n=Sum("failures_since_start"), last=Max("attempt_time"))
    if per_address["n"] and per_address["n"] >= settings.AXES_IP_FAILURE_LIMIT:
        return per_address["last"] + get_cool_off()
    return None


def lockout_message(until: dt.datetime | None) -> str:
    if until is None:
        return "Too many failed attempts. Try again later."
    local = timezone.localtime(until)
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return (f"Too many failed attempts. Try again after {date_format(local, 'H:i')} "
            f"(in about {minutes} minute{'s' if minutes != 1 else ''}), or ask Security to unlock your account.")


def client_ip(request) -> str | None:
    """The address axes counts attempts against (``TRUSTED_PROXY_COUNT`` decides the header)."""
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request)


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out person sees: when they may try again, on the sign-in page's look."""
    username = (credentials or {}).get("username") or request.POST.get("login") or request.POST.get("username")
    until = locked_until(username=username, ip_address=client_ip(request))
    message = lockout_message(until)
    if request.path.startswith("/api/") or request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "account/locked_out.html", {"message": message, "until": until}, status=429)


def lockouts_current() -> list[dict]:
    """Every username + address locked out now, newest first, for Security's Lockouts page."""
    rows = (_recent_attempts().values("username", "ip_address")
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT).order_by("-last"))
    return [{**row, "until": row["last"] + get_cool_off()} for row in rows]


@transaction.atomic
def lockout_lift(*, actor, username: str, ip_address: str) -> int:
    """Security lets a locked-out person try again; the lift goes on the record."""
    from soc2hub import permissions
    from soc2hub.services import activity_record

    permissions.require(actor, permissions.MANAGE, AccessAttempt)
    lifted, _ = AccessAttempt.objects.filter(username=username, ip_address=ip_address).delete()
    if lifted:
        person = User.objects.filter(username__iexact=username).first()
        activity_record(actor=actor, verb="account.unlocked", obj=person,
                        after={"username": username, "ip_address": ip_address},
                        message=f"{actor} lifted the sign-in lockout of {username} from {ip_address}.")
    return lifted


# --- the identity check before a signature --------------------------------------------------

def _failed(request, user, message) -> ValidationError:
    user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
    return ValidationError(message)


def second_factor_verify(*, user, code: str) -> bool:
    """A current TOTP code (each code once: a replayed one is refused) or an unused recovery code."""
    code = (code or "").strip().replace(" ", "")
    if not code:
        return False
    for authenticator in Authenticator.objects.filter(
            user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    ).order_by("type"):
        if authenticator.wrap().validate_code(code):
            authenticator.record_usage()
            return True
    return False


def identity_confirm(*, user, password: str, otp_code: str, request) -> None:
    """Step-up before signing: the password (for an account that has one: people who sign in
    only through single sign-on have none) and a current second-factor code. Wrong answers
    count towards the same lockout as the sign-in page."""
    credentials = {"username": user.username}
    if request is not None and AxesProxyHandler.is_locked(request, credentials):
        raise ValidationError(lockout_message(locked_until(username=user.username, ip_address=client_ip(request))))
    if user.has_usable_password():
        # Through authenticate() so that django-axes counts a wrong password like one at sign-in;
        # without a request (the demo seeding, a shell) the password is checked directly.
        right = (authenticate(request, username=user.username, password=password or "") is not None
                 if request is not None else user.check_password(password or ""))
        if not right:
            raise ValidationError({"password": "That password is not correct. Nothing was signed."})
    if not has_second_factor(user):
        raise ValidationError({"otp_code": "Signing needs a second factor: set up an authenticator app first "
                                           "(Account → Two-factor authentication)."})
    if not second_factor_verify(user=user, code=otp_code):
        raise _failed(request, user, {"otp_code": "That authentication code is not correct or was already used. "
                                                  "Nothing was signed."})

