"""Build an organisation with 100,000 non-human identities in a fresh benchmark database.

    .venv/bin/python bench/nhi_generate.py                  # SQLite, var/bench/soc2hub_nhi_bench.sqlite3
    .venv/bin/python bench/nhi_generate.py --database-url postgres://postgres@127.0.0.1:5432/soc2hub_nhi_bench

The database is dropped and re-created every time (its name must contain "bench"; see
common.py). It is not generate.py's database: the NHI benchmark measures the inventory, its
import and its daily job, and needs none of the two years of evidence history. What it holds,
at the default ``--count 100000``:

* the 12 teams and 140 people of generate.py (Security and Leadership in their role groups,
  two auditors), three of whom have since left (inactive);
* 30 controls, 15% of the identities linked to one;
* ``--count`` identities across every kind, team, environment, provider and source, with the
  state mix of a real estate (see ``state_of``): about a quarter overdue for rotation (a tenth
  never rotated), a sixth stale, 1-2% orphaned, 10% revoked or decommissioned, certificates
  expiring, a few transfers awaiting a rotation;
* one open attestation campaign over the production identities, due in five days.

Identities are written with ``bulk_create`` in batches of 2,000. ``bulk_create`` skips
``save()``, so ``rotation_due_on`` is computed here with ``nhi.models.rotation_due``, as
``save()`` and the importers do. Fingerprints are masked (``AKIA…7QXZ``), so the export of this
data re-imports without tripping the importer's secret detector. Every date is relative to
``--as-of`` (default today): measure on the same day, or the import's date checks and the
pages' states drift.
"""

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_VAR, BenchDatabase, setup_django

DEFAULT_URL = f"sqlite:///{BENCH_VAR / 'soc2hub_nhi_bench.sqlite3'}"
BATCH = 2_000

# Share of identities each team owns: engineering-heavy, as in any SaaS company.
TEAM_SHARES = {
    "platform-engineering": 22, "infrastructure": 18, "product-engineering": 14, "data-engineering": 12,
    "it": 10, "security": 8, "customer-support": 3, "finance": 3, "people": 2, "legal": 1, "procurement": 1,
    "leadership": 0.5,
}
KINDS = {"access_key": 30, "service_account": 20, "cicd_secret": 15, "oauth_app": 10, "certificate": 10,
         "ssh_key": 7, "bot": 5, "other": 3}
ENVIRONMENTS = {"production": 45, "staging": 25, "development": 25, "shared": 5}
STATUSES = {"active": 86, "disabled": 5, "revoked": 7, "decommissioned": 2}
SYSTEMS = ["payments", "billing", "ledger", "payroll", "search", "checkout", "catalog", "crm", "analytics",
           "warehouse", "backup", "monitoring", "logging", "identity", "notifications", "reporting", "support",
           "onboarding", "fraud", "pricing", "shipping", "inventory", "mobile", "web", "gateway"]
PURPOSES = ["Reads orders for the nightly report.", "Deploys to the cluster from CI.",
            "Syncs users from the HR system.", "Uploads backups to object storage.",
            "Posts alerts to the on-call channel.", "Signs webhooks for customers.",
            "Pulls metrics into the data warehouse.", "Sends transactional e-mail."]
SCOPES = {
    "access_key": ["s3:GetObject", "s3:PutObject", "sqs:SendMessage", "dynamodb:Query", "kms:Decrypt"],
    "service_account": ["get pods", "list secrets", "create deployments", "watch configmaps"],
    "oauth_app": ["repo", "read:org", "users:read", "chat:write", "files:read"],
    "cicd_secret": ["deploy:production", "registry:push", "terraform:apply"],
    "bot": ["issues:write", "pull_requests:write", "contents:read"],
}
TAGS = ["NHI1:2025", "NHI2:2025", "NHI5:2025", "NHI7:2025", "NHI9:2025"]
SOURCES = {  # source, provider(s), how the external id looks
    "access_key": ("aws-credential-report", ["AWS"]),
    "service_account": ("k8s-serviceaccounts", ["Kubernetes"]),
    "certificate": ("csv", ["DigiCert", "Let's Encrypt", "AWS ACM"]),
    "oauth_app": ("csv", ["GitHub", "Slack", "Google Workspace", "Salesforce", "Okta"]),
    "cicd_secret": ("csv", ["GitHub Actions", "GitLab CI", "CircleCI"]),
    "ssh_key": ("manual", ["Bastion", "GitHub", "SFTP"]),
    "bot": ("manual", ["GitHub", "Slack", "OpenAI"]),
    "other": ("manual", ["Vault", "Datadog", "PagerDuty"]),
}
INTERVALS = {"service_account": 180, "access_key": 90, "oauth_app": 365, "cicd_secret": 90, "bot": 180,
             "certificate": 365, "ssh_key": 365, "other": None}  # nhi.models.DEFAULT_ROTATION_DAYS


def log(message: str, started: float | None = None) -> None:
    suffix = f" ({time.monotonic() - started:.1f} s)" if started is not None else ""
    print(f"  {message}{suffix}", flush=True)


def pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def days_ago(as_of: dt.date, n: int) -> dt.date:
    return as_of - dt.timedelta(days=n)


def state_of(rng: random.Random, kind: str, as_of: dt.date) -> dict:
    """Dates and flags for one identity. The mix (live identities, 90-day keys and the rest by
    their own interval): ~12% never rotated, ~15% rotated but past due, ~15% unused for longer
    than 45 days (4% never seen in use), certificates expiring from 20 days ago to a year on."""
    interval = INTERVALS[kind]
    age = rng.randint(30, 1500)  # days since it was created
    created = days_ago(as_of, age)
    if rng.random() < 0.12:
        rotated = None
    elif interval is None:
        rotated = days_ago(as_of, rng.randint(0, age))
    else:
        # 82% within the interval, the rest up to three intervals late (never before creation).
        since = rng.randint(0, interval) if rng.random() < 0.82 else rng.randint(interval + 1, 3 * interval)
        rotated = days_ago(as_of, min(since, age))
    used = rng.random()
    if used < 0.04:
        last_used = None
    elif used < 0.15:
        last_used = days_ago(as_of, rng.randint(46, min(age, 400)) if age > 46 else age)
    else:
        last_used = days_ago(as_of, rng.randint(0, min(age, 30)))
    expires = None
    if kind == "certificate" or (kind == "oauth_app" and rng.random() < 0.2):
        expires = max(created + dt.timedelta(days=1), as_of + dt.timedelta(days=rng.randint(-20, 400)))
    return {"created_on": created, "last_rotated_on": rotated, "last_used_on": last_used, "expires_on": expires,
            "rotation_interval_days": interval}


def build_identities(rng, as_of: dt.date, count: int, teams: dict, members: dict, leavers: list, controls: list):
    from nhi.models import NonHumanIdentity, rotation_due

    team_slugs = list(TEAM_SHARES)
    written = 0
    links = []
    through = NonHumanIdentity.controls.through
    for start in range(0, count, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, count)):
            kind = pick(rng, KINDS)
            source, providers = SOURCES[kind]
            system = rng.choice(SYSTEMS)
            environment = pick(rng, ENVIRONMENTS)
            # 1% of the active identities came in before owner teams were required (orphaned).
            slug = None if rng.random() < 0.01 else rng.choices(team_slugs, weights=TEAM_SHARES.values())[0]
            team = teams[slug] if slug else None
            owner = None
            if team is not None and rng.random() < 0.65:
                owner = rng.choice(leavers) if rng.random() < 0.02 else rng.choice(members[slug])
            dates = state_of(rng, kind, as_of)
            status = pick(rng, STATUSES)
            if kind == "access_key":
                external_id = f"arn:aws:iam::{100000000000 + n % 40:012d}:user/svc-{system}-{n}#access_key_1"
                name = f"svc-{system}-{n} access key 1"
                fingerprint = f"key 1 of svc-{system}-{n}"
            elif kind == "service_account":
                namespace = f"{system}-{environment[:4]}"
                external_id = f"k8s:{namespace}/{system}-{n}"
                name = f"{namespace}/{system}-{n}"
                fingerprint = ""
            else:
                external_id = f"{kind}:{system}:{n}"
                name = f"{system} {kind.replace('_', ' ')} {n}"
                fingerprint = rng.choice([f"AKIA…{rng.randrange(16**4):04X}", f"SHA256:{rng.randrange(16**6):06x}…",
                                          f"ends in {rng.randrange(10**4):04d}"])
            scopes = SCOPES.get(kind, [])
            transfer = owner in leavers and rng.random() < 0.5
            row = NonHumanIdentity(
                name=name, kind=kind, provider=rng.choice(providers), environment=environment, source=source,
                external_id=external_id, owner_team=team, technical_owner=owner,
                purpose=rng.choice(PURPOSES) if rng.random() < 0.7 else "",
                scopes="\n".join(rng.sample(scopes, min(len(scopes), rng.randint(1, 3)))) if scopes else "",
                has_admin_access=rng.random() < 0.06, has_production_access=environment == "production",
                vendor=rng.choice(["", "", "GitHub", "Slack", "Datadog", "Stripe"]) if kind == "oauth_app" else "",
                secret_location=f"vault:secret/{environment}/{system}/{n}" if kind != "service_account" else "",
                credential_fingerprint=fingerprint,
                rotation_due_on=rotation_due(dates["last_rotated_on"], dates["rotation_interval_days"]),
                rotation_required=transfer or rng.random() < 0.01, transfer_required=transfer,
                status=status if team is not None else "active",
                owasp_tags=rng.sample(TAGS, rng.randint(1, 2)) if rng.random() < 0.2 else [],
                **dates,
            )
            rows.append(row)
        NonHumanIdentity.objects.bulk_create(rows, batch_size=BATCH)
        links += [through(nonhumanidentity_id=row.pk, control_id=rng.choice(controls).pk)
                  for row in rows if rng.random() < 0.15]
        written += len(rows)
    through.objects.bulk_create(links, batch_size=BATCH)
    return written, len(links)


def build_controls(n: int):
    from controls.models import Control

    return Control.objects.bulk_create([
        Control(ref=f"NHI-{i:03d}", name=f"Non-human identity control {i}",
                description="Access keys and service accounts are owned, rotated and reviewed.")
        for i in range(1, n + 1)
    ])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="sqlite:///path or postgres://... (its name must contain 'bench'); default: %(default)s")
    parser.add_argument("--count", type=int, default=100_000, help="identities (default: %(default)s)")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None,
                        help="the day the estate is generated for (default: today in TIME_ZONE)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    db = BenchDatabase(args.database_url)
    started = time.monotonic()
    print(f"Generating {args.count:,} non-human identities in {db} ({db.vendor})", flush=True)
    db.recreate()
    setup_django(db)

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import Count, Q
    from django.utils import timezone
    from generate import TEAMS, build_people

    from nhi import campaigns
    from nhi.models import NonHumanIdentity
    from soc2hub import notifications
    from soc2hub.models import User
    from soc2hub.services import activity_record

    as_of = args.as_of or timezone.localdate()
    rng = random.Random(args.seed)

    step = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    log("migrated", step)
    with notifications.suppressed():
        step = time.monotonic()
        with transaction.atomic():
            teams, members, _groups = build_people(rng, make_password(settings.DEMO_PASSWORD))
            # Three people have left: their identities are orphaned until transferred.
            leavers = [members["platform-engineering"][-1], members["infrastructure"][-1],
                       members["data-engineering"][-1]]
            User.objects.filter(pk__in=[p.pk for p in leavers]).update(is_active=False)
            controls = build_controls(30)
        log(f"{sum(len(m) for m in members.values())} people in {len(teams)} teams "
            f"({len(leavers)} left), {len(controls)} controls", step)

        step = time.monotonic()
        with transaction.atomic():
            written, linked = build_identities(rng, as_of, args.count, teams, members, leavers, controls)
        log(f"{written:,} identities ({linked:,} linked to a control)", step)

        step = time.monotonic()
        campaign = campaigns.campaign_open(actor=members["security"][0], name="Production access review",
                                           due_on=as_of + dt.timedelta(days=5), environments=["production"])
        log(f"one open campaign over production, {campaign.items.count():,} items", step)

        largest = max(TEAM_SHARES, key=TEAM_SHARES.get)
        with transaction.atomic():
            activity_record(actor=None, verb="bench.nhi_generated",
                            after={"as_of": as_of.isoformat(), "count": args.count, "seed": args.seed,
                                   "largest_team": largest, "teams": [t[0] for t in TEAMS]},
                            message="NHI benchmark estate generated by bench/nhi_generate.py")

    step = time.monotonic()
    flags = ("is_rotation_overdue", "is_never_rotated", "is_stale", "is_orphaned", "is_expiring_soon")
    state = NonHumanIdentity.objects.with_state(as_of).live().aggregate(
        live=Count("pk"), **{flag[3:]: Count("pk", filter=Q(**{flag: True})) for flag in flags})
    log(f"state as of {as_of}: {state}", step)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    print(f"Done in {time.monotonic() - started:.0f} s: {db}", flush=True)


if __name__ == "__main__":
    main()
