"""Measure the non-human identity inventory at 100,000 identities: its pages, a 100,000-row
import and the daily job.

    .venv/bin/python bench/nhi_run.py                       # the SQLite NHI benchmark database
    .venv/bin/python bench/nhi_run.py --database-url postgres://postgres@127.0.0.1:5432/soc2hub_nhi_bench

Run bench/nhi_generate.py first (``make bench-nhi`` does both). Like run.py, this never
changes the generated database: it measures a throw-away clone (``<name>_run``), dropped at the
end. Settings load with DEBUG on and DEBUG is switched off before anything renders.

1. Pages: the inventory (``/nhi/``) with no filter, with ``?overdue=true&team=<largest team>``
   and with ``?q=<substring>``, and the visibility summary (``/nhi/summary/``), as Security
   (who sees every identity) and as a member of the largest team; and the API list. Median and
   p95 over ``--runs`` requests after ``--warmup``, this process's CPU time, then one more request
   for the query count, the time in SQL and any repeated query shape (an N+1).
2. The daily job (``soc2hub.jobs.run_daily_jobs``): on the as-of day with nothing alerted yet
   (the first run after a large import: every overdue identity is news), the same day again
   (steady state: nothing new), and the next day (that day's lapses and weekly escalations).
3. Imports of the soc2hub CSV through ``nhi.imports``: ``import_create`` (store and hash),
   ``import_check`` (the dry run) and ``import_apply_now`` (the all-or-nothing write), each timed
   on its own with the Celery hand-offs disabled, then again under ``tracemalloc`` for the peak
   Python memory (the apply's traced pass runs inside a transaction that is rolled back, before
   the timed pass). Two files, both built with ``nhi.export`` from the generated rows:
   ``reimport`` (the export as it is, with 5% of rows changed: mostly unchanged, as a weekly
   re-import would be) and then ``new`` (every row under a new source, so all are inserted).

Figures are printed and written to bench/results-nhi.json under the database vendor (plus
``-count-<n>`` for estates of another size).
"""

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_VAR, open_clone
from nhi_generate import DEFAULT_URL
from run import _code_version, _load, database_version, measure_page, run_jobs

RESULTS = Path(__file__).resolve().parent / "results-nhi.json"
SEARCH = "payroll"  # about 1 in 25 identities' names carry it (nhi_generate.SYSTEMS)


# --- pages -------------------------------------------------------------------------------------

def measure_pages(meta, runs, warmup, show_queries):
    from django.test import Client

    from soc2hub.models import Role, Team, User

    team = Team.objects.get(slug=meta["largest_team"])
    member = (User.objects.filter(memberships__team=team, is_active=True).exclude(pk=team.lead_id)
              .exclude(groups__name=Role.SECURITY).order_by("pk").first())
    security = User.objects.filter(groups__name=Role.SECURITY, is_active=True).order_by("pk").first()
    clients = {"security": Client(), "member": Client()}
    clients["security"].force_login(security)
    clients["member"].force_login(member)
    pages = []
    for who in ("security", "member"):
        pages += [
            ("inventory", who, "/nhi/"),
            ("inventory, overdue in a team", who, f"/nhi/?overdue=true&team={team.slug}"),
            (f"inventory, search “{SEARCH}”", who, f"/nhi/?q={SEARCH}"),
            ("visibility summary", who, "/nhi/summary/"),
        ]
    pages += [("API list", "security", "/api/v1/nhis/"),
              ("API list, overdue in a team", "security", f"/api/v1/nhis/?overdue=true&team={team.slug}")]
    results = []
    for name, who, url in pages:
        row = {"page": name, "as": who, **measure_page(clients[who], url, runs, warmup, show_queries)}
        results.append(row)
        print(f"  {name:<34} {who:<9} {row['median_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['cpu_ms']:>8.1f} "
              f"{row['queries']:>8} {row['sql_ms']:>8.1f} {row['kb']:>7.1f}", flush=True)
    return results, {"team": team.slug, "member": member.username, "security": security.username,
                     "member_sees": _visible(member), "security_sees": _visible(security)}


def _visible(user) -> int:
    from nhi import selectors

    return selectors.inventory(user=user).count()


# --- daily job ---------------------------------------------------------------------------------

def measure_jobs(as_of):
    from nhi.models import NhiAlert

    runs = {}
    for label, day in (("first run (nothing alerted yet)", as_of), ("same day again", as_of),
                       ("next day", as_of + dt.timedelta(days=1))):
        alerts_before = NhiAlert.objects.count()
        run = run_jobs(day)
        run["nhi_alert_rows"] = NhiAlert.objects.count() - alerts_before
        nhi = run["jobs"].get("nhi.alerts", {})
        runs[label] = run
        print(f"  {label:<34} {run['as_of']}  {run['seconds']:6.2f} s ({run['cpu_seconds']:.2f} s CPU)  "
              f"{run['queries']:>5} queries ({run['sql_seconds']:.2f} s SQL)  checked {nhi.get('checked', 0):>6}  "
              f"alerted {nhi.get('alerted', 0):>6}  escalated {nhi.get('escalated', 0):>6}  "
              f"e-mails {run['emails']:>4}", flush=True)
    return runs


# --- imports -----------------------------------------------------------------------------------

class _Rewriter:
    """A csv.writer stand-in for ``nhi.export.write_csv`` that changes rows on their way out."""

    def __init__(self, writer, change):
        self.writer, self.change, self.n = writer, change, -1

    def writerow(self, row):
        self.n += 1
        self.writer.writerow(row if self.n == 0 else self.change(self.n, list(row)))


def build_file(path: Path, scenario: str, as_of: dt.date) -> dict:
    from nhi import export
    from nhi.importers.csv_format import COLUMNS
    from nhi.models import NonHumanIdentity

    source, last_used = COLUMNS.index("source"), COLUMNS.index("last_used_on")
    changed = 0

    def change(n, row):
        nonlocal changed
        if scenario == "new":
            row[source] = "bench-csv"  # a natural key nothing has: every row is inserted
        elif n % 20 == 0 and row[last_used] != as_of.isoformat():
            row[last_used] = as_of.isoformat()  # seen in use today: 5% of rows change
            changed += 1
        return row

    started = time.perf_counter()
    with path.open("w", newline="", encoding="utf-8") as handle:
        rows = export.write_csv(NonHumanIdentity.objects.order_by("pk"), _Rewriter(csv.writer(handle), change))
    return {"rows": rows, "changed_rows": changed, "bytes": path.stat().st_size,
            "export_seconds": round(time.perf_counter() - started, 2)}


def _traced(func):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = func()
    finally:
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, round(peak / 2**20, 1), round(seconds, 2)


def _timed(func):
    started, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, round(time.perf_counter() - started, 2), round(time.process_time() - cpu, 2)


def measure_import(scenario: str, as_of: dt.date, actor, default_team, prefix: str) -> dict:
    from django.core.files import File
    from django.db import connection, transaction

    from nhi import imports, tasks
    from nhi.models import ImportStatus, NhiImport, NonHumanIdentity

    path = BENCH_VAR / f"{prefix}-import-{scenario}.csv"
    info = build_file(path, scenario, as_of)
    identities_before = NonHumanIdentity.objects.count()
    with mock.patch.object(tasks.import_check, "delay"), mock.patch.object(tasks.import_apply, "delay"):
        with path.open("rb") as handle:
            imp, create_s, _ = _timed(lambda: imports.import_create(
                actor=actor, format="csv", upload=File(handle, name=path.name), default_team=default_team))
        imp, check_s, check_cpu = _timed(lambda: imports.import_check(imp.pk))
        if imp.status != ImportStatus.PREVIEWED or imp.error_count:
            raise SystemExit(f"The {scenario} import did not check clean: {imp.status} {imp.message} "
                             f"{imp.preview.get('errors', [])[:5]}")
        counts = {"new": imp.new_count, "updated": imp.updated_count, "unchanged": imp.unchanged_count,
                  "changed_fields": imp.preview.get("changed_fields", {})}
        # The check again, traced (it writes only the import's own row, so it can run twice).
        NhiImport.objects.filter(pk=imp.pk).update(status=ImportStatus.QUEUED)
        _, check_peak, check_traced_s = _traced(lambda: imports.import_check(imp.pk))

        imports.import_apply(imp=NhiImport.objects.get(pk=imp.pk), actor=actor)  # the claim; the write is below
        # The write, traced, in a transaction that is rolled back; then the write for real, timed.
        with transaction.atomic():
            traced, apply_peak, apply_traced_s = _traced(lambda: imports.import_apply_now(imp.pk, actor.pk))
            if traced.status != ImportStatus.APPLIED:
                raise SystemExit(f"The traced apply failed: {traced.message}")
            transaction.set_rollback(True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE nhi_nonhumanidentity")  # clear the rolled-back rows' dead tuples
        done, apply_s, apply_cpu = _timed(lambda: imports.import_apply_now(imp.pk, actor.pk))
        if done.status != ImportStatus.APPLIED:
            raise SystemExit(f"The {scenario} import did not apply: {done.message}")
    added = NonHumanIdentity.objects.count() - identities_before
    done.file.delete(save=False)
    path.unlink()
    result = {
        "scenario": scenario, **info, **counts, "identities_added": added,
        "create_seconds": create_s,
        "check_seconds": check_s, "check_cpu_seconds": check_cpu, "check_rows_per_second": round(info["rows"] / check_s),
        "check_peak_mib": check_peak, "check_traced_seconds": check_traced_s,
        "apply_seconds": apply_s, "apply_cpu_seconds": apply_cpu, "apply_rows_per_second": round(info["rows"] / apply_s),
        "apply_peak_mib": apply_peak, "apply_traced_seconds": apply_traced_s,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"  {scenario:<9} {info['rows']:>7,} rows ({info['bytes'] / 2**20:.1f} MiB, export {info['export_seconds']} s): "
          f"{counts['new']:,} new, {counts['updated']:,} updated, {counts['unchanged']:,} unchanged\n"
          f"            create {create_s:.2f} s · check {check_s:.1f} s ({check_cpu:.1f} s CPU, peak {check_peak} MiB) · "
          f"apply {apply_s:.1f} s ({apply_cpu:.1f} s CPU, peak {apply_peak} MiB)\n"
          f"            under tracemalloc: check {check_traced_s:.1f} s, apply {apply_traced_s:.1f} s; "
          f"fields changed: {counts['changed_fields'] or '-'}", flush=True)
    return result


# --- the run ------------------------------------------------------------------------------------

def data_volumes(as_of):
    from django.db.models import Count, Q

    from nhi.models import AttestationItem, NonHumanIdentity
    from soc2hub.models import Team, User

    flags = ("is_rotation_overdue", "is_never_rotated", "is_stale", "is_orphaned", "is_expiring_soon")
    volumes = {"identities": NonHumanIdentity.objects.count(), "teams": Team.objects.count(),
               "users": User.objects.count(), "attestation_items": AttestationItem.objects.count()}
    volumes["live_state"] = NonHumanIdentity.objects.with_state(as_of).live().aggregate(
        live=Count("pk"), **{flag[3:]: Count("pk", filter=Q(**{flag: True})) for flag in flags})
    volumes["by_status"] = dict(NonHumanIdentity.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return volumes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="the database nhi_generate.py built (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=15, help="timed requests per page (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests per page first")
    parser.add_argument("--skip", action="append", default=[], choices=["pages", "jobs", "imports"],
                        help="leave a part out (repeatable)")
    parser.add_argument("--imports", default="reimport,new", help="import scenarios (default: %(default)s)")
    parser.add_argument("--show-queries", action="store_true", help="print every query each page makes")
    parser.add_argument("--keep", action="store_true", help="keep the measured clone (<name>_run)")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results-nhi.json")
    args = parser.parse_args(argv)

    started = time.monotonic()
    source, db = open_clone(args.database_url, generator="nhi_generate.py (or make bench-nhi)")

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from soc2hub.models import ActivityLog, Role, Team, User

    settings.DEBUG = False
    pages = jobs = None
    imported = []
    try:
        meta = ActivityLog.objects.filter(verb="bench.nhi_generated").latest("id").after
        as_of = dt.date.fromisoformat(meta["as_of"])
        if as_of != timezone.localdate():
            print(f"  note: generated as of {as_of} but today is {timezone.localdate()}: states and the import's "
                  "date checks count from today. Regenerate for figures as of today.")
        volumes = data_volumes(as_of)
        version = database_version()
        load_before = _load()
        print(f"{version}, {os.cpu_count()} CPUs (load average {load_before[0]}), Python "
              f"{platform.python_version()}; as of {as_of}; {volumes['identities']:,} identities")
        print(f"  live {volumes['live_state']}")
        who = {}
        if "pages" not in args.skip:
            print(f"\nPages ({args.runs} runs after {args.warmup} warm-up)\n"
                  f"  {'page':<34} {'as':<9} {'median':>8} {'p95':>8} {'cpu ms':>8} {'queries':>8} {'sql ms':>8} "
                  f"{'KB':>7}")
            pages, who = measure_pages(meta, args.runs, args.warmup, args.show_queries)
            for row in pages:
                for sql, n in row["repeated_query_shapes"].items():
                    print(f"  ! {row['page']} ({row['as']}) repeats a query {n}x: {sql[:160]}")
        if "jobs" not in args.skip:
            print("\nDaily job (run_daily_jobs)")
            jobs = measure_jobs(as_of)
        if "imports" not in args.skip:
            print("\nImports (soc2hub CSV, built with nhi.export)")
            actor = User.objects.filter(groups__name=Role.SECURITY, is_active=True).order_by("pk").first()
            for scenario in [s for s in args.imports.split(",") if s]:
                imported.append(measure_import(scenario, as_of, actor, Team.objects.get(slug="security"),
                                               prefix=Path(db.name).stem))
    finally:
        connection.close()
        if not args.keep:
            db.drop()

    results = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": version,
        "code": _code_version(),
        "environment": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                        "runs": args.runs, "warmup": args.warmup, "load_average_before": load_before,
                        "load_average_after": _load()},
        "generated": meta,
        "volumes": volumes,
        "who": who,
        "pages": pages,
        "daily_job": jobs,
        "imports": imported,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    print(f"\nDone in {results['total_seconds']:.0f} s (load average now {_load()[0]}).")
    if not args.no_results:
        key = db.vendor if int(meta["count"]) == 100_000 else f"{db.vendor}-count-{meta['count']}"
        existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        existing[key] = {**existing.get(key, {}), **{k: v for k, v in results.items() if v is not None}}
        RESULTS.write_text(json.dumps(existing, indent=2, default=str) + "\n")
        print(f"Results written to {RESULTS} under {key!r}.")


if __name__ == "__main__":
    main()
