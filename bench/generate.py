"""Build an enterprise-sized soc2hub organisation in a fresh benchmark database.

    .venv/bin/python bench/generate.py                       # SQLite, var/bench/soc2hub_bench.sqlite3
    .venv/bin/python bench/generate.py --database-url postgres://postgres@127.0.0.1:5432/soc2hub_bench

The database is dropped and re-created every time (its name must contain "bench"). What it
holds, at ``--scale 1``:

* the SOC 2 catalog (``controls.catalog.load_catalog``), owners on every criterion;
* 12 teams of 5-20 people (140 people), Security and Leadership in their role groups,
  two auditors;
* 400 controls mapped to 1-3 criteria each, business/control/evidence owners spread across
  the teams (a few left unassigned);
* 1,200 evidence templates (3 per control; monthly, quarterly, semi-annual and annual, opening
  between a week before and five days after the period ends) starting two years before the
  as-of date;
* two years of requests, opened by the real daily job (``requests_open_due``, called at
  every month end and then on the as-of day, so it catches up exactly as production does);
* submissions and reviews: old periods almost all approved (some after a return), recent
  ones a mix of approved, in review, returned and open/overdue; the request notifications,
  reminders and weekly digests the last two years would have produced; then the as-of day's
  daily jobs, so the next run of the same day has nothing new to do.

History is written with ``bulk_create`` (it would take an hour through the services). Every
``EvidenceFile`` row points at one shared small CSV under var/bench/media (same name, size
and SHA-256): the pages and jobs never read file contents, so thousands of copies would
only cost disk and time. Nothing is e-mailed: generation runs under
``notifications.suppressed()`` and the mail backend is locmem anyway.
"""

import argparse
import datetime as dt
import hashlib
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_VAR, DEFAULT_SQLITE_URL, SHARED_FILE_NAME, BenchDatabase, setup_django

# slug, name, function, members, share of evidence ownership, control ref prefix
TEAMS = [
    ("security", "Security", "security", 8, 0.13, "SEC"),
    ("it", "IT", "it", 12, 0.12, "IT"),
    ("platform-engineering", "Platform Engineering", "engineering", 20, 0.17, "PLAT"),
    ("infrastructure", "Infrastructure", "engineering", 16, 0.12, "INFRA"),
    ("data-engineering", "Data Engineering", "engineering", 14, 0.08, "DATA"),
    ("product-engineering", "Product Engineering", "engineering", 18, 0.10, "PROD"),
    ("people", "People", "hr", 9, 0.08, "PPL"),
    ("legal", "Legal", "legal", 6, 0.05, "LEG"),
    ("finance", "Finance", "finance", 10, 0.06, "FIN"),
    ("procurement", "Procurement", "procurement", 5, 0.04, "PRC"),
    ("customer-support", "Customer Support", "other", 15, 0.03, "SUP"),
    ("leadership", "Leadership", "leadership", 7, 0.02, "LDR"),
]
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Eva", "Femi", "Grace", "Hugo", "Isla", "Jon", "Kemi", "Liam", "Maya",
         "Nico", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zoe"]
LAST = ["Adeyemi", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ivanova", "Jones",
        "Kowalski", "Lopez", "Muller", "Nakamura", "Okafor", "Patel", "Rossi", "Singh", "Tanaka", "Walsh"]
CONTROL_TOPICS = [
    "User access review", "Privileged access review", "Production change approval", "Code review enforcement",
    "Joiner-mover-leaver processing", "Security awareness training", "Vulnerability remediation",
    "Penetration test follow-up", "Backup and restore testing", "Encryption at rest", "Key rotation",
    "Logging and monitoring", "Incident response exercise", "Vendor risk assessment", "Contract commitments",
    "Background checks", "Policy acknowledgement", "Firewall rule review", "Endpoint protection coverage",
    "Disaster recovery test", "Capacity monitoring", "Data retention and disposal", "Risk assessment",
    "Board oversight of security", "Customer data deletion", "Asset inventory", "MFA enforcement",
    "Service account review", "Secrets scanning", "Segregation of duties",
]
SYSTEMS = ["Okta", "AWS production", "GCP analytics", "GitHub", "Kubernetes", "Workday", "NetSuite",
           "Salesforce", "Zendesk", "Jamf", "CrowdStrike", "Snowflake", "Datadog", "PagerDuty",
           "Google Workspace", "Coupa"]
EVIDENCE_KINDS = [
    "Access review sign-off", "Change ticket sample", "Configuration export", "Acknowledgement report",
    "Scan summary", "Restore test record", "Review record", "Completion report", "Log extract",
    "Ticket export", "Screenshot of settings", "Meeting minutes",
]
CADENCES = [("monthly", 0.25), ("quarterly", 0.45), ("semi_annual", 0.10), ("annual", 0.20)]
OPENS = [(0, 0.35), (1, 0.25), (3, 0.15), (5, 0.10), (-7, 0.15)]
DUE_AFTER_OPEN = [7, 14, 14, 14, 21, 30]
RETURN_REASONS = [
    "The export does not cover the whole period; include the last two weeks.",
    "Two leavers have no offboarding ticket; add them or explain.",
    "Sign-off is missing: the reviewer's name and date must be on the record.",
    "This is last period's file; upload the one for this period.",
]
SHARED_CSV = b"record_id,date,status,reviewed_by\n" + b"".join(
    f"BENCH-{n},2026-01-{n:02d},complete,bench\n".encode() for n in range(1, 21)
)


def log(message: str, started: float | None = None) -> None:
    suffix = f" ({time.monotonic() - started:.1f} s)" if started is not None else ""
    print(f"  {message}{suffix}", flush=True)


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


@contextmanager
def historical_timestamps(*fields):
    """Let bulk_create keep the dates we give it on ``auto_now_add`` fields, so the history
    reads as two years of activity rather than one afternoon."""
    saved = [(f, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, value in saved:
            f.auto_now_add = value


def at(day: dt.date, hour: int, minute: int = 0):
    from django.utils import timezone

    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def month_ends(start: dt.date, end: dt.date):
    day = start
    while day <= end:
        nxt = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        yield min(nxt - dt.timedelta(days=1), end)
        day = nxt


# --- the organisation ----------------------------------------------------------------------

def build_people(rng, password_hash):
    from django.contrib.auth.models import Group

    from soc2hub.models import Membership, Role, Team, User

    groups = {name: Group.objects.get_or_create(name=name)[0] for name in Role.values}
    teams, users, members = {}, [], {}
    n = 0
    for slug, name, function, size, _share, _prefix in TEAMS:
        teams[slug] = Team.objects.create(name=name, slug=slug, function=function)
        members[slug] = []
        for _ in range(size):
            n += 1
            first, last = rng.choice(FIRST), rng.choice(LAST)
            user = User(username=f"{first}.{last}.{n}".lower(), first_name=first, last_name=last,
                        email=f"{first}.{last}.{n}@bench.example".lower(), password=password_hash,
                        is_staff=slug == "security")
            users.append(user)
            members[slug].append(user)
    auditors = [User(username=f"auditor.{i}", first_name="Audrey", last_name=f"Auditor {i}",
                     email=f"auditor.{i}@audit.example", password=password_hash) for i in (1, 2)]
    User.objects.bulk_create(users + auditors)
    Membership.objects.bulk_create(
        [Membership(user=u, team=teams[slug]) for slug, people in members.items() for u in people]
    )
    in_group = User.groups.through
    in_group.objects.bulk_create(
        [in_group(user_id=u.pk, group_id=groups[Role.SECURITY].pk) for u in members["security"]]
        + [in_group(user_id=u.pk, group_id=groups[Role.LEADERSHIP].pk) for u in members["leadership"]]
        + [in_group(user_id=u.pk, group_id=groups[Role.AUDITORS].pk) for u in auditors]
    )
    for slug, team in teams.items():
        team.lead = members[slug][0]
        team.save(update_fields=["lead"])
    return teams, members, groups


def build_controls(rng, teams, n_controls):
    from controls.models import OWNER_ROLES, Control, Criterion

    shares = [(teams[slug], share) for slug, _n, _f, _s, share, _p in TEAMS]
    prefixes = {slug: prefix for slug, _n, _f, _s, _share, prefix in TEAMS}

    def some_team(missing=0.0):
        return None if rng.random() < missing else weighted(rng, shares)

    criteria = list(Criterion.objects.all())
    for criterion in criteria:
        for role in OWNER_ROLES:
            setattr(criterion, role, some_team(missing=0.04))
    Criterion.objects.bulk_update(criteria, list(OWNER_ROLES))

    counters: dict[str, int] = {}
    controls = []
    for i in range(n_controls):
        evidence_owner = weighted(rng, shares)
        control_owner = evidence_owner if rng.random() < 0.7 else some_team()
        slug = control_owner.slug
        counters[slug] = counters.get(slug, 0) + 1
        topic = CONTROL_TOPICS[i % len(CONTROL_TOPICS)]
        controls.append(Control(
            ref=f"{prefixes[slug]}-{counters[slug]:03d}",
            name=f"{topic} - {rng.choice(SYSTEMS)}",  # ASCII: see README on non-ASCII subjects
            description=f"{topic} for {rng.choice(SYSTEMS)}, run by {control_owner.name}.",
            frequency=rng.choice(["monthly", "quarterly", "quarterly", "annual", "continuous"]),
            automation=rng.choice(["manual", "manual", "automated"]),
            status=rng.choice(["implemented"] * 8 + ["needs_attention", "draft"]),
            evidence_standard="An export from the system of record covering the whole period, signed off.",
            business_owner=some_team(missing=0.03),
            control_owner=control_owner,
            evidence_owner=None if rng.random() < 0.01 else evidence_owner,
        ))
    Control.objects.bulk_create(controls)
    cc = [c for c in criteria if c.code.startswith("CC")]
    links = []
    for control in controls:
        chosen = set()
        for _ in range(rng.choice([1, 2, 2, 3])):
            chosen.add(rng.choice(cc if rng.random() < 0.8 else criteria).pk)
        links += [Control.criteria.through(control_id=control.pk, criterion_id=pk) for pk in chosen]
    Control.criteria.through.objects.bulk_create(links)
    return controls


def build_templates(rng, teams, controls, security_group, author, starts_on, per_control):
    from evidence.models import EvidenceTemplate

    shares = [(teams[slug], share) for slug, _n, _f, _s, share, _p in TEAMS]
    templates = []
    for control in controls:
        for kind in rng.sample(EVIDENCE_KINDS, per_control):
            opens = weighted(rng, OPENS)
            owner = control.evidence_owner if control.evidence_owner and rng.random() < 0.85 \
                else weighted(rng, shares)
            templates.append(EvidenceTemplate(
                control=control,
                title=f"{kind}: {control.name}"[:200],
                instructions=f"Export the {kind.lower()} for the period from the system of record.",
                acceptance_criteria="Covers the whole period; reviewer and date visible.",
                cadence=weighted(rng, CADENCES),
                owner_team=owner,
                opens_days_after_period_end=opens,
                due_days_after_period_end=max(0, opens + rng.choice(DUE_AFTER_OPEN)),
                reviewer_group=security_group,
                starts_on=starts_on,
                created_by=author,
            ))
    EvidenceTemplate.objects.bulk_create(templates, batch_size=1000)
    return templates


# --- two years of requests, through the real daily job ------------------------------------------

def open_requests(starts_on, as_of):
    from django.db import transaction

    from evidence import services

    opened = 0
    for day in [*month_ends(starts_on, as_of), as_of]:
        with transaction.atomic():  # one commit per month: generation speed, not what is measured
            opened += services.requests_open_due(as_of=day)["opened"]
    return opened


# --- submissions and reviews ------------------------------------------------------------------

def _fate(rng, request, as_of):
    """What became of a request: its final status, and whether a returned attempt came first."""
    late = (as_of - request.due_on).days
    if late > 60:
        table = [("approved", 0.965), ("open", 0.015), ("returned", 0.008), ("submitted", 0.012)]
    elif late >= 0:
        table = [("approved", 0.55), ("submitted", 0.18), ("returned", 0.07), ("open", 0.20)]
    else:
        table = [("approved", 0.10), ("submitted", 0.20), ("returned", 0.03), ("open", 0.67)]
    status = weighted(rng, table)
    retried = status in ("approved", "submitted") and rng.random() < 0.12
    return status, retried


def build_submissions(rng, members, security_people, as_of, now):
    """Evidence, files, the activity log of both and the requests' final statuses, in bulk."""
    from django.contrib.contenttypes.models import ContentType

    from evidence.models import Evidence, EvidenceFile, EvidenceRequest
    from soc2hub.models import ActivityLog

    shared = Path(BENCH_VAR / "media" / SHARED_FILE_NAME)
    shared.parent.mkdir(parents=True, exist_ok=True)
    shared.write_bytes(SHARED_CSV)
    sha = hashlib.sha256(SHARED_CSV).hexdigest()

    request_type = ContentType.objects.get_for_model(EvidenceRequest)
    requests = list(EvidenceRequest.objects.select_related("control", "owner_team").order_by("id"))
    by_status: dict[str, list[int]] = {}
    first_submitted: dict[int, dt.datetime] = {}
    evidence_rows, file_plans, logs = [], [], []

    def clamp(moment):
        return min(moment, now - dt.timedelta(minutes=5))

    for req in requests:
        status, retried = _fate(rng, req, as_of)
        by_status.setdefault(status, []).append(req.pk)
        if status == "open":
            continue
        team = members[req.owner_team.slug]
        submit_day = min(max(req.opens_on, req.due_on + dt.timedelta(days=rng.randint(-10, 5))), as_of)
        submitted_at = clamp(at(submit_day, rng.randint(8, 17), rng.randint(0, 59)))
        attempts = (["returned"] if retried else []) + [{"approved": "approved", "submitted": "pending",
                                                          "returned": "returned"}[status]]
        first_submitted[req.pk] = submitted_at
        previous = "open"
        for attempt in attempts:
            submitter = rng.choice(team)
            reviewer = rng.choice([p for p in security_people if p.pk != submitter.pk])
            reviewed_at = None if attempt == "pending" else clamp(submitted_at + dt.timedelta(
                days=rng.randint(0, 6), hours=rng.randint(1, 8)))
            link = f"https://{rng.choice(SYSTEMS).lower().replace(' ', '-')}.example/records/{req.pk}" \
                if rng.random() < 0.2 else ""
            evidence = Evidence(
                request_id=req.pk, note="Exported from the system of record.", link=link, status=attempt,
                submitted_by=submitter, submitted_at=submitted_at,
                reviewed_by=None if attempt == "pending" else reviewer, reviewed_at=reviewed_at,
                review_reason=rng.choice(RETURN_REASONS) if attempt == "returned" else "",
            )
            evidence_rows.append(evidence)
            n_files = 0 if link and rng.random() < 0.5 else rng.choice([1, 1, 1, 2, 2, 3])
            file_plans.append((evidence, n_files, req, submitter, submitted_at))
            logs.append(ActivityLog(
                actor=submitter, verb="evidence.submitted", content_type=request_type, object_id=str(req.pk),
                object_repr=str(req)[:300], before={"status": previous},
                after={"status": "submitted", "link": link}, message=evidence.note, created_at=submitted_at,
            ))
            if reviewed_at:
                verb = "evidence.approved" if attempt == "approved" else "evidence.returned"
                logs.append(ActivityLog(
                    actor=reviewer, verb=verb, content_type=request_type, object_id=str(req.pk),
                    object_repr=str(req)[:300], before={"status": "submitted"},
                    after={"status": "approved" if attempt == "approved" else "returned"},
                    message=evidence.review_reason, created_at=reviewed_at,
                ))
                previous = "returned"
                submitted_at = clamp(reviewed_at + dt.timedelta(days=rng.randint(1, 5)))

    Evidence.objects.bulk_create(evidence_rows, batch_size=2000)
    files = []
    for evidence, n_files, req, submitter, submitted_at in file_plans:
        for i in range(n_files):
            files.append(EvidenceFile(
                evidence_id=evidence.pk, file=SHARED_FILE_NAME,
                original_name=f"{req.control.ref.lower()}-{req.period_label}-{i + 1}.csv",
                size=len(SHARED_CSV), sha256=sha, content_type="text/csv", uploaded_by=submitter,
                uploaded_at=submitted_at,
            ))
    with historical_timestamps(EvidenceFile._meta.get_field("uploaded_at"),
                               ActivityLog._meta.get_field("created_at")):
        EvidenceFile.objects.bulk_create(files, batch_size=2000)
        ActivityLog.objects.bulk_create(logs, batch_size=2000)
    for status, pks in by_status.items():
        for i in range(0, len(pks), 500):
            EvidenceRequest.objects.filter(pk__in=pks[i:i + 500]).update(status=status)
    statuses = {status: len(pks) for status, pks in by_status.items()}
    return requests, first_submitted, statuses, len(evidence_rows), len(files)


# --- what the last two years' daily jobs told people ----------------------------------------------

def build_notices(rng, requests, first_submitted, members, teams, security_people, as_of, now):
    """Request-opened notifications, the reminders and escalations each request was owed
    until it was submitted, and the weekly digests. Old notifications are read."""
    from evidence.models import EvidenceReminder, TeamDigest
    from soc2hub.models import Notification

    notifications, reminders = [], []
    for req in requests:
        team = members[req.owner_team.slug]
        opened_at = min(at(req.opens_on, 6), now)
        for user in team:
            read = (as_of - req.opens_on).days > 21 or rng.random() < 0.5
            notifications.append(Notification(
                user=user, kind="evidence.request_opened",
                title=f"Evidence requested: {req.title} ({req.period_label}), "
                      f"due {req.due_on:%d %b %Y}"[:250],
                body="", url=f"/evidence/requests/{req.pk}/", created_at=opened_at,
                read_at=opened_at + dt.timedelta(hours=rng.randint(1, 72)) if read else None,
            ))
        submitted = first_submitted.get(req.pk)
        until = submitted.date() if submitted else as_of  # the as-of day's own run is done for real
        owed = []
        for days in (7, 1):
            owed.append(("before_due", days, max(req.opens_on, req.due_on - dt.timedelta(days=days))))
        owed.append(("due_today", 0, req.due_on))
        week = 0
        while req.due_on + dt.timedelta(days=1 + 7 * week) < until:
            owed.append(("escalation", week, req.due_on + dt.timedelta(days=1 + 7 * week)))
            week += 1
        seen = set()
        for kind, key, day in owed:
            if day >= until or (kind, key) in seen:
                continue
            seen.add((kind, key))
            people = [teams[req.owner_team.slug].lead, *security_people] if kind == "escalation" else team
            reminders.append(EvidenceReminder(request_id=req.pk, kind=kind, key=key, sent_at=at(day, 6),
                                              recipients=", ".join(p.username for p in people)))
    digests = []
    day = as_of - dt.timedelta(days=7 * 104)
    while day < as_of - dt.timedelta(days=as_of.weekday()):
        year, week, _ = day.isocalendar()
        digests += [TeamDigest(team=team, week=f"{year}-W{week:02d}", sent_at=at(day, 6))
                    for team in teams.values()]
        day += dt.timedelta(days=7)
    with historical_timestamps(Notification._meta.get_field("created_at"),
                               EvidenceReminder._meta.get_field("sent_at"),
                               TeamDigest._meta.get_field("sent_at")):
        Notification.objects.bulk_create(notifications, batch_size=2000)
        EvidenceReminder.objects.bulk_create(reminders, batch_size=2000)
        TeamDigest.objects.bulk_create(digests, batch_size=2000, ignore_conflicts=True)
    return len(notifications), len(reminders)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE_URL,
                        help="sqlite:///path or postgres://... (its name must contain 'bench'); "
                             "default: %(default)s")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None,
                        help="the day the organisation is generated up to (default: today in TIME_ZONE)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the 400 controls and 1,200 templates "
                             "(e.g. 0.1, to check that query counts stay flat)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    db = BenchDatabase(args.database_url)
    started = time.monotonic()
    print(f"Generating the benchmark organisation in {db} ({db.vendor})", flush=True)
    db.recreate()
    setup_django(db)

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from controls.catalog import load_catalog
    from soc2hub import jobs, notifications
    from soc2hub.models import Role
    from soc2hub.services import activity_record

    as_of = args.as_of or timezone.localdate()
    starts_on = as_of.replace(year=as_of.year - 2) if not (as_of.month == 2 and as_of.day == 29) \
        else dt.date(as_of.year - 2, 2, 28)
    now = timezone.now()
    rng = random.Random(args.seed)
    n_controls = max(1, round(400 * args.scale))

    step = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    log("migrated", step)
    with notifications.suppressed():
        step = time.monotonic()
        load_catalog()
        with transaction.atomic():
            teams, members, groups = build_people(rng, make_password(settings.DEMO_PASSWORD))
            controls = build_controls(rng, teams, n_controls)
            templates = build_templates(rng, teams, controls, groups[Role.SECURITY], members["security"][0],
                                        starts_on, per_control=3)
        log(f"catalog, {sum(len(m) for m in members.values())} people in {len(teams)} teams, "
            f"{len(controls)} controls, {len(templates)} templates", step)

        step = time.monotonic()
        opened = open_requests(starts_on, as_of)
        log(f"{opened} requests opened by requests_open_due, {starts_on} to {as_of}", step)

        step = time.monotonic()
        with transaction.atomic():
            requests, first_submitted, statuses, n_evidence, n_files = build_submissions(
                rng, members, members["security"], as_of, now)
        log(f"{n_evidence} submissions with {n_files} files; requests now {statuses}", step)

        step = time.monotonic()
        with transaction.atomic():
            n_notes, n_reminders = build_notices(rng, requests, first_submitted, members, teams,
                                                 members["security"], as_of, now)
        log(f"{n_notes} notifications, {n_reminders} reminders, weekly digests", step)

        step = time.monotonic()
        result = jobs.run_daily_jobs(as_of)
        log(f"the as-of day's daily jobs: {result}", step)

        with transaction.atomic():
            activity_record(actor=None, verb="bench.generated",
                            after={"as_of": as_of.isoformat(), "scale": args.scale, "seed": args.seed,
                                   "largest_team": max(TEAMS, key=lambda t: t[3])[0]},
                            message="Benchmark organisation generated by bench/generate.py")

    step = time.monotonic()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")  # what autovacuum would have done after two years of writes
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    log("analysed / checkpointed", step)
    print(f"Done in {time.monotonic() - started:.0f} s: {db}", flush=True)


if __name__ == "__main__":
    main()
