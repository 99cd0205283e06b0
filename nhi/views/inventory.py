"""The inventory: list, visibility summary, detail, and the lifecycle actions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from nhi import export, selectors, services
from nhi.filtersets import STATE_FLAGS, NhiFilterSet
from nhi.forms import NhiForm, RevokeForm, RotateForm, TransferForm
from nhi.models import LIVE_STATUSES, NhiImport, NonHumanIdentity
from soc2hub import permissions
from soc2hub.filters import apply_filters
from soc2hub.forms import add_service_errors

PER_PAGE = 50


def filtered_inventory(request):
    filterset, qs = apply_filters(NhiFilterSet, request.GET, selectors.inventory(user=request.user))
    if not request.GET.get("ordering"):
        qs = qs.order_by("name", "id")
    return filterset, qs


@login_required
def inventory(request):
    filterset, qs = filtered_inventory(request)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "nhi/inventory.html", {
        "filterset": filterset, "page": page,
        "summary": selectors.visibility_overall(user=request.user),
        "can_add": permissions.can(request.user, permissions.ADD, NonHumanIdentity),
        "can_import": permissions.can(request.user, permissions.IMPORT, NhiImport),
        "state_filters": [(name, filterset.form.fields[name].label) for name in STATE_FLAGS],
    })


@login_required
def summary(request):
    summary = selectors.visibility_summary(user=request.user)
    rows = summary["per_team"]
    chart = {
        "labels": [row["team"].name if row["team"] else "No owner team" for row in rows],
        "overdue": [row["pct_is_rotation_overdue"] for row in rows],
        "never": [row["pct_is_never_rotated"] for row in rows],
        "stale": [row["pct_is_stale"] for row in rows],
        "orphaned": [row["pct_is_orphaned"] for row in rows],
    }
    return render(request, "nhi/summary.html", {"summary": summary, "chart": chart})


def get_nhi(request, pk) -> NonHumanIdentity:
    try:
        return selectors.inventory(user=request.user).prefetch_related("controls").get(pk=pk)
    except NonHumanIdentity.DoesNotExist as exc:
        raise Http404("No such identity, or it belongs to another team.") from exc


@login_required
def detail(request, pk, *, rotate_form=None, revoke_form=None, transfer_form=None, status=200):
    nhi = get_nhi(request, pk)
    user = request.user
    live = nhi.status in LIVE_STATUSES
    return render(request, "nhi/detail.html", {
        "nhi": nhi,
        "rotations": nhi.rotations.select_related("rotated_by")[:20],
        "history": selectors.history(nhi),
        "can_edit": permissions.can(user, permissions.CHANGE, nhi),
        "can_act": live and permissions.can(user, permissions.ROTATE, nhi),
        "rotate_form": rotate_form or RotateForm(),
        "revoke_form": revoke_form or RevokeForm(),
        "transfer_form": transfer_form or TransferForm(user=user),
    }, status=status)


def _form_page(request, *, nhi):
    form = NhiForm(request.POST or None, instance=nhi, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        controls = data.pop("controls")
        try:
            if nhi is None:
                nhi = services.nhi_create(actor=request.user, controls=controls, **data)
                messages.success(request, f"{nhi} registered.")
            else:
                data.pop("owner_team", None)
                nhi = services.nhi_update(nhi=nhi, actor=request.user, controls=controls, **data)
                messages.success(request, f"{nhi} saved.")
            return redirect(nhi)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "nhi/form.html", {"form": form, "nhi": nhi}, status=400 if form.errors else 200)


@login_required
def create(request):
    permissions.require(request.user, permissions.ADD, NonHumanIdentity)
    return _form_page(request, nhi=None)


@login_required
def edit(request, pk):
    nhi = get_nhi(request, pk)
    permissions.require(request.user, permissions.CHANGE, nhi)
    return _form_page(request, nhi=nhi)


def _action(request, pk, *, form_class, form_name, run, done, form_kwargs=None):
    nhi = get_nhi(request, pk)
    form = form_class(request.POST, request.FILES, **(form_kwargs or {}))
    if form.is_valid():
        try:
            run(nhi, form.cleaned_data)
            messages.success(request, done)
            # After a transfer away, the identity may no longer be ours to see.
            still_visible = selectors.inventory(user=request.user).filter(pk=nhi.pk).exists()
            return redirect(nhi if still_visible else "nhi:inventory")
        except ValidationError as exc:
            add_service_errors(form, exc)
            if nhi.status not in LIVE_STATUSES:  # the forms are not shown for it: say it up top
                messages.error(request, " ".join(exc.messages))
    return detail(request, pk, **{form_name: form}, status=400)


@login_required
@require_POST
def rotate(request, pk):
    permissions.require(request.user, permissions.ROTATE, get_nhi(request, pk))
    return _action(request, pk, form_class=RotateForm, form_name="rotate_form", done="Rotation recorded.",
                   run=lambda nhi, data: services.nhi_rotate(nhi=nhi, actor=request.user, **data))


@login_required
@require_POST
def revoke(request, pk):
    permissions.require(request.user, permissions.REVOKE, get_nhi(request, pk))
    return _action(request, pk, form_class=RevokeForm, form_name="revoke_form", done="Revocation recorded.",
                   run=lambda nhi, data: services.nhi_revoke(nhi=nhi, actor=request.user, **data))


@login_required
@require_POST
def transfer(request, pk):
    permissions.require(request.user, permissions.TRANSFER, get_nhi(request, pk))
    return _action(request, pk, form_class=TransferForm, form_name="transfer_form",
                   form_kwargs={"user": request.user},
                   done="Ownership transferred. The credential is marked for rotation.",
                   run=lambda nhi, data: services.nhi_transfer(nhi=nhi, actor=request.user, **data))


@login_required
def export_csv(request):
    """The filtered list as CSV, streamed, in the import format (formula cells neutralised).
    An unreadable filter is refused rather than quietly exporting more than was asked for."""
    filterset, qs = filtered_inventory(request)
    if filterset.is_bound and filterset.errors:
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
        return HttpResponseBadRequest(f"Nothing exported: these filters could not be read: {problems}",
                                      content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(export.csv_rows(qs, byte_order_mark=True), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="non-human-identities-{timezone.localdate()}.csv"'
    return response
