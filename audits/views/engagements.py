"""The engagements: the list, Security's form, the overview with status moves and auditors'
access, and the auditor access log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audits import selectors, services
from audits.coverage import audit_coverage
from audits.filtersets import REFUSED_CODES, STAGE_Q, AccessLogFilterSet
from audits.forms import AuditForm, AuditorEndForm, AuditorForm, AuditStatusForm
from audits.models import Audit, AuditorAccess, AuditStatus
from audits.views.common import filtered, load_audit, paginate, render_audit
from soc2hub import permissions
from soc2hub.forms import add_service_errors

ACCESS_LOG_PER_PAGE = 50


@login_required
def audit_list(request):
    user = request.user
    permissions.require(user, permissions.VIEW, Audit)
    audits = list(selectors.audits_for(user=user))
    access_ends = dict(user.audit_assignments.values_list("audit_id", "access_ends_on")) if user.is_auditor else {}
    return render(request, "audits/audit_list.html", {
        "audits": [(audit, access_ends.get(audit.pk)) for audit in audits],
        "can_add": permissions.can(user, permissions.ADD, Audit),
        "ended": user.is_auditor and not audits and bool(access_ends),
    })


def _form_page(request, *, audit: Audit | None):
    form = AuditForm.for_audit(audit, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if audit is None:
                audit = services.audit_create(actor=request.user, **form.audit_fields())
                messages.success(request, "Audit created. Add its auditors and check the coverage before fieldwork.")
            else:
                audit = services.audit_update(audit=audit, actor=request.user, **form.audit_fields())
                messages.success(request, "Audit saved.")
            return redirect(audit)
        except ValidationError as exc:
            add_service_errors(form, exc)
    context = {"form": form, "audit": audit, "section": "overview"}
    return render(request, "audits/audit_form.html", context, status=400 if form.errors else 200)


@login_required
def audit_create(request):
    permissions.require(request.user, permissions.ADD, Audit)
    return _form_page(request, audit=None)


@login_required
def audit_edit(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.CHANGE, audit)
    if audit.is_closed:
        messages.info(request, "A closed audit no longer changes.")
        return redirect(audit)
    return _form_page(request, audit=audit)


def _overview(request, audit: Audit, *, auditor_form=None, status=200):
    user = request.user
    requests = audit.requests.aggregate(total=Count("pk"), **{stage: Count("pk", filter=q)
                                                              for stage, q in STAGE_Q.items()})
    can_manage = permissions.can(user, permissions.MANAGE, audit)
    return render_audit(request, "audits/audit_detail.html", audit, "overview", {
        "assignments": selectors.assignments(audit),
        "coverage": audit_coverage(audit) if permissions.can(user, permissions.VIEW_COVERAGE, audit) else None,
        "counts": {
            "criteria": audit.criteria().count(),
            "controls": audit.controls().count(),
            "evidence_requests": selectors.evidence_requests(audit).count(),
            "evidence_files": selectors.evidence_files(audit).count(),
            "exceptions": selectors.exceptions_in_window(audit).count(),
            "samples": audit.samples.count(),
            "reports": audit.reports.count(),
        },
        "requests": requests,
        "status_moves": [AuditStatus(s) for s in AuditStatus.values if s in services.STATUS_MOVES[audit.status]]
        if permissions.can(user, permissions.CHANGE, audit) else [],
        "can_manage": can_manage,
        "auditor_form": auditor_form or (AuditorForm() if can_manage else None),
        "today_access": request.user.audit_assignments.filter(audit=audit).first() if user.is_auditor else None,
    }, status=status)


@login_required
def audit_detail(request, audit_id):
    return _overview(request, load_audit(request, audit_id))


@login_required
@require_POST
def audit_status(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.CHANGE, audit)
    form = AuditStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the status to move the audit to.")
        return redirect(audit)
    try:
        services.audit_set_status(audit=audit, actor=request.user, status=form.cleaned_data["status"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        audit.refresh_from_db()
        messages.success(request, "The audit is now closed." if audit.is_closed
                         else f"The audit is now in {audit.get_status_display().lower()}.")
    return redirect(audit)


@login_required
@require_POST
def auditor_set(request, audit_id):
    """Give an auditor access until a date, or change that date."""
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.MANAGE, audit)
    form = AuditorForm(request.POST)
    if form.is_valid():
        try:
            assignment = services.audit_auditor_set(audit=audit, actor=request.user, user=form.cleaned_data["user"],
                                                    access_ends_on=form.cleaned_data["access_ends_on"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{assignment.user} can open this audit until "
                                      f"{assignment.access_ends_on:%d %b %Y}.")
            return redirect(audit)
    return _overview(request, audit, auditor_form=form, status=400)


@login_required
@require_POST
def auditor_end(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.MANAGE, audit)
    form = AuditorEndForm(request.POST, audit=audit)
    if not form.is_valid():
        messages.error(request, "Choose whose access to end.")
        return redirect(audit)
    try:
        services.audit_auditor_end(audit=audit, actor=request.user, user=form.cleaned_data["user"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{form.cleaned_data['user']}'s access has ended; the access log keeps "
                                  "what they opened.")
    return redirect(audit)


@login_required
def access_log(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.VIEW, AuditorAccess)
    rows = selectors.access_log(audit)
    filterset, rows = filtered(AccessLogFilterSet, request, rows, audit)
    totals = selectors.access_log(audit).aggregate(
        total=Count("pk"), refused=Count("pk", filter=Q(status_code__in=REFUSED_CODES)),
        downloads=Count("pk", filter=Q(is_download=True)))
    return render_audit(request, "audits/access_log.html", audit, "access", {
        "filterset": filterset, "page": paginate(request, rows, ACCESS_LOG_PER_PAGE), "totals": totals,
    })
