"""Reads of non-human identities, scoped to the person asking."""

from django.db.models import Count, Q
from django.utils import timezone

from nhi.models import NonHumanIdentity, state_conditions
from soc2hub import permissions
from soc2hub.models import ActivityLog, Team

SUMMARY_FLAGS = ("owned", "is_rotation_overdue", "is_stale", "is_orphaned", "is_never_rotated", "is_expiring_soon")


def inventory(*, user, today=None):
    return permissions.restrict(
        NonHumanIdentity.objects.with_state(today).select_related("owner_team", "technical_owner"), user
    )


def _summary_aggregates(today) -> dict:
    conditions = state_conditions(today)
    return {
        "total": Count("pk"),
        "owned": Count("pk", filter=Q(owner_team__isnull=False)),
        **{name: Count("pk", filter=condition) for name, condition in conditions.items()},
    }


def _percentages(row: dict) -> dict:
    total = row["total"] or 0
    return {**row, **{f"pct_{key}": (round(100 * row[key] / total, 1) if total else 0.0) for key in SUMMARY_FLAGS}}


def visibility_overall(*, user, today=None) -> dict:
    """The overall figures alone (the inventory page's tiles): one aggregate query."""
    today = today or timezone.localdate()
    live = permissions.restrict(NonHumanIdentity.objects.live(), user)
    return _percentages(live.aggregate(**_summary_aggregates(today)))


def visibility_summary(*, user, today=None) -> dict:
    """% with an owner, % rotation overdue, % stale, % orphaned, % never rotated — over the live
    identities the user may see, per owner team in one grouped query, and overall as their sum."""
    today = today or timezone.localdate()
    live = permissions.restrict(NonHumanIdentity.objects.live(), user)
    teams = {t.pk: t for t in Team.objects.all()}
    rows = list(live.values("owner_team").annotate(**_summary_aggregates(today)).order_by("owner_team__name"))
    keys = [key for key in rows[0] if key != "owner_team"] if rows else list(_summary_aggregates(today))
    overall = {key: sum(row[key] for row in rows) for key in keys}
    per_team = [{"team": teams.get(row.pop("owner_team")), **_percentages(row)} for row in rows]
    return {"overall": _percentages(overall), "per_team": per_team}


def history(nhi):
    return ActivityLog.objects.for_object(nhi).select_related("actor").order_by("-created_at", "-id")[:100]
