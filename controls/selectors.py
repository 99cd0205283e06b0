"""Reads of criteria and controls, scoped to the person asking."""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q

from controls.models import OWNER_ROLES, Control, Criterion
from soc2hub import permissions
from soc2hub.models import ActivityLog, Team


def criteria_for_matrix(*, user):
    """Every criterion the user may see, with its owners, flags and number of controls."""
    qs = (
        Criterion.objects.with_owners()
        .with_ownership_flags()
        .annotate(
            control_count=Count("controls", distinct=True),
            has_lapsed_exception=Exists(
                Control.objects.filter(criteria=OuterRef("pk"), exception_lapsed_on__isnull=False)
            ),
        )
        .order_by("sort_order", "code")  # Meta.ordering does not apply to GROUP BY queries
    )
    return permissions.restrict(qs, user)


def ownership_counts(*, user) -> dict:
    """The flag counts shown above the matrix, over every criterion the user may see."""
    qs = permissions.restrict(Criterion.objects.with_ownership_flags(), user)
    return qs.aggregate(
        total=Count("pk"),
        unassigned=Count("pk", filter=Q(is_unassigned=True)),
        security_only=Count("pk", filter=Q(is_security_only=True)),
    )


def controls_for_list(*, user):
    qs = (
        Control.objects.with_owners()
        .with_ownership_flags()
        .prefetch_related(Prefetch("criteria", queryset=Criterion.objects.only("id", "code", "sort_order")))
    )
    return permissions.restrict(qs, user)


def team_ownership(*, user, team: Team) -> dict:
    """What a team owns, by role: the criteria and controls where it is each kind of owner."""
    criteria = list(criteria_for_matrix(user=user).owned_by(team))
    controls = list(controls_for_list(user=user).owned_by(team))
    return {
        "criteria": criteria,
        "controls": controls,
        "roles": {
            role: {
                "criteria": [c for c in criteria if getattr(c, f"{role}_id") == team.pk],
                "controls": [c for c in controls if getattr(c, f"{role}_id") == team.pk],
            }
            for role in OWNER_ROLES
        },
    }


def owner_load_by_team(*, user) -> list[dict]:
    """For each team, how many criteria and controls it owns in each role (for the home chart)."""
    teams = permissions.restrict(Team.objects.all(), user)
    counts = {}
    for model, key in ((Criterion, "criteria"), (Control, "controls")):
        for role in OWNER_ROLES:
            for team_id, n in (
                permissions.restrict(model.objects.all(), user)
                .filter(**{f"{role}__isnull": False})
                .values_list(role)
                .annotate(n=Count("pk"))
            ):
                counts[(team_id, key, role)] = n
    return [
        {
            "team": team,
            **{
                f"{key}_{role}": counts.get((team.pk, key, role), 0)
                for key in ("criteria", "controls")
                for role in OWNER_ROLES
            },
        }
        for team in teams
    ]


def history_for(obj, *, limit: int = 50):
    """The activity log entries about one object, newest first."""
    return ActivityLog.objects.for_object(obj).select_related("actor")[:limit]
