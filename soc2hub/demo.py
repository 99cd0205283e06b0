"""The demo organisation: teams, people, owners and about forty controls.

Seeding is idempotent: objects are created only when missing and existing ones are never
changed, so running it again loses nothing a user did in the demo. Owner assignments and
controls are applied on the first run only (marked by a ``demo.seeded`` log entry).
"""

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from controls.models import OWNER_ROLES, Control, CrosswalkReference, Criterion
from evidence import services as evidence_services
from exceptions import services as exception_services
from evidence.models import AWAITING_TEAM, EvidenceRequest
from nhi.campaigns import campaign_open, item_attest
from nhi.models import DEFAULT_ROTATION_DAYS, NonHumanIdentity, rotation_due
from soc2hub import jobs, notifications
from soc2hub.auth import mfa_required, second_factor_enrol
from soc2hub.models import ActivityLog, Membership, Role, Team, User
from soc2hub.services import activity_record

DEMO_FILE = Path(__file__).resolve().parent / "data" / "demo_org.json"
DEMO_ADMIN = "admin"


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


def _demo_file(request) -> SimpleUploadedFile:
    """A small CSV standing in for the export the team would upload."""
    rows = ["record_id,date,status,reviewed_by"]
    day = request.period_start
    for n in range(1, 6):
        rows.append(f"{request.control.ref}-{request.period_label}-{n},{day.isoformat()},complete,{request.owner_team.slug}")
    name = f"{request.control.ref.lower()}-{request.period_label}.csv"
    return SimpleUploadedFile(name, ("\n".join(rows) + "\n").encode(), content_type="text/csv")


def _evidence(data, teams, result) -> None:
    """Evidence standards for the demo controls, a year of their requests through the daily
    jobs, and a realistic spread of states: approved history, returned, in review, overdue."""
    security = User.objects.get(username="security")
    today = timezone.localdate()
    starts_on = dt.date(today.year - 1, 1, 1)
    controls = {c.ref: c for c in Control.objects.filter(ref__in=[t["control"] for t in data["evidence_templates"]])}
    templates = {}
    for row in data["evidence_templates"]:
        control = controls[row["control"]]
        templates[row["control"]] = evidence_services.template_create(
            actor=security, control=control, title=row["title"], instructions=row["instructions"],
            acceptance_criteria=row["acceptance_criteria"], cadence=row["cadence"], owner_team=teams[row["owner_team"]],
            opens_days_after_period_end=row.get("opens_days_after_period_end", 0),
            due_days_after_period_end=row.get("due_days_after_period_end", 14), starts_on=starts_on,
        )
        result.created.append(f"evidence standard {row['title']}")
    with notifications.suppressed():  # history, not news: nobody is told about last year's approvals
        _evidence_history(templates, teams, security, today)
    jobs.run_daily_jobs(today)  # reminders, escalations and digests, as the morning run would
    result.created.append("evidence requests and submissions")


def _evidence_history(templates, teams, security, today) -> None:
    evidence_services.requests_open_due(as_of=today)
    leads = {team.pk: team.lead for team in teams.values()}
    for ref, template in templates.items():
        requests = list(template.requests.select_related("owner_team", "control").order_by("period_start"))
        for index, request in enumerate(requests):
            latest = index == len(requests) - 1
            if request.due_on >= today - dt.timedelta(days=45) and not (latest and ref in ("HR-05", "PRC-01")):
                continue  # recent periods stay open: due soon or overdue
            submitter = leads[request.owner_team_id]
            evidence = evidence_services.evidence_submit(request=request, actor=submitter, files=[_demo_file(request)],
                                                         note="Exported from the system of record.")
            if latest and ref == "HR-05":
                evidence_services.evidence_return(
                    evidence=evidence, reviewer=security,
                    reason="Two leavers from the HRIS export have no offboarding ticket; add them or explain.")
            elif latest and ref == "PRC-01":
                continue  # waiting in Security's review queue
            else:
                evidence_services.evidence_approve(evidence=evidence, reviewer=security)


def _sign_all(exception, people) -> None:
    content_sha256 = exception.content_sha256()
    for person in people:
        exception_services.exception_sign(
            exception=exception, signer=person, decision="approve", typed_name=person.get_full_name(),
            password=settings.DEMO_PASSWORD, content_sha256=content_sha256, ip_address="127.0.0.1",
            otp_code=_recovery_codes(person)[0],  # the step-up, with one of the person's recovery codes
        )


def _recovery_codes(person) -> list[str]:
    return second_factor_enrol(user=person, secret=settings.DEMO_TOTP_SECRET)


def _access(result) -> None:
    """Who administers what: a separate ``admin`` superuser for setup; Security administers
    the programme but is no superuser; everyone whom MFA_REQUIRED_GROUPS names gets the demo
    authenticator key (README) so the demo signs in with the production default."""
    if not User.objects.filter(username=DEMO_ADMIN).exists():
        User.objects.create_superuser(username=DEMO_ADMIN, email="admin@example.com", password=settings.DEMO_PASSWORD,
                                      first_name="Setup", last_name="Administrator")
        result.created.append(f"superuser {DEMO_ADMIN}")
    demoted = User.objects.filter(username__in=[u.username for u in result.users], is_superuser=True)
    for person in demoted:
        activity_record(actor=None, verb="demo.superuser_removed", obj=person,
                        message=f"{person} is no longer a superuser: Security administers the programme, "
                                f"{DEMO_ADMIN} the accounts.")
    demoted.update(is_superuser=False, is_staff=False)
    for person in [*result.users, User.objects.get(username=DEMO_ADMIN)]:
        if mfa_required(person):
            _recovery_codes(person)
            result.created.append(f"authenticator app for {person.username}")


def _exceptions(teams, result) -> None:
    """A few exceptions in different states: signed, awaiting signatures, expiring this week,
    a draft, and one that expires tomorrow and then puts its control back in view."""
    people = {u.username: u for u in User.objects.filter(
        username__in=["security", "leadership", "finance", "engineering", "hr", "procurement", "legal"])}
    security, leadership, finance = people["security"], people["leadership"], people["finance"]
    today = timezone.localdate()
    controls = {c.ref: c for c in Control.objects.all()}

    def create(actor, **fields):
        return exception_services.exception_create(actor=actor, **fields)

    def submit_and_review(exception, actor, note):
        exception_services.exception_submit(exception=exception, actor=actor)
        exception_services.exception_review(exception=exception, reviewer=security, recommendation="approve",
                                            note=note)

    contractor = create(
        people["engineering"], type="access", title="Contractor keeps production database access during migration",
        description="Two contractors from the database migration vendor keep read-write access to the production "
                    "database for 60 days beyond the 30-day contractor limit in the access policy.",
        justification="The migration cut-over is scheduled for next month; replacing the contractors now would "
                      "delay it by a quarter.",
        likelihood=3, impact=4, compensating_controls="Access through the bastion only, session recording on, "
        "weekly review of their queries by the database lead.",
        requesting_team=teams["engineering"], business_owner=teams["engineering"],
        expires_on=today + dt.timedelta(days=60), controls=[controls["ENG-09"]],
        criteria=Criterion.objects.filter(code__in=["CC6.1", "CC6.3"]),
    )
    submit_and_review(contractor, people["engineering"], "Acceptable for 60 days with session recording.")
    _sign_all(contractor, [finance, leadership])

    vendor = create(
        people["procurement"], type="vendor", title="Payroll vendor onboarded before its SOC 2 report arrives",
        description="The new payroll provider has not yet issued its SOC 2 Type II report.",
        justification="The previous provider's contract ends this month.",
        likelihood=2, impact=3, compensating_controls="Security questionnaire completed; bridge letter requested.",
        requesting_team=teams["procurement"], business_owner=teams["finance"],
        expires_on=today + dt.timedelta(days=5), controls=[controls["PRC-01"]],
    )
    submit_and_review(vendor, people["procurement"], "Low data exposure; the report is due within the week.")
    _sign_all(vendor, [leadership])

    hires = create(
        people["hr"], type="policy", title="Two urgent hires start before background checks complete",
        description="Two support engineers start on Monday; their background checks finish next week.",
        justification="Customer commitments for the holiday support rota.",
        likelihood=2, impact=2, compensating_controls="No production access until the checks are complete.",
        requesting_team=teams["hr"], business_owner=teams["hr"], expires_on=today + dt.timedelta(days=30),
        controls=[controls["HR-01"]],
    )
    submit_and_review(hires, people["hr"], "Fine with no production access until cleared.")

    create(
        people["legal"], type="policy", title="Customer-specific data retention term",
        description="A customer contract requires 10-year retention of audit logs, beyond our 7-year standard.",
        justification="Large enterprise deal.", likelihood=1, impact=2, requesting_team=teams["legal"],
        business_owner=teams["legal"], expires_on=today + dt.timedelta(days=180),
    )

    backups = create(
        people["engineering"], type="control_deviation", title="Restore test skipped during datacentre move",
        description="The half-yearly restore test was postponed while the backup system moved region.",
        justification="The backup system was read-only during the move.", likelihood=2, impact=4,
        compensating_controls="Backups verified by checksum daily.", requesting_team=teams["engineering"],
        business_owner=teams["engineering"], expires_on=today + dt.timedelta(days=1), controls=[controls["ENG-04"]],
    )
    submit_and_review(backups, people["engineering"], "Acceptable for the move only.")
    _sign_all(backups, [leadership])  # expires tomorrow: the daily job then flags ENG-04 for review

    # Leadership signs against Security's advice: the risk acceptance is theirs, and the record says so.
    analytics = create(
        people["procurement"], type="vendor", title="Marketing analytics vendor before its security review",
        description="The marketing team starts a trial of an analytics vendor whose security review is not done.",
        justification="The campaign launches this month.", likelihood=3, impact=3,
        compensating_controls="Only pseudonymised web events are sent.", requesting_team=teams["procurement"],
        business_owner=teams["procurement"], expires_on=today + dt.timedelta(days=90),
    )
    exception_services.exception_submit(exception=analytics, actor=people["procurement"])
    exception_services.exception_review(exception=analytics, reviewer=security, recommendation="reject",
                                        note="The vendor has no SOC 2 report and would receive customer identifiers.")
    _sign_all(analytics, [leadership])

    # Leadership's own request: nobody in Leadership is independent of it, so it waits, flagged.
    board = create(
        leadership, type="policy", title="Board papers shared through a personal cloud drive",
        description="Board members receive papers through a personal cloud drive until the board portal is live.",
        justification="The portal contract is signed; onboarding takes six weeks.", likelihood=2, impact=3,
        requesting_team=teams["leadership"], business_owner=teams["leadership"],
        expires_on=today + dt.timedelta(days=45),
    )
    submit_and_review(board, leadership, "Acceptable for six weeks if the drive links expire after a day.")
    result.created.append("exceptions")


NHI_SHAPES = [
    # kind, provider, name pattern, owner team, scopes, admin, vendor, owasp
    ("service_account", "AWS", "svc-{app}-{env}", "engineering", "s3:GetObject\nsqs:SendMessage", False, "", []),
    ("access_key", "AWS", "{app}-deploy key", "engineering", "AdministratorAccess", True, "", ["NHI5:2025"]),
    ("cicd_secret", "GitHub Actions", "{app} deploy token", "engineering", "repo\nworkflow", False, "GitHub", []),
    ("oauth_app", "Google Workspace", "{vendor} integration", "security", "drive.readonly\ncalendar", False,
     "{vendor}", ["NHI3:2025"]),
    ("bot", "Slack", "{app} alerts bot", "engineering", "chat:write", False, "Slack", []),
    ("bot", "OpenAI", "support triage agent ({app})", "engineering", "tickets:read\ntickets:comment", False,
     "OpenAI", ["NHI10:2025"]),
    ("service_account", "Kubernetes", "k8s {app}-{env}", "engineering", "role/{app}-reader", False, "", []),
    ("access_key", "NetSuite", "netsuite {app} api", "finance", "transactions:read", False, "Oracle", []),
    ("oauth_app", "Workday", "workday {app} sync", "hr", "workers:read", False, "Workday", ["NHI3:2025"]),
    ("access_key", "DocuSign", "docusign {app} api", "legal", "envelopes:write", False, "DocuSign", []),
    ("oauth_app", "Coupa", "coupa {app} connector", "procurement", "suppliers:read", False, "Coupa", []),
    ("certificate", "Let's Encrypt", "{app}.example.com TLS", "engineering", "", False, "", []),
    ("ssh_key", "GitHub", "{app} deploy key (ssh)", "engineering", "read-only", False, "", []),
]
APPS = ["payments", "billing", "search", "auth", "reports", "ledger", "notifications", "export", "analytics",
        "ingest", "crm-sync", "webhooks", "scheduler", "audit", "catalog", "invoices", "pricing", "support"]
VENDORS = ["Zoom", "Datadog", "PagerDuty", "Atlassian", "Salesforce", "Zendesk", "Snowflake", "Okta"]


def _identities(teams, result) -> None:
    """A few hundred identities across kinds, teams and environments: most healthy, some with
    rotation overdue, stale, never rotated, expiring, or left behind by a person who left."""
    rng = random.Random(20261126)
    today = timezone.localdate()
    departed, _ = User.objects.get_or_create(
        username="alex.departed", defaults={"first_name": "Alex", "last_name": "Moreau", "is_active": False,
                                            "email": "alex.departed@example.com"})
    Membership.objects.get_or_create(user=departed, team=teams["engineering"])
    engineers = list(User.objects.filter(memberships__team=teams["engineering"], is_active=True))
    rows = []
    for index in range(320):
        kind, provider, pattern, team_slug, scopes, admin, vendor, owasp = NHI_SHAPES[index % len(NHI_SHAPES)]
        app, env = rng.choice(APPS), rng.choice(["production"] * 3 + ["staging", "development", "shared"])
        vendor_name = rng.choice(VENDORS)
        created = today - dt.timedelta(days=rng.randint(30, 900))
        interval = DEFAULT_ROTATION_DAYS.get(kind)
        roll = rng.random()
        if roll < 0.12:
            rotated = None  # never rotated
        elif roll < 0.30 and interval:
            rotated = today - dt.timedelta(days=interval + rng.randint(5, 200))  # overdue
        else:
            rotated = max(created, today - dt.timedelta(days=rng.randint(0, (interval or 365) - 5)))
        used = None if rng.random() < 0.05 else today - dt.timedelta(days=rng.choice([0, 1, 2, 5, 20, 60, 120]))
        owner = None if rng.random() < 0.04 else teams[team_slug]
        technical = departed if index % 47 == 0 else (rng.choice(engineers) if team_slug == "engineering" else None)
        name = pattern.format(app=app, env=env, vendor=vendor_name)
        rows.append(NonHumanIdentity(
            name=name, kind=kind, provider=provider, environment=env, source="demo",
            external_id=f"demo:{provider.lower().replace(' ', '-')}:{index:04d}", owner_team=owner,
            technical_owner=technical, purpose=f"Used by {app} in {env}.", scopes=scopes.format(app=app),
            has_admin_access=admin, has_production_access=env == "production",
            vendor=vendor.format(vendor=vendor_name), secret_location=f"vault:secret/{app}/{env}/{index:04d}",
            credential_fingerprint=f"…{rng.randrange(16**4):04x}", created_on=created, last_used_on=used,
            last_rotated_on=rotated, rotation_interval_days=interval,
            rotation_due_on=rotation_due(rotated, interval),
            expires_on=(today + dt.timedelta(days=rng.randint(3, 400))) if kind == "certificate" else None,
            transfer_required=technical == departed, rotation_required=technical == departed,
            owasp_tags=owasp,
        ))
    NonHumanIdentity.objects.bulk_create(rows)
    result.created.append(f"{len(rows)} non-human identities")
    _campaign(teams, today, result)


def _campaign(teams, today, result) -> None:
    """One open attestation campaign over production identities, its results bound for the
    quarterly access review; Engineering has confirmed a few already."""
    security = User.objects.get(username="security")
    review = (EvidenceRequest.objects.filter(control__ref="SEC-02", status__in=AWAITING_TEAM)
              .order_by("-period_start").first())
    campaign = campaign_open(actor=security, name=f"{today:%Y} Q{(today.month - 1) // 3 + 1} production identity "
                             "review", due_on=today + dt.timedelta(days=14), environments=["production"],
                             evidence_request=review)
    engineer = User.objects.get(username="engineering")
    for item in campaign.items.filter(owner_team=teams["engineering"], nhi__status="active")[:12]:
        item_attest(item=item, actor=engineer, decision="keep", scopes_confirmed=True)
    result.created.append("an attestation campaign")


DEMO_AUDIT = "FY26 SOC 2 Type II"


def _audit(teams, result) -> None:
    """A Type II audit over the last twelve months, in fieldwork, with ``auditor`` on it until
    three months from now. The evidence history gives it gaps (overdue and returned periods);
    a few identities were revoked during the window (a population to sample); and one
    auditor request is open with HR."""
    from audits import services as audit_services

    today = timezone.localdate()
    security, auditor = User.objects.get(username="security"), User.objects.get(username="auditor")
    rng = random.Random(2026)
    start = today - dt.timedelta(days=364)
    revoked = list(NonHumanIdentity.objects.filter(source="demo", status="active").order_by("pk")[:18])
    for nhi in revoked:
        NonHumanIdentity.objects.filter(pk=nhi.pk).update(
            status="revoked", revoked_on=start + dt.timedelta(days=rng.randint(10, 340)))
    audit = audit_services.audit_create(
        actor=security, name=DEMO_AUDIT, firm="Hartley & Quinn LLP", type="type2", period_start=start,
        period_end=today, categories=["security", "availability", "confidentiality"])
    audit_services.audit_set_status(audit=audit, actor=security, status="fieldwork")
    audit_services.audit_auditor_set(audit=audit, actor=security, user=auditor,
                                     access_ends_on=today + dt.timedelta(days=90))
    audit_services.audit_request_raise(
        audit=audit, actor=auditor, control=Control.objects.get(ref="HR-05"), due_on=today + dt.timedelta(days=10),
        title="Leavers in March and their access removal",
        description="For every person who left in March, the HR termination ticket and the date their accounts "
                    "were disabled, with who approved it.")
    result.created.append(f"audit {audit.name} with auditor {auditor.username}")


@transaction.atomic
def seed_demo(path: Path = DEMO_FILE) -> SeedResult:
    if not Criterion.objects.exists():
        raise RuntimeError("Load the SOC 2 catalog first: python manage.py load_soc2_catalog")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    result = SeedResult(first_run=not ActivityLog.objects.filter(verb="demo.seeded").exists())
    teams = _teams(data, result)
    _users(data, teams, result)
    if not ActivityLog.objects.filter(verb="demo.access_seeded").exists():
        # Its own marker: a demo seeded before sign-in hardening gets it on its next run.
        _access(result)
        activity_record(actor=None, verb="demo.access_seeded")
    if result.first_run:
        _owners_and_controls(data, teams, result)
        _evidence(data, teams, result)
        with notifications.suppressed():
            _exceptions(teams, result)
            _identities(teams, result)
    if not ActivityLog.objects.filter(verb="demo.audit_seeded").exists():
        # Its own marker: a demo seeded before audits existed gets one on its next run.
        with notifications.suppressed():
            _audit(teams, result)
        activity_record(actor=None, verb="demo.audit_seeded", message=DEMO_AUDIT)
    if result.created:
        activity_record(
            actor=None,
            verb="demo.seeded",
            after={"created": len(result.created)},
            message=", ".join(result.created)[:5000],
        )
    return result
