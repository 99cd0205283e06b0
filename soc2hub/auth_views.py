"""Sign-in pages around allauth's, and Security's view of who is locked out."""

from allauth.account.views import LoginView as AllauthLoginView
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from soc2hub import permissions
from soc2hub.auth import lockout_lift, lockouts_current


class LoginView(AllauthLoginView):
    template_name = "account/login.html"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "lockout_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": round(settings.AXES_COOLOFF_TIME * 60),
        }


@login_required
def lockout_list(request):
    """People and addresses that may not sign in now, and since when (Security only)."""
    permissions.require(request.user, permissions.MANAGE, AccessAttempt)
    return render(request, "soc2hub/lockout_list.html", {
        "lockouts": lockouts_current(),
        "limit": settings.AXES_FAILURE_LIMIT,
        "minutes": round(settings.AXES_COOLOFF_TIME * 60),
    })


@login_required
@require_POST
def lockout_unlock(request):
    username = request.POST.get("username", "")
    ip_address = request.POST.get("ip_address", "")
    try:
        lifted = lockout_lift(actor=request.user, username=username, ip_address=ip_address)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("lockout_list")
    except PermissionDenied:
        raise
    if lifted:
        messages.success(request, f"{username} may sign in again from {ip_address}.")
    else:
        messages.info(request, "That lockout had already ended.")
    return redirect("lockout_list")
