"""Measure the daily job and the busiest pages against the benchmark organisation.

    .venv/bin/python bench/run.py                            # the SQLite benchmark database
    .venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/soc2hub_bench

Run bench/generate.py first (``make bench`` does both). run.py never changes the generated
database: it measures a throw-away clone (``<name>_run``), dropped at the end, so it can be
run again and again on the same data.

1. Pages, as the organisation stands on the as-of day: the largest team's page as one of
   its members, the request list (first page and a filtered page) as that member and as a
   Security reviewer, and Security's review queue. Each is requested ``--warmup`` times,
   then ``--runs`` times with a wall clock around ``Client.get`` (median and p95; and the
   median CPU time of this process, which other work on a shared machine inflates far less
   than the wall clock; with PostgreSQL it leaves out the server's share), then once more
   inside ``CaptureQueriesContext`` for the query count, the time spent in SQL and any
   query shape repeated within the page (the signature of an N+1).
2. The daily jobs (``soc2hub.jobs.run_daily_jobs``): the as-of day again, when everything
   is already done (steady state: every check, no writes), then the day before the next
   quarter end (catching up the days in between, reported too), then the quarter
   end itself, when a few hundred requests open and their notifications and the day's
   reminders go out through the locmem mail backend.

Settings load with DEBUG on (static files need no collectstatic manifest) and DEBUG is then
switched off before anything renders, so templates and the database layer run as in
production. The figures go to stdout and into bench/results.json under the database vendor.
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_SQLITE_URL, open_clone

RESULTS = Path(__file__).resolve().parent / "results.json"


def p95(samples):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def next_quarter_end(day: dt.date) -> dt.date:
    month = ((day.month - 1) // 3 + 1) * 3
    end = (dt.date(day.year, month, 28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return end if end > day else next_quarter_end(end + dt.timedelta(days=1))


_SHAPE = [(re.compile(r"'(?:[^']|'')*'"), "?"), (re.compile(r"\b\d+(\.\d+)?\b"), "?"),
          (re.compile(r"\((\?(, )?)+\)"), "(?)"), (re.compile(r"\s+"), " ")]


def shape(sql: str) -> str:
    for pattern, repl in _SHAPE:
        sql = pattern.sub(repl, sql)
    return sql


class QueryCounter:
    """Counts every query and the time spent in the database, however many there are
    (``CaptureQueriesContext`` keeps only the last 9,000)."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0
        self.shapes = Counter()

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1
            self.shapes[shape(sql)[:240]] += 1


# --- pages -------------------------------------------------------------------------------------

def measure_page(client, url, runs, warmup, show_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get():
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.content[:500]!r}")
        return response

    for _ in range(warmup):
        get()
    samples, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = get()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    counter = QueryCounter()  # CaptureQueriesContext rounds each query's time to the millisecond
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(counter):
        get()
    shapes = Counter(shape(q["sql"]) for q in ctx.captured_queries)
    repeated = {sql: n for sql, n in shapes.items() if n > 2}
    if show_queries:
        print(f"\n--- {url}: {len(ctx.captured_queries)} queries")
        for q in ctx.captured_queries:
            print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:400]}")
    return {
        "url": url,
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(p95(samples), 1),
        "min_ms": round(min(samples), 1),
        "cpu_ms": round(statistics.median(cpu), 1),
        "queries": len(ctx.captured_queries),
        "sql_ms": round(counter.seconds * 1000, 1),
        "kb": round(len(response.content) / 1024, 1),
        "repeated_query_shapes": repeated,
    }


def measure_pages(meta, runs, warmup, show_queries):
    from django.test import Client

    from soc2hub.models import Role, Team, User

    team = Team.objects.get(slug=meta["largest_team"])
    member = (User.objects.filter(memberships__team=team).exclude(pk=team.lead_id)
              .exclude(groups__name=Role.SECURITY).order_by("pk").first())
    reviewer = (User.objects.filter(groups__name=Role.SECURITY, is_superuser=False).order_by("pk")
                .exclude(pk=Team.objects.get(slug="security").lead_id).first())
    member_client, security_client = Client(), Client()
    member_client.force_login(member)
    security_client.force_login(reviewer)
    pages = [
        ("team page (largest team)", "member", member_client, f"/teams/{team.slug}/"),
        ("request list, first page", "member", member_client, "/evidence/"),
        ("request list, overdue", "member", member_client, "/evidence/?state=overdue"),
        ("request list, first page", "security", security_client, "/evidence/"),
        ("request list, one team approved", "security", security_client,
         f"/evidence/?team={team.slug}&status=approved&ordering=-due_on"),
        ("review queue", "security", security_client, "/evidence/review/"),
    ]
    results = []
    for name, who, client, url in pages:
        row = {"page": name, "as": who, **measure_page(client, url, runs, warmup, show_queries)}
        results.append(row)
        print(f"  {name:<34} {who:<9} {row['median_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['cpu_ms']:>8.1f} "
              f"{row['queries']:>8} {row['sql_ms']:>8.1f} {row['kb']:>7.1f}", flush=True)
    return results, {"team": team.slug, "team_members": team.memberships.count(), "member": member.username,
                     "security": reviewer.username}


# --- daily jobs --------------------------------------------------------------------------------

def run_jobs(day):
    from django.core import mail
    from django.db import connection

    from soc2hub import jobs
    from soc2hub.models import Notification

    mail.outbox = []
    counter = QueryCounter()
    notifications_before = Notification.objects.count()
    with connection.execute_wrapper(counter):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = jobs.run_daily_jobs(day, force=True)  # the jobs' work, not the once-a-day skip
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    per_person = Counter(to for message in mail.outbox for to in message.to)
    return {
        "as_of": day.isoformat(),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "queries": counter.count,
        "sql_seconds": round(counter.seconds, 3),
        "emails": len(mail.outbox),
        "emails_max_per_person": max(per_person.values(), default=0),
        "emails_busiest_inbox": per_person.most_common(1)[0][0] if per_person else None,
        "notifications": Notification.objects.count() - notifications_before,
        "jobs": result,
        "top_query_shapes": dict(counter.shapes.most_common(8)),
    }


def _opened(run):
    return run["jobs"].get("evidence.open_requests", {}).get("opened", 0)


def _reminders(run):
    return sum(v for k, v in run["jobs"].get("evidence.reminders", {}).items() if k.startswith("sent_"))


def measure_jobs(as_of, steady_runs):
    steady = [run_jobs(as_of) for _ in range(steady_runs)]
    steady_median = sorted(steady, key=lambda r: r["seconds"])[len(steady) // 2]
    quarter_end = next_quarter_end(as_of)
    eve = quarter_end - dt.timedelta(days=1)
    catch_up = run_jobs(eve) if eve > as_of else None
    peak = run_jobs(quarter_end)
    for label, run in (("steady state (as-of day again)", steady_median),
                       (f"catch-up {as_of} → {eve}", catch_up), ("quarter end", peak)):
        if run:
            print(f"  {label:<34} {run['as_of']}  {run['seconds']:6.2f} s ({run['cpu_seconds']:.2f} s CPU)  "
                  f"{run['queries']:>5} queries "
                  f"({run['sql_seconds']:.2f} s SQL)  opened {_opened(run):>4}  "
                  f"reminders {_reminders(run):>4}  e-mails {run['emails']:>5} "
                  f"(up to {run['emails_max_per_person']} per person)", flush=True)
    print("  most frequent queries at the quarter end:")
    for sql, n in list(peak["top_query_shapes"].items())[:6]:
        print(f"    {n:>5}x {sql[:130]}")
    return {"steady_state": steady_median, "steady_state_all_seconds": [r["seconds"] for r in steady],
            "catch_up": catch_up, "quarter_end": peak}


# --- the run ------------------------------------------------------------------------------------

def data_volumes():
    from django.db.models import Count

    from controls.models import Control, Criterion
    from evidence.models import Evidence, EvidenceFile, EvidenceReminder, EvidenceRequest, EvidenceTemplate
    from soc2hub.models import ActivityLog, Notification, Team, User

    models = {"criteria": Criterion, "teams": Team, "users": User, "controls": Control,
              "templates": EvidenceTemplate, "requests": EvidenceRequest, "evidence": Evidence,
              "evidence_files": EvidenceFile, "reminders": EvidenceReminder, "notifications": Notification,
              "activity_log": ActivityLog}
    volumes = {name: model.objects.count() for name, model in models.items()}
    volumes["requests_by_status"] = dict(
        EvidenceRequest.objects.order_by().values_list("status").annotate(n=Count("pk"))
    )
    return volumes


def database_version():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        return f"{connection.vendor} {cursor.fetchone()[0].split(' on ')[0]}"


def _code_version() -> str:
    """The commit measured (and whether the working tree differed from it)."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                              text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    return f"{head}{' + uncommitted changes' if git('status', '--porcelain', '--untracked-files=no') else ''}"


def _load():
    """Other work on the machine skews every figure: recorded beside them."""
    return [round(x, 2) for x in os.getloadavg()]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE_URL,
                        help="the database generate.py built (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests per page first")
    parser.add_argument("--steady-runs", type=int, default=3,
                        help="steady-state daily job runs (the median is reported)")
    parser.add_argument("--show-queries", action="store_true", help="print every query each page makes")
    parser.add_argument("--keep", action="store_true",
                        help="keep the measured clone (<name>_run) for inspection")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results.json")
    args = parser.parse_args(argv)

    started = time.monotonic()
    source, db = open_clone(args.database_url, generator="generate.py (or make bench)")

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from soc2hub.models import ActivityLog

    settings.DEBUG = False  # before the first render: production template engine and cursor
    try:
        meta = ActivityLog.objects.filter(verb="bench.generated").latest("id").after
        as_of = dt.date.fromisoformat(meta["as_of"])
        volumes = data_volumes()
        version = database_version()
        load_before = _load()
        print(f"{version}, {os.cpu_count()} CPUs (load average {load_before[0]}), Python "
              f"{platform.python_version()}; as of {as_of}, scale {meta['scale']}")
        print("  " + ", ".join(f"{k} {v}" for k, v in volumes.items() if k != "requests_by_status"))
        print(f"  requests by status: {volumes['requests_by_status']}")
        if as_of != timezone.localdate():
            print(f"  note: generated as of {as_of} but today is {timezone.localdate()}; pages count overdue "
                  "and due-soon against today. Regenerate for figures as of today.")

        print(f"\nPages ({args.runs} runs after {args.warmup} warm-up)\n"
              f"  {'page':<34} {'as':<9} {'median':>8} {'p95':>8} {'cpu ms':>8} {'queries':>8} {'sql ms':>8} "
              f"{'KB':>7}")
        pages, who = measure_pages(meta, args.runs, args.warmup, args.show_queries)
        for row in pages:
            for sql, n in row["repeated_query_shapes"].items():
                print(f"  ! {row['page']} ({row['as']}) repeats a query {n}x: {sql[:160]}")

        print("\nDaily jobs (run_daily_jobs)")
        daily = measure_jobs(as_of, args.steady_runs)
    finally:
        connection.close()
        if not args.keep:
            db.drop()

    results = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": version,
        "code": _code_version(),
        "environment": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "machine": platform.machine(), "runs": args.runs, "warmup": args.warmup,
                        "load_average_before": load_before, "load_average_after": _load()},
        "generated": meta,
        "volumes": volumes,
        "who": who,
        "pages": pages,
        "daily_jobs": daily,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    print(f"\nDone in {results['total_seconds']:.0f} s (load average now {_load()[0]}).")
    if not args.no_results:
        key = db.vendor if float(meta["scale"]) == 1 else f"{db.vendor}-scale-{meta['scale']}"
        existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        existing[key] = results
        RESULTS.write_text(json.dumps(existing, indent=2, default=str) + "\n")
        print(f"Results written to {RESULTS} under {key!r}.")


if __name__ == "__main__":
    main()
