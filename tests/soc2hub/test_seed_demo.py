"""seed_demo: the demo organisation, created once and never reverting what people changed."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from controls import services
from controls.models import Control, Criterion
from controls.selectors import ownership_counts
from soc2hub.models import ActivityLog, Membership, Team, User

TEAMS = {
    "security": "security", "legal": "legal", "hr": "hr", "engineering": "engineering",
    "finance": "finance", "procurement": "procurement", "leadership": "leadership",
}
USERS = {
    # username: (teams, groups)
    "security": ({"security"}, {"Security"}),
    "leadership": ({"leadership"}, {"Leadership"}),
    "auditor": (set(), {"Auditors"}),
    "legal": ({"legal"}, set()),
    "hr": ({"hr"}, set()),
    "engineering": ({"engineering"}, set()),
    "finance": ({"finance"}, set()),
    "procurement": ({"procurement"}, set()),
}


@pytest.fixture
def seeded(db):
    call_command("load_soc2_catalog")
    call_command("seed_demo")


def counts() -> dict:
    return {
        "teams": Team.objects.count(),
        "users": User.objects.count(),
        "groups": Group.objects.count(),
        "memberships": Membership.objects.count(),
        "controls": Control.objects.count(),
        "control_criteria": Control.criteria.through.objects.count(),
        "control_crosswalk": Control.crosswalk.through.objects.count(),
        "log": ActivityLog.objects.count(),
        "criterion_owners": list(Criterion.objects.order_by("code").values_list(
            "business_owner", "control_owner", "evidence_owner")),
        "control_rows": list(Control.objects.order_by("ref").values_list(
            "ref", "name", "status", "business_owner", "control_owner", "evidence_owner")),
        "users_rows": list(User.objects.order_by("username").values_list(
            "username", "password", "is_active", "is_staff", "is_superuser")),
    }


def test_demo_organisation(seeded):
    # One test, several checks: seeding is the slow part (about a second on PostgreSQL).

    # Seven teams, each with a lead who is a member.
    assert {t.slug: t.function for t in Team.objects.all()} == TEAMS
    for team in Team.objects.select_related("lead"):
        assert team.lead is not None and team.memberships.filter(user=team.lead).exists(), team.slug

    # The demo logins, in their teams and role groups, with the documented password.
    for username, (teams, groups) in USERS.items():
        user = User.objects.get(username=username)
        assert user.is_active, username
        assert user.check_password(settings.DEMO_PASSWORD), username
        assert set(user.teams.values_list("slug", flat=True)) == teams, username
        assert set(user.groups.values_list("name", flat=True)) == groups, username
        assert user.is_security == (username == "security"), username
        assert user.is_leadership == (username == "leadership"), username
        assert user.is_auditor == (username == "auditor"), username

    # About forty valid controls, each mapped, run by several teams.
    controls = Control.objects.all()
    assert 35 <= controls.count() <= 50
    assert not controls.filter(criteria=None).exists()
    control_owners = set(controls.exclude(control_owner=None).values_list("control_owner__slug", flat=True))
    assert len(control_owners) >= 5  # spread across teams, not all security
    for control in controls:
        control.full_clean()  # refs, choices and lengths are valid as if typed into the form

    # A few flags show, CC7.2 among the security-only ones.
    figures = ownership_counts(user=User.objects.get(username="security"))
    assert figures["total"] == 61
    assert figures["security_only"] >= 1
    assert figures["unassigned"] >= 1
    assert figures["unassigned"] + figures["security_only"] < 30  # a few, not the whole matrix
    assert Criterion.objects.with_ownership_flags().get(code="CC7.2").is_security_only


def test_seeding_twice_changes_nothing(seeded, capsys):
    before = counts()
    call_command("seed_demo")
    assert counts() == before
    out = capsys.readouterr().out
    assert "nothing changed" in out
    assert settings.DEMO_PASSWORD in out  # the logins are printed every time
    assert all(username in out for username in USERS)


def test_reseed_keeps_an_owner_change_made_in_the_app(seeded):
    security, hr = User.objects.get(username="security"), Team.objects.get(slug="hr")
    services.criterion_set_owners(criterion=Criterion.objects.get(code="CC7.2"), actor=security,
                                  owners={"control_owner": hr})
    before = counts()
    call_command("seed_demo")
    assert Criterion.objects.get(code="CC7.2").control_owner == hr
    assert counts() == before


def test_reseed_keeps_owner_and_control_changes(seeded):
    hr = Team.objects.get(slug="hr")
    Criterion.objects.filter(code="CC7.2").update(control_owner=hr)
    Criterion.objects.filter(code="CC6.5").update(business_owner=None, control_owner=None, evidence_owner=None)
    control = Control.objects.order_by("ref").first()
    control.name = "Renamed by a person"
    control.save()
    removed = Control.objects.order_by("ref").last().ref
    Control.objects.filter(ref=removed).delete()
    before = counts()

    call_command("seed_demo")

    assert counts() == before
    assert Criterion.objects.get(code="CC7.2").control_owner == hr
    assert not Control.objects.filter(ref=removed).exists()  # a deleted demo control stays deleted


def test_reseed_keeps_a_changed_password_and_membership(seeded):
    hr_user = User.objects.get(username="hr")
    hr_user.set_password("a new and private passphrase")
    hr_user.save()
    Membership.objects.filter(user__username="finance").delete()
    leadership = User.objects.get(username="leadership")
    leadership.is_active = False
    leadership.save()

    call_command("seed_demo")

    hr_user.refresh_from_db()
    assert hr_user.check_password("a new and private passphrase")
    assert not hr_user.check_password(settings.DEMO_PASSWORD)
    assert not Membership.objects.filter(user__username="finance").exists()
    assert not User.objects.get(username="leadership").is_active


def test_seed_before_the_catalog_is_refused(db):
    with pytest.raises(CommandError, match="load_soc2_catalog"):
        call_command("seed_demo")
    assert Team.objects.count() == 0
    assert User.objects.count() == 0
    assert ActivityLog.objects.count() == 0


def test_demo_audit_for_the_auditor_with_gaps_and_an_open_request(seeded):
    from audits.coverage import audit_coverage
    from audits.models import Audit, AuditRequest
    from audits.services import sample_population
    from nhi.models import NonHumanIdentity

    audit = Audit.objects.get()
    today = timezone.localdate()
    assert (audit.type, audit.status, audit.window_end) == ("type2", "fieldwork", today)
    assert (audit.window_end - audit.window_start).days == 364
    assignment = audit.assignments.get()
    assert assignment.user.username == "auditor" and assignment.access_ends_on > today
    coverage = audit_coverage(audit)
    assert coverage.approved > 0 and coverage.gaps > 0
    [request] = AuditRequest.objects.all()
    assert request.stage == "with_team" and request.evidence_request.owner_team.slug == "hr"
    assert len(sample_population(audit, "nhis_revoked")) == NonHumanIdentity.objects.filter(status="revoked").count() > 10


def test_demo_access_admin_superuser_security_not_and_second_factors(db, settings, capsys):
    """Setup belongs to a separate ``admin``; Security administers the programme but is no
    superuser; the people MFA_REQUIRED_GROUPS names sign in with the documented demo key."""
    from allauth.mfa.models import Authenticator

    from tests.factories import totp_now

    settings.MFA_REQUIRED_GROUPS = ["Security", "Leadership", "Finance", "Auditors"]
    call_command("load_soc2_catalog")
    call_command("seed_demo")

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(settings.DEMO_PASSWORD)
    assert not User.objects.filter(is_superuser=True).exclude(username="admin").exists()
    enrolled = set(Authenticator.objects.filter(type="totp").values_list("user__username", flat=True))
    assert enrolled == {"security", "leadership", "auditor", "finance", "fin2", "admin"}
    out = capsys.readouterr().out
    assert settings.DEMO_TOTP_SECRET in out and "recovery codes" in out

    # The documented key signs the demo's Security lead in, code after password.
    from django.test import Client

    client = Client()
    step = client.post("/accounts/login/", {"login": "security", "password": settings.DEMO_PASSWORD})
    assert step["Location"] == "/accounts/2fa/authenticate/"
    assert client.post("/accounts/2fa/authenticate/", {"code": totp_now(settings.DEMO_TOTP_SECRET)})["Location"] == "/"


def test_an_older_demo_loses_its_superuser_security_and_says_so(db):
    """A demo seeded before sign-in hardening made ``security`` a superuser; the access step
    (run once, under its own marker) takes that away and logs it."""
    from soc2hub import demo

    call_command("load_soc2_catalog")
    call_command("seed_demo")
    User.objects.filter(username="security").update(is_superuser=True, is_staff=True)
    result = demo.SeedResult(users=list(User.objects.filter(username__in=USERS)))
    with transaction.atomic():
        demo._access(result)
    security = User.objects.get(username="security")
    assert not security.is_superuser and not security.is_staff
    entry = ActivityLog.objects.get(verb="demo.superuser_removed")
    assert entry.object_id == str(security.pk) and "no longer a superuser" in entry.message
    call_command("seed_demo")  # the marker exists: a later run changes nothing
    assert ActivityLog.objects.filter(verb="demo.superuser_removed").count() == 1
