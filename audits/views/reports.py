"""Reports: generated in Celery with progress shown, stored, and downloadable by those allowed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audits import selectors, services
from audits.forms import ReportForm
from audits.models import ReportKind, ReportStatus
from audits.views.common import load_audit, paginate, render_audit
from soc2hub import permissions
from soc2hub.downloads import report_attachment


@login_required
def report_list(request, audit_id):
    audit = load_audit(request, audit_id)
    return render_audit(request, "audits/report_list.html", audit, "reports", {
        "page": paginate(request, selectors.reports(audit)),
        "kinds": ReportKind.choices,
        "can_report": permissions.can(request.user, permissions.REPORT, audit),
    })


@login_required
@require_POST
def report_new(request, audit_id):
    audit = load_audit(request, audit_id)
    permissions.require(request.user, permissions.REPORT, audit)
    form = ReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose which report to generate.")
        return redirect("audits:report_list", audit_id=audit.pk)
    try:
        job = services.report_request(audit=audit, actor=request.user, kind=form.cleaned_data["kind"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("audits:report_list", audit_id=audit.pk)
    messages.success(request, f"{job.get_kind_display()} queued. This page shows its progress.")
    return redirect(job)


@login_required
def report_detail(request, audit_id, pk):
    """The report's page; htmx polls it for the progress part until the job finishes."""
    audit = load_audit(request, audit_id)
    job = selectors.report(audit, pk)
    context = {"job": job, "can_download": permissions.can(request.user, permissions.DOWNLOAD, job)}
    if request.htmx:
        return render(request, "audits/partials/report_progress.html", {"audit": audit, **context})
    return render_audit(request, "audits/report_detail.html", audit, "reports", context)


@login_required
def report_download(request, audit_id, pk):
    audit = load_audit(request, audit_id)
    job = selectors.report(audit, pk)
    permissions.require(request.user, permissions.DOWNLOAD, job)
    if job.status != ReportStatus.DONE or not job.file:
        raise Http404("This report is not ready.")
    try:
        handle = job.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("This report's file is no longer in storage; generate it again.") from exc
    services.report_downloaded(job=job, user=request.user)
    return report_attachment(job, handle)
