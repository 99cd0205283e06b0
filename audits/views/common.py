"""What every audit page shares: loading the audit (``selectors.audit_for``: 404 when it is not
the user's, 403 with the reason when their access ended) and the section tabs."""

import functools

from django.core.paginator import Paginator
from django.shortcuts import render

from audits import selectors
from audits.models import Audit, AuditorAccess
from soc2hub import permissions
from soc2hub.filters import apply_filters

PER_PAGE = 25


def load_audit(request, audit_id) -> Audit:
    return selectors.audit_for(user=request.user, pk=audit_id)


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
        "coverage_open": permissions.can(user, permissions.VIEW_COVERAGE, audit),
        "portal": True,
        **(context or {}),
    }, status=status)
