from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from audits import selectors as audit_selectors
from controls import selectors as control_selectors
from controls.models import OWNER_ROLES, Control
from evidence import selectors as evidence_selectors
from evidence.models import CalendarFeed
from soc2hub import jobs, permissions
from soc2hub.models import ActivityLog, JobRun, JobRunStatus, Notification, Team

ACTIVITY_PER_PAGE = 50
JOB_RUNS_PER_PAGE = 50


@login_required
def home(request):
    user = request.user
    if user.is_external_auditor:
        # Auditors see the programme only through their audits: straight to theirs.
        audits = list(audit_selectors.audits_for(user=user)[:2])
        return redirect(audits[0] if len(audits) == 1 else "audits:list")
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
    templates = evidence_selectors.templates_for_list(user=request.user).filter(owner_team=team, is_active=True)
    return render(
        request,
        "soc2hub/team_detail.html",
        {
            "team": team,
            "members": team.members.order_by("first_name", "last_name", "username"),
            "owned": control_selectors.team_ownership(user=request.user, team=team),
            "is_member": team.memberships.filter(user=request.user).exists(),
            "year_ahead": evidence_selectors.year_ahead(templates=templates),
            "outstanding": evidence_selectors.requests_for_list(user=request.user)
            .filter(owner_team=team).awaiting_team()[:10],
            "calendar_feeds": permissions.restrict(
                CalendarFeed.objects.filter(team=team, revoked_at__isnull=True), request.user, permissions.MANAGE
            ),
            "can_manage_calendar": permissions.can(request.user, permissions.MANAGE, CalendarFeed(team=team)),
            "site_url": settings.SITE_URL,
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


@login_required
def job_list(request):
    """Every registered daily job with its last run, then the runs, newest first (Security)."""
    permissions.require(request.user, permissions.VIEW, JobRun)
    runs = permissions.restrict(JobRun.objects.all(), request.user)
    last = jobs.last_runs(runs)
    names = list(jobs.registered_jobs())
    history = runs.order_by("-day", "-started_at", "job")
    job, status = request.GET.get("job", ""), request.GET.get("status", "")
    if job:
        history = history.filter(job=job)
    if status in JobRunStatus.values:
        history = history.filter(status=status)
    return render(request, "soc2hub/job_list.html", {
        "jobs": [(name, last.get(name)) for name in names],
        "unregistered": sorted(set(last) - set(names)),
        "page": Paginator(history, JOB_RUNS_PER_PAGE).get_page(request.GET.get("page")),
        "job": job, "status": status, "names": names, "statuses": JobRunStatus.choices,
    })


@login_required
def notification_list(request):
    qs = permissions.restrict(Notification.objects.all(), request.user)
    page = Paginator(qs, ACTIVITY_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "soc2hub/notification_list.html", {"page": page})


@login_required
@require_POST
def notifications_mark_read(request):
    """Mark one notification (``id``) or all of the user's notifications as read."""
    qs = permissions.restrict(Notification.objects.filter(read_at__isnull=True), request.user, permissions.CHANGE)
    if "id" in request.POST:
        if not request.POST["id"].isdigit():
            return HttpResponseBadRequest("Which notification? The id must be a number.")
        qs = qs.filter(pk=request.POST["id"])
    qs.update(read_at=timezone.now())
    target = request.POST.get("next", "")
    return redirect(target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                              require_https=request.is_secure()) and target
                    else "notification_list")
