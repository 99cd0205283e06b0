from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from controls import selectors as control_selectors
from controls.models import OWNER_ROLES, Control
from soc2hub import permissions
from soc2hub.models import ActivityLog, Team

ACTIVITY_PER_PAGE = 50


@login_required
def home(request):
    user = request.user
    my_teams = list(Team.objects.filter(memberships__user=user))
    owner_load = control_selectors.owner_load_by_team(user=user)
    return render(
        request,
        "home.html",
        {
            "counts": control_selectors.ownership_counts(user=user),
            "control_count": permissions.restrict(Control.objects.all(), user).count(),
            "owner_load": owner_load,
            "owner_load_chart": {
                "labels": [row["team"].name for row in owner_load],
                **{role: [row[f"criteria_{role}"] for row in owner_load] for role in OWNER_ROLES},
            },
            "my_teams": my_teams,
        },
    )


@login_required
def team_list(request):
    teams = permissions.restrict(Team.objects.select_related("lead"), request.user)
    rows = {row["team"].pk: row for row in control_selectors.owner_load_by_team(user=request.user)}
    return render(
        request,
        "soc2hub/team_list.html",
        {"teams": [(team, rows.get(team.pk, {})) for team in teams]},
    )


@login_required
def team_detail(request, slug):
    team = get_object_or_404(permissions.restrict(Team.objects.select_related("lead"), request.user), slug=slug)
    return render(
        request,
        "soc2hub/team_detail.html",
        {
            "team": team,
            "members": team.members.order_by("first_name", "last_name", "username"),
            "owned": control_selectors.team_ownership(user=request.user, team=team),
            "is_member": team.memberships.filter(user=request.user).exists(),
        },
    )


@login_required
def activity_list(request):
    permissions.require(request.user, permissions.VIEW, ActivityLog)
    qs = permissions.restrict(ActivityLog.objects.select_related("actor", "content_type"), request.user)
    verb = request.GET.get("verb", "").strip()
    if verb:
        qs = qs.filter(verb__startswith=verb)
    page = Paginator(qs, ACTIVITY_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "soc2hub/activity_list.html", {"page": page, "verb": verb})


def healthz(request):
    """Liveness for the load balancer and docker-compose: the app answers and the database too."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
