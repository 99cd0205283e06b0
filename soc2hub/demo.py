"""The demo organisation: teams, people, owners and about forty controls.

Seeding is idempotent: objects are created only when missing and existing ones are never
changed, so running it again loses nothing a user did in the demo. Owner assignments and
controls are applied on the first run only (marked by a ``demo.seeded`` log entry).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from controls.models import OWNER_ROLES, Control, CrosswalkReference, Criterion
from soc2hub.models import ActivityLog, Membership, Role, Team, User
from soc2hub.services import activity_record

DEMO_FILE = Path(__file__).resolve().parent / "data" / "demo_org.json"


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)
    first_run: bool = False
    users: list[User] = field(default_factory=list)


def _teams(data, result) -> dict[str, Team]:
    teams = {}
    for row in data["teams"]:
        team, created = Team.objects.get_or_create(
            slug=row["slug"], defaults={"name": row["name"], "function": row["function"]}
        )
        if created:
            result.created.append(f"team {team.slug}")
        teams[team.slug] = team
    return teams


def _users(data, teams, result) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in Role.values}
    for row in data["users"]:
        user = User.objects.filter(username=row["username"]).first()
        if user is None:
            user = User(
                username=row["username"],
                first_name=row.get("first_name", ""),
                last_name=row.get("last_name", ""),
                email=row.get("email", ""),
                is_staff=Role.SECURITY in row.get("groups", []),
                is_superuser=Role.SECURITY in row.get("groups", []),
            )
            user.set_password(settings.DEMO_PASSWORD)
            user.save()
            user.groups.set([groups[g] for g in row.get("groups", [])])
            for slug in row.get("teams", []):
                Membership.objects.get_or_create(user=user, team=teams[slug])
            result.created.append(f"user {user.username}")
        result.users.append(user)
    for row in data["teams"]:
        team = teams[row["slug"]]
        if team.lead_id is None and row.get("lead"):
            team.lead = User.objects.get(username=row["lead"])
            team.save(update_fields=["lead"])


def _owners_and_controls(data, teams, result) -> None:
    def team(slug):
        return teams[slug] if slug else None

    criteria = {c.code: c for c in Criterion.objects.all()}
    for code, owners in data["criteria_owners"].items():
        criterion = criteria[code]
        if any(getattr(criterion, f"{role}_id") for role in OWNER_ROLES):
            continue
        for role in OWNER_ROLES:
            setattr(criterion, role, team(owners.get(role)))
        criterion.save(update_fields=list(OWNER_ROLES))
    crosswalk = {c.code: c for c in CrosswalkReference.objects.all()}
    for row in data["controls"]:
        if Control.objects.filter(ref=row["ref"]).exists():
            continue
        control = Control.objects.create(
            ref=row["ref"],
            name=row["name"],
            description=row["description"],
            frequency=row["frequency"],
            automation=row["automation"],
            status=row["status"],
            evidence_standard=row.get("evidence_standard", ""),
            **{role: team(row.get(role)) for role in OWNER_ROLES},
        )
        control.criteria.set([criteria[code] for code in row["criteria"]])
        control.crosswalk.set([crosswalk[code] for code in row.get("crosswalk", [])])
        result.created.append(f"control {control.ref}")


@transaction.atomic
def seed_demo(path: Path = DEMO_FILE) -> SeedResult:
    if not Criterion.objects.exists():
        raise RuntimeError("Load the SOC 2 catalog first: python manage.py load_soc2_catalog")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    result = SeedResult(first_run=not ActivityLog.objects.filter(verb="demo.seeded").exists())
    teams = _teams(data, result)
    _users(data, teams, result)
    if result.first_run:
        _owners_and_controls(data, teams, result)
    if result.created:
        activity_record(
            actor=None,
            verb="demo.seeded",
            after={"created": len(result.created)},
            message=", ".join(result.created)[:5000],
        )
    return result
