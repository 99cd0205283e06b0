"""External auditors: keep them to their audits, and record everything they open.

Every request an auditor makes (page, download, API call, refusal) lands in the append-only
``AuditorAccess`` log that Security reads. What they may reach is decided by
``soc2hub.permissions.auditor_may``; views then check the object itself as for anyone.
"""

import logging

from django.conf import settings
from django.http import JsonResponse
from django.template.response import TemplateResponse

from django.db import transaction

from audits.models import Audit, AuditorAccess
from soc2hub import permissions

logger = logging.getLogger(__name__)


def _refusal(request, reason: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(reason)}, status=403)
    response = TemplateResponse(request, "403.html", {"exception": str(reason)}, status=403)
    return response.render()


def _logged(user) -> bool:
    """External auditors, and anyone else while an audit assignment of theirs is current
    (an internal auditor who is also in a team): everything they open is recorded."""
    return user.is_auditor and (user.is_external_auditor or bool(permissions.current_audit_ids(user)))


class AuditorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (user is None or not user.is_authenticated or request.path.startswith(settings.STATIC_URL)
                or not _logged(user)):
            return self.get_response(request)
        response = self.get_response(request)
        self._record(request, response, user)  # the user as they came: signing out replaces request.user
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or not user.is_external_auditor:
            return None
        verdict = permissions.auditor_may(request.resolver_match, request.method)
        if not verdict:
            return _refusal(request, verdict)
        return None

    @staticmethod
    def _record(request, response, user) -> None:
        match = getattr(request, "resolver_match", None)
        audit_id = getattr(request, "audit_id_for_log", None)
        if audit_id is None and match is not None:
            audit_id = match.kwargs.get("audit_id")
        disposition = response.get("Content-Disposition", "") if hasattr(response, "get") else ""
        try:
            with transaction.atomic():
                if audit_id is not None and not Audit.objects.filter(pk=audit_id).exists():
                    audit_id = None  # a made-up id: the path still says what was tried
                AuditorAccess.objects.create(
                    user=user, audit_id=audit_id, method=request.method[:10],
                    path=request.get_full_path()[:500], status_code=response.status_code,
                    is_download="attachment" in disposition,
                )
        except Exception:  # the page was served; a failed log line must be seen, not hide it
            logger.exception("could not record auditor access to %s", request.path)
