from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from exceptions import reports, selectors, services
from exceptions.filtersets import ExceptionFilterSet
from exceptions.forms import ExceptionForm, ReasonForm, ReviewForm, SignForm
from exceptions.models import ExceptionRecord, ExceptionStatus
from exceptions.signers import required_signer_roles, signer_roles_of
from soc2hub import permissions
from soc2hub.auth import client_ip
from soc2hub.filters import apply_filters
from soc2hub.forms import add_service_errors

PER_PAGE = 25


def _get(request, pk) -> ExceptionRecord:
    try:
        return selectors.exception_detail(user=request.user, pk=pk)
    except ExceptionRecord.DoesNotExist as exc:
        raise Http404("No such exception.") from exc


@login_required
def register(request):
    filterset, qs = apply_filters(ExceptionFilterSet, request.GET,
                                  selectors.exceptions_for_register(user=request.user))
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    selectors.mark_roles_without_signer(page)
    return render(request, "exceptions/register.html", {
        "filterset": filterset, "page": page,
        "counts": selectors.exception_counts(user=request.user),
        "can_add": permissions.can(request.user, permissions.ADD, ExceptionRecord),
    })


def _form_page(request, *, exception):
    form = ExceptionForm(request.POST or None, instance=exception, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        controls, criteria, nhis = data.pop("controls"), data.pop("criteria"), data.pop("nhis")
        try:
            if exception is None:
                exception = services.exception_create(actor=request.user, controls=controls, criteria=criteria,
                                                      nhis=nhis, **data)
                messages.success(request, f"{exception.reference} saved as a draft. Submit it when it is ready.")
            else:
                data.pop("requesting_team", None)
                was_signed = services.active_signatures(exception).exists()
                exception = services.exception_update(exception=exception, actor=request.user, controls=controls,
                                                      criteria=criteria, nhis=nhis, **data)
                messages.success(request, f"{exception.reference} saved." + (
                    " Its signatures were voided: it needs review and signatures again." if was_signed else ""))
            return redirect(exception)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "exceptions/form.html", {"form": form, "exception": exception},
                  status=400 if form.errors else 200)


@login_required
def create(request):
    permissions.require(request.user, permissions.ADD, ExceptionRecord)
    return _form_page(request, exception=None)


@login_required
def edit(request, pk):
    exception = _get(request, pk)
    permissions.require(request.user, permissions.CHANGE, exception)
    return _form_page(request, exception=exception)


@login_required
def detail(request, pk, *, review_form=None, reason_form=None, status=200):
    exception = _get(request, pk)
    user = request.user
    signatures = list(exception.signatures.all())
    return render(request, "exceptions/detail.html", {
        "exception": exception,
        "content_sha256": exception.content_sha256(),
        "current_signatures": [s for s in signatures if s.version == exception.version and not s.voided_at],
        "voided_signatures": [s for s in signatures if s.voided_at],
        "required_roles": required_signer_roles(exception),
        "versions": exception.versions.all(),
        "history": selectors.exception_history(exception),
        "can_edit": permissions.can(user, permissions.CHANGE, exception)
        and exception.status in (ExceptionStatus.DRAFT, ExceptionStatus.SUBMITTED, ExceptionStatus.UNDER_REVIEW,
                                 ExceptionStatus.APPROVED),
        "can_submit": exception.status == ExceptionStatus.DRAFT and permissions.can(user, permissions.SUBMIT,
                                                                                   exception),
        "can_review": exception.status == ExceptionStatus.SUBMITTED and permissions.can(user, permissions.REVIEW,
                                                                                       exception),
        "can_sign": exception.status == ExceptionStatus.UNDER_REVIEW and permissions.can(user, permissions.SIGN,
                                                                                        exception)
        and bool(services.open_signer_roles(exception, user)),
        "roles_without_signer": selectors.signer_labels(services.roles_without_signer(exception)),
        # Why a signer or a reviewer who would be asked is not (they are not independent of it).
        "sign_refused": permissions.refusal(user, permissions.SIGN, exception)
        if exception.status == ExceptionStatus.UNDER_REVIEW and signer_roles_of(user) & set(required_signer_roles(
            exception)) else "",
        "review_refused": permissions.refusal(user, permissions.REVIEW, exception)
        if exception.status == ExceptionStatus.SUBMITTED else "",
        "can_revoke": exception.status in (ExceptionStatus.SUBMITTED, ExceptionStatus.UNDER_REVIEW,
                                           ExceptionStatus.APPROVED)
        and permissions.can(user, permissions.REVOKE, exception),
        "can_close": exception.status == ExceptionStatus.APPROVED and permissions.can(user, permissions.CLOSE,
                                                                                     exception),
        "review_form": review_form or ReviewForm(),
        "reason_form": reason_form or ReasonForm(),
    }, status=status)


@login_required
@require_POST
def submit(request, pk):
    exception = _get(request, pk)
    try:
        services.exception_submit(exception=exception, actor=request.user)
        messages.success(request, f"{exception.reference} submitted. Security will review it.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(exception)


@login_required
@require_POST
def review(request, pk):
    exception = _get(request, pk)
    permissions.require(request.user, permissions.REVIEW, exception)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.exception_review(exception=exception, reviewer=request.user, **form.cleaned_data)
            messages.success(request, "Recommendation recorded. The signers have been asked to sign.")
            return redirect(exception)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return detail(request, pk, review_form=form, status=400)


@login_required
def sign(request, pk):
    exception = _get(request, pk)
    permissions.require(request.user, permissions.SIGN, exception)
    form = SignForm(request.POST or None, initial={"content_sha256": exception.content_sha256()})
    if request.method == "POST" and form.is_valid():
        try:
            signature = services.exception_sign(
                exception=exception, signer=request.user, request=request, ip_address=client_ip(request),
                **form.cleaned_data,
            )
            messages.success(request, f"Signed: you {signature.get_decision_display().lower()}d {exception.reference}"
                                      f" as {signature.get_role_display()}.")
            return redirect(exception)
        except ValidationError as exc:
            add_service_errors(form, exc)
    exception = _get(request, pk)
    current = exception.content_sha256()
    stale = form.is_bound and form.data.get("content_sha256") != current
    if form.is_bound:  # the page now shows the current version: sign that one next time
        form.data = form.data.copy()
        form.data["content_sha256"] = current
    return render(request, "exceptions/sign.html", {
        "exception": exception,
        "content": exception.signed_content(),
        "content_sha256": current,
        "stale": stale,
        "roles": services.open_signer_roles(exception, request.user),
        "roles_without_signer": selectors.signer_labels(services.roles_without_signer(exception)),
        "form": form,
    }, status=400 if form.errors else 200)


def _ending(request, pk, *, service, done: str):
    exception = _get(request, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason; it goes on the record. Nothing changed.")
        return redirect(exception)
    try:
        service(exception=exception, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, f"{exception.reference} {done}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(exception)


@login_required
@require_POST
def revoke(request, pk):
    return _ending(request, pk, service=services.exception_revoke, done="revoked")


@login_required
@require_POST
def close(request, pk):
    return _ending(request, pk, service=services.exception_close, done="closed as remediated")


@login_required
def exception_pdf(request, pk):
    exception = _get(request, pk)
    response = HttpResponse(reports.exception_pdf(exception), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{exception.reference}.pdf"'
    return response


@login_required
def register_pdf(request):
    filterset, qs = apply_filters(ExceptionFilterSet, request.GET, selectors.exceptions_for_list(user=request.user))
    response = HttpResponse(reports.register_pdf(qs, user=request.user), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="exception-register-{timezone.localdate()}.pdf"'
    return response
