from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from controls import selectors, services
from evidence import selectors as evidence_selectors
from evidence.models import EvidenceTemplate
from exceptions import services as exception_services
from controls.filtersets import ControlFilterSet, CriterionFilterSet
from controls.forms import ControlForm, OwnerChangeForm
from controls.models import OWNER_ROLE_LABELS, Control, Criterion
from soc2hub import permissions
from soc2hub.filters import apply_filters
from soc2hub.forms import add_service_errors
from soc2hub.models import Team

CONTROLS_PER_PAGE = 25


@login_required
def ownership_matrix(request):
    filterset, criteria = apply_filters(CriterionFilterSet, request.GET, selectors.criteria_for_matrix(user=request.user))
    return render(
        request,
        "controls/matrix.html",
        {
            "filterset": filterset,
            "criteria": criteria,
            "counts": selectors.ownership_counts(user=request.user),
            "teams": list(Team.objects.all()),
            "can_edit": permissions.can(request.user, permissions.CHANGE_OWNERS, Criterion),
            "owner_roles": OWNER_ROLE_LABELS,
        },
    )


@login_required
@require_POST
def criterion_owner_change(request, code):
    criterion = get_object_or_404(permissions.restrict(Criterion.objects.all(), request.user), code=code)
    permissions.require(request.user, permissions.CHANGE_OWNERS, criterion)
    form = OwnerChangeForm(request.POST, user=request.user)
    error = None
    if form.is_valid():
        services.criterion_set_owners(
            criterion=criterion, actor=request.user, owners={form.cleaned_data["role"]: form.cleaned_data["team"]}
        )
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    if not request.htmx:
        if error:
            messages.error(request, f"{criterion.code}: {error}")
        else:
            messages.success(request, f"{criterion.code} owners saved.")
        return redirect(request.POST.get("next") or "ownership_matrix")
    row = selectors.criteria_for_matrix(user=request.user).get(pk=criterion.pk)
    response = render(
        request,
        "controls/partials/matrix_row_response.html",
        {
            "criterion": row,
            "teams": list(Team.objects.all()),
            "can_edit": True,
            "counts": selectors.ownership_counts(user=request.user),
            "error": error,
            "owner_roles": OWNER_ROLE_LABELS,
        },
    )
    if error:
        response.status_code = 422
    return response


@login_required
def criterion_detail(request, code):
    criterion = get_object_or_404(selectors.criteria_for_matrix(user=request.user), code=code)
    return render(
        request,
        "controls/criterion_detail.html",
        {
            "criterion": criterion,
            "controls": selectors.controls_for_list(user=request.user).filter(criteria=criterion),
            "history": selectors.history_for(criterion),
        },
    )


@login_required
def control_list(request):
    filterset, qs = apply_filters(ControlFilterSet, request.GET, selectors.controls_for_list(user=request.user))
    page = Paginator(qs, CONTROLS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "controls/control_list.html",
        {
            "filterset": filterset,
            "page": page,
            "can_add": permissions.can(request.user, permissions.ADD, Control),
        },
    )


@login_required
def control_detail(request, ref):
    control = get_object_or_404(
        selectors.controls_for_list(user=request.user).prefetch_related("crosswalk"), ref=ref
    )
    return render(
        request,
        "controls/control_detail.html",
        {
            "control": control,
            "history": selectors.history_for(control),
            "can_edit": permissions.can(request.user, permissions.CHANGE, control),
            "evidence_templates": evidence_selectors.templates_for_list(user=request.user).filter(control=control),
            "can_add_template": permissions.can(request.user, permissions.ADD, EvidenceTemplate),
        },
    )


def _control_form_page(request, *, control: Control | None):
    can_change_owners = permissions.can(request.user, permissions.CHANGE_OWNERS, control or Control)
    form = ControlForm(request.POST or None, instance=control, user=request.user,
                       can_change_owners=can_change_owners)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        criteria, crosswalk = data.pop("criteria"), data.pop("crosswalk")
        try:
            if control is None:
                control = services.control_create(actor=request.user, criteria=criteria, crosswalk=crosswalk, **data)
                messages.success(request, f"Control {control.ref} created.")
            else:
                data.pop("ref", None)
                if not can_change_owners:
                    for role in ("business_owner", "control_owner", "evidence_owner"):
                        data.pop(role, None)
                control = services.control_update(
                    control=control, actor=request.user, criteria=criteria, crosswalk=crosswalk, **data
                )
                messages.success(request, f"Control {control.ref} saved.")
            return redirect(control)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "controls/control_form.html", {"form": form, "control": control})


@login_required
def control_create(request):
    permissions.require(request.user, permissions.ADD, Control)
    return _control_form_page(request, control=None)


@login_required
def control_edit(request, ref):
    control = get_object_or_404(permissions.restrict(Control.objects.all(), request.user), ref=ref)
    permissions.require(request.user, permissions.CHANGE, control)
    return _control_form_page(request, control=control)


@login_required
@require_POST
def control_exception_lapse_clear(request, ref):
    control = get_object_or_404(permissions.restrict(Control.objects.all(), request.user), ref=ref)
    exception_services.control_exception_lapse_clear(control=control, actor=request.user)
    messages.success(request, f"{control.ref} marked as reviewed after its exception expired.")
    return redirect(control)
