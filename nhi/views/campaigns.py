"""Attestation campaigns: Security opens and closes them; owner teams confirm their identities."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from nhi import campaigns
from nhi.forms import CampaignForm
from nhi.models import AttestationCampaign, AttestationDecision, AttestationItem
from soc2hub import permissions
from soc2hub.forms import add_service_errors

PENDING = Q(items__decision=AttestationDecision.PENDING)


@login_required
def campaign_list(request):
    permissions.require(request.user, permissions.VIEW, AttestationCampaign)
    mine = permissions.restrict(AttestationItem.objects.all(), request.user, permissions.ATTEST)
    qs = AttestationCampaign.objects.annotate(
        item_count=Count("items"),
        pending_count=Count("items", filter=PENDING),
        my_pending=Count("items", filter=PENDING & Q(items__in=mine.values("pk"))),
    ).order_by("-created_at", "-pk")  # an aggregate query drops Meta.ordering
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "nhi/campaign_list.html", {
        "page": page, "can_add": permissions.can(request.user, permissions.ADD, AttestationCampaign),
    })


@login_required
def campaign_create(request):
    permissions.require(request.user, permissions.ADD, AttestationCampaign)
    form = CampaignForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaigns.campaign_open(actor=request.user, **form.cleaned_data)
            messages.success(request, f"Campaign opened: {campaign.items.count()} identities to confirm.")
            return redirect(campaign)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "nhi/campaign_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def campaign_detail(request, pk):
    campaign = get_object_or_404(AttestationCampaign, pk=pk)
    permissions.require(request.user, permissions.VIEW, campaign)
    items = (permissions.restrict(campaign.items.all(), request.user, permissions.ATTEST)
             .select_related("nhi", "owner_team", "decided_by").order_by("decision", "nhi__name"))
    if request.GET.get("pending"):
        items = items.filter(decision=AttestationDecision.PENDING)
    counts = campaign.items.aggregate(
        total=Count("pk"), pending=Count("pk", filter=Q(decision=AttestationDecision.PENDING)),
        keep=Count("pk", filter=Q(decision=AttestationDecision.KEEP)),
        revoke=Count("pk", filter=Q(decision=AttestationDecision.REVOKE)),
    )
    return render(request, "nhi/campaign_detail.html", {
        "campaign": campaign, "counts": counts,
        "page": Paginator(items, 50).get_page(request.GET.get("page")),
        "can_close": campaign.status == "open" and permissions.can(request.user, permissions.CLOSE, campaign),
        "close_refused": permissions.refusal(request.user, permissions.CLOSE, campaign)
        if campaign.status == "open" else "",
        "decisions": AttestationDecision.choices,
    })


@login_required
@require_POST
def attest(request, pk):
    item = get_object_or_404(
        permissions.restrict(AttestationItem.objects.filter(campaign_id=pk), request.user, permissions.ATTEST),
        pk=request.POST.get("item") if str(request.POST.get("item", "")).isdigit() else None,
    )
    try:
        campaigns.item_attest(item=item, actor=request.user, decision=request.POST.get("decision", ""),
                              scopes_confirmed=request.POST.get("scopes_confirmed") == "on",
                              comment=request.POST.get("comment", ""))
        messages.success(request, f"{item.nhi}: recorded.")
    except ValidationError as exc:
        messages.error(request, f"{item.nhi}: {' '.join(exc.messages)}")
    return redirect(f"{item.campaign.get_absolute_url()}?{request.GET.urlencode()}#item-{item.pk}")


@login_required
@require_POST
def campaign_close(request, pk):
    campaign = get_object_or_404(AttestationCampaign, pk=pk)
    try:
        campaigns.campaign_close(campaign=campaign, actor=request.user)
        messages.success(request, "Campaign closed. Its results are recorded as evidence.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(campaign)
