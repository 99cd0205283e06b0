"""What every audit page shares: loading the audit (``selectors.audit_for``: 404 when it is not
the user's, 403 with the reason when their access ended), the section tabs, and the rule for
when the coverage matrix opens to the auditors."""

import functools

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from audits import selectors
from audits.models import Audit, AuditorAccess, AuditStatus
from soc2hub import permissions
from soc2hub.filters import apply_filters

PER_PAGE = 25


def load_audit(request, audit_id) -> Audit:
    return selectors.audit_for(user=request.user, pk=audit_id)


def coverage_open_to(user, audit: Audit) -> bool:
    """Security (and Leadership) see the coverage matrix from planning on, so the gaps are
    theirs to find first; the auditors see it once fieldwork starts."""
    return user.is_security or user.is_leadership or audit.status != AuditStatus.PLANNING


def require_coverage(user, audit: Audit) -> None:
    if not coverage_open_to(user, audit):
        raise PermissionDenied("The coverage matrix opens to the auditors when fieldwork starts.")


def filtered(filterset_class, request, queryset, audit=None):
    """``apply_filters`` for a filterset whose choices are the audit's own."""
    cls = functools.partial(filterset_class, audit=audit) if audit is not None else filterset_class
    return apply_filters(cls, request.GET, queryset)


def paginate(request, rows, per_page=PER_PAGE):
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


def render_audit(request, template: str, audit: Audit, section: str, context: dict | None = None, *, status=200):
    """An audit page: the audit, its section tabs, and what the user may do to it."""
    user = request.user
    return render(request, template, {
        "audit": audit,
        "section": section,
        "can_change": permissions.can(user, permissions.CHANGE, audit),
        "can_see_access_log": permissions.can(user, permissions.VIEW, AuditorAccess),
        "coverage_open": coverage_open_to(user, audit),
        "portal": True,
        **(context or {}),
    }, status=status)
