from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from evidence import calendar, selectors, services
from evidence.filtersets import EvidenceRequestFilterSet, EvidenceTemplateFilterSet
from evidence.forms import EvidenceReturnForm, EvidenceSubmitForm, EvidenceTemplateForm
from evidence.models import CalendarFeed, Evidence, EvidenceFile, EvidenceRequest, EvidenceStatus, EvidenceTemplate
from evidence.storage import STORAGE_FULL, allowed_extensions
from soc2hub import permissions
from soc2hub.downloads import file_attachment
from soc2hub.filters import apply_filters
from soc2hub.forms import add_service_errors
from soc2hub.models import Team

PER_PAGE = 25


def _validation_messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for errors in exc.message_dict.values() for m in errors]
    return exc.messages


@login_required
def request_list(request):
    filterset, qs = apply_filters(EvidenceRequestFilterSet, request.GET, selectors.requests_for_list(user=request.user))
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "evidence/request_list.html", {
        "filterset": filterset,
        "page": page,
        "counts": selectors.request_counts(user=request.user),
        "my_teams": Team.objects.filter(memberships__user=request.user),
    })


def _request_page(request, evidence_request, *, submit_form=None, return_form=None, status=200):
    user = request.user
    submissions = list(evidence_request.submissions.all())
    return render(request, "evidence/request_detail.html", {
        "req": evidence_request,
        "audit_request": getattr(evidence_request, "audit_request", None),
        "submissions": submissions,
        "history": selectors.request_history(evidence_request),
        "can_submit": permissions.can(user, permissions.SUBMIT, evidence_request)
        and evidence_request.status in ("open", "returned"),
        "reviewable": {e.pk for e in submissions
                       if e.status == EvidenceStatus.PENDING and permissions.can(user, permissions.REVIEW, e)},
        "submit_form": submit_form or EvidenceSubmitForm(),
        "return_form": return_form or EvidenceReturnForm(),
        "allowed_extensions": allowed_extensions(),
        "max_upload_mb": settings.EVIDENCE_MAX_UPLOAD_BYTES // (1024 * 1024),
    }, status=status)


def _get_request(request, pk):
    try:
        return selectors.request_detail(user=request.user, pk=pk)
    except EvidenceRequest.DoesNotExist as exc:  # missing, or not visible to this user: the same 404
        raise Http404("No such evidence request.") from exc


@login_required
def request_detail(request, pk):
    return _request_page(request, _get_request(request, pk))


@login_required
@require_POST
def request_submit(request, pk):
    evidence_request = _get_request(request, pk)
    permissions.require(request.user, permissions.SUBMIT, evidence_request)
    form = EvidenceSubmitForm(request.POST, request.FILES)
    refused = getattr(request, "upload_refused", None)
    if refused:
        form.is_valid()
        form.add_error(None, refused)
        return _request_page(request, evidence_request, submit_form=form, status=413)
    status = 400
    if form.is_valid():
        try:
            services.evidence_submit(request=evidence_request, actor=request.user, files=form.cleaned_data["files"],
                                     note=form.cleaned_data["note"], link=form.cleaned_data["link"])
        except ValidationError as exc:
            if getattr(exc, "code", None) == STORAGE_FULL:
                status = 507  # the server's want of space, not the person's mistake
            for message in _validation_messages(exc):
                form.add_error(None, message)
        else:
            messages.success(request, "Evidence submitted. Security will review it.")
            return redirect(evidence_request)
    return _request_page(request, _get_request(request, pk), submit_form=form, status=status)


@login_required
def review_queue(request):
    page = Paginator(selectors.review_queue(user=request.user), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "evidence/review_queue.html", {"page": page})


def _after_review(request, evidence):
    return redirect("evidence:review_queue" if request.POST.get("next") == "queue" else evidence.request)


def _get_evidence(request, pk) -> Evidence:
    return get_object_or_404(
        permissions.restrict(Evidence.objects.select_related("request__template"), request.user), pk=pk
    )


@login_required
@require_POST
def evidence_approve(request, pk):
    evidence = _get_evidence(request, pk)
    permissions.require(request.user, permissions.REVIEW, evidence)
    try:
        services.evidence_approve(evidence=evidence, reviewer=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(_validation_messages(exc)))
    else:
        messages.success(request, f"Approved. {evidence.request} goes to the auditor to accept."
                         if evidence.request.is_audit_request else f"Approved. {evidence.request} is complete.")
    return _after_review(request, evidence)


@login_required
@require_POST
def evidence_return(request, pk):
    evidence = _get_evidence(request, pk)
    permissions.require(request.user, permissions.REVIEW, evidence)
    form = EvidenceReturnForm(request.POST)
    if form.is_valid():
        try:
            services.evidence_return(evidence=evidence, reviewer=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(_validation_messages(exc)))
        else:
            messages.success(request, "Returned to the team with your reason.")
        return _after_review(request, evidence)
    return _request_page(request, _get_request(request, evidence.request_id), return_form=form, status=400)


@login_required
def file_download(request, pk):
    evidence_file = get_object_or_404(
        permissions.restrict(EvidenceFile.objects.select_related("evidence__request__template"), request.user,
                             permissions.DOWNLOAD),
        pk=pk,
    )
    permissions.require(request.user, permissions.DOWNLOAD, evidence_file)
    services.evidence_file_downloaded(evidence_file=evidence_file, user=request.user)
    return file_attachment(evidence_file)


@login_required
def template_list(request):
    filterset, qs = apply_filters(EvidenceTemplateFilterSet, request.GET,
                                  selectors.templates_for_list(user=request.user))
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "evidence/template_list.html", {
        "filterset": filterset, "page": page,
        "can_add": permissions.can(request.user, permissions.ADD, EvidenceTemplate),
    })


@login_required
def template_detail(request, pk):
    template = get_object_or_404(selectors.templates_for_list(user=request.user), pk=pk)
    return render(request, "evidence/template_detail.html", {
        "template": template,
        "year_ahead": selectors.year_ahead(templates=[template]),
        "recent": selectors.requests_for_list(user=request.user).filter(template=template).order_by("-period_start")[:12],
        "can_edit": permissions.can(request.user, permissions.CHANGE, template),
        "no_independent_reviewer": not selectors.independent_reviewers(template=template).exists(),
    })


def _template_form_page(request, *, template):
    form = EvidenceTemplateForm(request.POST or None, instance=template, user=request.user,
                                initial=None if template else {"control": request.GET.get("control")})
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if template is None:
                template = services.template_create(actor=request.user, **fields)
                messages.success(request, "Evidence standard created. Requests open when each period comes.")
            else:
                if fields["owner_team"] is None:
                    fields["owner_team"] = fields["control"].evidence_owner or template.owner_team
                template = services.template_update(template=template, actor=request.user, **fields)
                messages.success(request, "Evidence standard saved.")
            return redirect(template)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "evidence/template_form.html", {"form": form, "template": template})


@login_required
def template_create(request):
    permissions.require(request.user, permissions.ADD, EvidenceTemplate)
    return _template_form_page(request, template=None)


@login_required
def template_edit(request, pk):
    template = get_object_or_404(EvidenceTemplate, pk=pk)
    permissions.require(request.user, permissions.CHANGE, template)
    return _template_form_page(request, template=template)


def calendar_feed(request, token):
    """The iCal feed: no sign-in (calendar apps cannot), the secret URL is the key."""
    feed = CalendarFeed.objects.filter(token=token, revoked_at__isnull=True).select_related("team").first()
    if feed is None:
        raise Http404("This calendar link does not exist or was revoked.")
    body = calendar.team_calendar(feed.team)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{feed.team.slug}-evidence.ics"'
    response["Cache-Control"] = "private, max-age=900"
    return response


@login_required
@require_POST
def calendar_manage(request, slug):
    team = get_object_or_404(permissions.restrict(Team.objects.all(), request.user), slug=slug)
    if request.POST.get("action") == "revoke":
        feed_id = request.POST.get("feed", "")
        if not feed_id.isdigit():
            raise Http404("No such calendar link.")
        feed = get_object_or_404(permissions.restrict(CalendarFeed.objects.filter(team=team), request.user,
                                                      permissions.MANAGE), pk=feed_id)
        services.calendar_feed_revoke(feed=feed, actor=request.user)
        messages.success(request, "Calendar link revoked; calendars using it stop updating.")
    else:
        services.calendar_feed_create(team=team, actor=request.user)
        messages.success(request, "Calendar link created. Subscribe to it from Outlook or Google Calendar.")
    return redirect(team)
