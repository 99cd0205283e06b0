"""The PBC list: auditors raise requests, the control's evidence owner team answers through an
ordinary evidence request, Security approves, and the auditors accept or return the answer."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from audits import selectors, services
from audits.filtersets import STAGES, AuditRequestFilterSet
from audits.forms import AuditRequestForm, CommentForm, DecideForm
from audits.models import AuditRequest
from audits.views.common import filtered, load_audit, paginate, render_audit
from evidence.models import Evidence, EvidenceStatus, RequestStatus
from soc2hub import permissions
from soc2hub.forms import add_service_errors


@login_required
def request_list(request, audit_id):
    audit = load_audit(request, audit_id)
    filterset, rows = filtered(AuditRequestFilterSet, request, selectors.audit_requests(audit))
    return render_audit(request, "audits/request_list.html", audit, "requests", {
        "filterset": filterset, "page": paginate(request, rows), "stages": STAGES,
        "can_raise": permissions.can(request.user, permissions.RAISE_REQUEST, audit),
    })


@login_required
def request_new(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.RAISE_REQUEST, audit)
    form = AuditRequestForm(request.POST or None, audit=audit)
    if request.method == "POST" and form.is_valid():
        try:
            audit_request = services.audit_request_raise(audit=audit, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{audit_request.reference} raised. "
                                      f"{audit_request.evidence_request.owner_team.name} has been asked for it.")
            return redirect(audit_request)
    return render_audit(request, "audits/request_form.html", audit, "requests", {"form": form},
                        status=400 if form.errors else 200)


def _load(request, audit_id, number) -> tuple[AuditRequest, bool]:
    """The request and whether the user sees its audit. The team answering a request sees that
    request (to read the thread and comment), and nothing else of the audit."""
    try:
        audit = load_audit(request, audit_id)
    except Http404:
        answering = (permissions.restrict(AuditRequest.objects.select_related("audit"), request.user)
                     .filter(audit_id=audit_id, number=number).first())
        if answering is None:
            raise
        return selectors.audit_request(answering.audit, number), False
    return selectors.audit_request(audit, number), True


def _detail(request, audit_request: AuditRequest, in_audit: bool, *, comment_form=None, decide_form=None,
            status=200):
    user = request.user
    evidence_request = audit_request.evidence_request
    answered = evidence_request.status == RequestStatus.APPROVED
    approved = (Evidence.objects.filter(request=evidence_request, status=EvidenceStatus.APPROVED)
                .select_related("reviewed_by").prefetch_related("files") if answered else [])
    can_decide = audit_request.stage == "ready" and permissions.can(user, permissions.DECIDE, audit_request)
    return render_audit(request, "audits/request_detail.html", audit_request.audit, "requests", {
        "audit_request": audit_request,
        "req": evidence_request,
        "approved": approved,
        "comments": audit_request.comments.select_related("author"),
        "can_comment": permissions.can(user, permissions.COMMENT, audit_request),
        "can_decide": can_decide,
        "decide_refused": permissions.refusal(user, permissions.DECIDE, audit_request)
        if audit_request.stage == "ready" and audit_request.audit_id in permissions.current_audit_ids(user)
        else "",
        "comment_form": comment_form or CommentForm(),
        "decide_form": decide_form or DecideForm(),
        "portal": in_audit,
        "is_answering_team": evidence_request.owner_team_id in user.team_ids(),
    }, status=status)


@login_required
def request_detail(request, audit_id, number):
    return _detail(request, *_load(request, audit_id, number))


@login_required
@require_POST
def request_comment(request, audit_id, number):
    audit_request, in_audit = _load(request, audit_id, number)
    permissions.require(request.user, permissions.COMMENT, audit_request)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.audit_comment_add(audit_request=audit_request, actor=request.user,
                                       body=form.cleaned_data["body"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Comment added; the others on this request are told.")
            return redirect(audit_request)
    return _detail(request, audit_request, in_audit, comment_form=form, status=400)


@login_required
@require_POST
def request_decide(request, audit_id, number):
    """The auditor accepts the approved answer, or returns it to the team with a comment."""
    audit_request, in_audit = _load(request, audit_id, number)
    permissions.require(request.user, permissions.DECIDE, audit_request)
    form = DecideForm(request.POST)
    if form.is_valid():
        decision, comment = form.cleaned_data["decision"], form.cleaned_data["comment"]
        try:
            if decision == "accept":
                services.audit_request_accept(audit_request=audit_request, actor=request.user, comment=comment)
                messages.success(request, f"{audit_request.reference} accepted.")
            else:
                services.audit_request_return(audit_request=audit_request, actor=request.user, comment=comment)
                messages.success(request, f"{audit_request.reference} returned to "
                                          f"{audit_request.evidence_request.owner_team.name} with your comment.")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect(audit_request)
    return _detail(request, audit_request, in_audit, decide_form=form, status=400)
