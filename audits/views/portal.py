"""What the audit covers, read-only: the coverage matrix, the criteria and controls in scope
with their owners, the evidence requests of the window and their approved evidence (with
logged downloads), the exception register and the NHI inventory as of the window."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q

from audits import selectors
from audits.coverage import APPROVED, GAP, IN_PROGRESS, STATE_LABELS, audit_coverage
from audits.filtersets import AuditEvidenceFilterSet
from audits.views.common import filtered, load_audit, paginate, render_audit
from controls.models import OWNER_ROLES, Control
from evidence import services as evidence_services
from exceptions.models import ExceptionSignature
from soc2hub import permissions
from soc2hub.downloads import file_attachment

EXCEPTIONS_PER_PAGE = 50


@login_required
def coverage(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.VIEW_COVERAGE, audit)
    result = audit_coverage(audit)
    only_gaps = request.GET.get("gaps") == "1"
    code = request.GET.get("criterion", "")
    rows, anchored = [], set()
    for row in result.criteria:
        if code and row.criterion.code != code:
            continue
        controls = [c for c in row.controls if c.has_gap] if only_gaps else row.controls
        if only_gaps and not row.has_gap:
            continue
        # A control answering several criteria is listed under each; its anchor goes on the first.
        anchors = {c.control.pk for c in controls} - anchored
        anchored |= anchors
        rows.append((row, controls, anchors))
    return render_audit(request, "audits/coverage.html", audit, "coverage", {
        "coverage": result,
        "rows": rows,
        "only_gaps": only_gaps,
        "criterion_code": code,
        "criterion_codes": [(row.criterion.code, row.criterion.title) for row in result.criteria],
        "states": STATE_LABELS,
        "chart": {"labels": [STATE_LABELS[APPROVED], STATE_LABELS[IN_PROGRESS], STATE_LABELS[GAP]],
                  "values": [result.approved, result.in_progress, result.gaps]},
    })


FLAGS = {
    "unassigned": Q(is_unassigned=True),
    "security_only": Q(is_security_only=True),
}


@login_required
def scope(request, audit_id):
    """The criteria in scope, each with its controls and the three owners of each."""
    audit = load_audit(request, audit_id)
    flag = request.GET.get("flag", "")
    controls = Control.objects.with_owners().with_ownership_flags().order_by("ref")
    criteria = audit.criteria().with_owners().with_ownership_flags().order_by("sort_order", "code")
    if flag in FLAGS:
        controls = controls.filter(FLAGS[flag])
        criteria = criteria.filter(FLAGS[flag] | Q(controls__in=Control.objects.with_ownership_flags()
                                                   .filter(FLAGS[flag]).values("pk"))).distinct()
    criteria = criteria.prefetch_related(Prefetch("controls", queryset=controls))
    return render_audit(request, "audits/scope.html", audit, "scope", {
        "criteria": criteria, "flag": flag if flag in FLAGS else "", "owner_roles": OWNER_ROLES,
    })


@login_required
def evidence_list(request, audit_id):
    audit = load_audit(request, audit_id)
    filterset, rows = filtered(AuditEvidenceFilterSet, request, selectors.evidence_requests(audit), audit)
    return render_audit(request, "audits/evidence_list.html", audit, "evidence", {
        "filterset": filterset, "page": paginate(request, rows),
    })


@login_required
def evidence_detail(request, audit_id, pk):
    """One evidence request the audit covers, with its approved evidence only."""
    audit = load_audit(request, audit_id)
    evidence_request = selectors.evidence_request(audit, pk)
    return render_audit(request, "audits/evidence_detail.html", audit, "evidence", {
        "req": evidence_request,
        "approved": evidence_request.approved_submissions,
        "audit_request": getattr(evidence_request, "audit_request", None),
        "can_open_request": permissions.can(request.user, permissions.VIEW, evidence_request)
        and not request.user.is_external_auditor,
    })


@login_required
def file_download(request, audit_id, pk):
    """An approved evidence file the audit covers: checked, recorded, sent as an attachment."""
    audit = load_audit(request, audit_id)
    evidence_file = selectors.evidence_file(audit, pk)
    permissions.require(request.user, permissions.DOWNLOAD, evidence_file)
    evidence_services.evidence_file_downloaded(evidence_file=evidence_file, user=request.user)
    return file_attachment(evidence_file)


@login_required
def exception_register(request, audit_id):
    audit = load_audit(request, audit_id)
    return render_audit(request, "audits/exceptions.html", audit, "exceptions", {
        # The signatures that stand: the page says which approvals overrode Security.
        "page": paginate(request, selectors.exceptions_in_window(audit).prefetch_related(
            Prefetch("signatures", queryset=ExceptionSignature.objects.filter(voided_at__isnull=True))),
            EXCEPTIONS_PER_PAGE),
    })


@login_required
def nhi_summary(request, audit_id):
    audit = load_audit(request, audit_id)
    summary = selectors.nhi_summary(audit)
    return render_audit(request, "audits/nhi.html", audit, "nhi", {
        "summary": summary,
        "chart": {"labels": [k["label"] for k in summary["kinds"]],
                  "total": [k["total"] for k in summary["kinds"]],
                  "revoked": [k["revoked"] for k in summary["kinds"]],
                  "admin": [k["admin"] for k in summary["kinds"]]},
    })
