"""Measure an audit's reports at enterprise size: the evidence index PDF and the evidence package
for a Type II audit over 400 controls and 5,000 approved evidence files.

    .venv/bin/python bench/audit_run.py                     # SQLite, var/bench/soc2hub_audit_bench.sqlite3
    .venv/bin/python bench/audit_run.py --database-url postgres://postgres@127.0.0.1:5432/soc2hub_audit_bench

Unlike generate.py and nhi_generate.py there is no separate generator: building the estate takes
seconds, and the files it measures live in a temporary MEDIA_ROOT that is deleted at the end. The
database is dropped and re-created on every run (its name must contain "bench"; see common.py).
What it builds:

* the SOC 2 catalog and generate.py's 12 teams, 140 people and 400 controls (owners, 1-3
  criteria each);
* one Type II audit over the last 12 full months with every category in scope, so all 400
  controls are in it;
* one quarterly standard per control, its four requests in the window, each approved with one
  submission holding 3 or 4 files: exactly ``--files`` (default 5,000) evidence files. Each is a
  small CSV of 1-16 KiB with its own content and its real SHA-256, written to disk.

Then three measurements, each in a forked child process so that its peak memory is its own
(reported as how far the child's resident memory rose above what it inherited, from
``ru_maxrss``):

1. ``audits.reports.evidence_index_pdf``: wall and CPU time, pages, parts, size.
2. ``audits.reports.write_evidence_package`` into a temporary file: wall and CPU time, the time
   of each phase (verify every hash, render the four PDFs, copy the files) and the ZIP's size.
   The verify and copy phases also run under ``tracemalloc``, for their own peak of Python
   memory: the figure that must stay flat as the number of files grows.
3. ``audits.reports.report_generate`` for an evidence package job, end to end (claim, build,
   hash, store, record).

Figures go to bench/results-audit.json under the
database vendor (plus ``-controls-<n>-files-<n>`` for other sizes).
"""

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_VAR, BenchDatabase, setup_django

RESULTS = Path(__file__).resolve().parent / "results-audit.json"
DEFAULT_URL = f"sqlite:///{BENCH_VAR / 'soc2hub_audit_bench.sqlite3'}"
BATCH = 1_000


def log(message: str, started: float | None = None) -> None:
    suffix = f" ({time.monotonic() - started:.1f} s)" if started is not None else ""
    print(f"  {message}{suffix}", flush=True)


def use_media_root(media: Path) -> None:
    """Point default storage at ``media`` (common.setup_django has set var/bench/media), before
    anything opens the storage."""
    from django.conf import settings
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = media
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": media}}}
    if Path(default_storage.location) != media:
        raise SystemExit(f"Default storage already points at {default_storage.location}, not {media}.")


# --- the estate ---------------------------------------------------------------------------------

def quarters(start: dt.date, end: dt.date):
    """(start, end, label) of each calendar quarter ending inside [start, end]."""
    day = dt.date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    while day <= end:
        nxt = dt.date(day.year + (day.month > 9), (day.month + 2) % 12 + 1, 1)
        last = nxt - dt.timedelta(days=1)
        if start <= last <= end:
            yield day, last, f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        day = nxt


def csv_bytes(rng: random.Random, request_id: int, n: int) -> bytes:
    lines = [b"record_id,date,status,reviewed_by\n"]
    size, target = len(lines[0]), rng.randint(1, 16) * 1024
    row = 0
    while size < target:
        row += 1
        line = f"R{request_id}-{n}-{row},2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},complete," \
               f"reviewer{rng.randint(1, 9)}\n".encode()
        lines.append(line)
        size += len(line)
    return b"".join(lines)


def build_audit(rng: random.Random, as_of: dt.date, n_controls: int, n_files: int, media: Path) -> dict:
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from generate import build_controls, build_people

    from audits.models import Audit
    from controls.catalog import load_catalog
    from controls.models import Category
    from evidence.models import Evidence, EvidenceFile, EvidenceRequest, EvidenceStatus, EvidenceTemplate, \
        RequestStatus
    from soc2hub.models import Role

    step = time.monotonic()
    load_catalog()
    with transaction.atomic():
        teams, members, groups = build_people(rng, make_password(settings.DEMO_PASSWORD))
        controls = build_controls(rng, teams, n_controls)
    security = members["security"]
    log(f"catalog, {sum(len(m) for m in members.values())} people, {len(controls)} controls", step)

    end = as_of.replace(day=1) - dt.timedelta(days=1)
    start = dt.date(end.year - 1, end.month, 1) + dt.timedelta(days=32)
    start = start.replace(day=1)
    periods = list(quarters(start, end))
    audit = Audit.objects.create(name="FY26 SOC 2 Type II", firm="Example & Co LLP", type="type2",
                                 period_start=start, period_end=end, categories=list(Category.values),
                                 created_by=security[0])

    step = time.monotonic()
    requests_needed = len(controls) * len(periods)
    if n_files < 3 * requests_needed:
        raise SystemExit(f"--files must be at least {3 * requests_needed} (3 per request).")
    with transaction.atomic():
        templates = EvidenceTemplate.objects.bulk_create([EvidenceTemplate(
            control=c, title=f"Quarterly review: {c.name}"[:200], instructions="Export the review record.",
            acceptance_criteria="Covers the whole quarter.", cadence="quarterly",
            owner_team=c.evidence_owner or teams["security"], reviewer_group=groups[Role.SECURITY],
            starts_on=start, created_by=security[0]) for c in controls], batch_size=BATCH)
        requests = EvidenceRequest.objects.bulk_create([EvidenceRequest(
            template=t, control=t.control, owner_team=t.owner_team, title=t.title, period_start=p_start,
            period_end=p_end, period_label=label, opens_on=p_end, due_on=p_end + dt.timedelta(days=14),
            status=RequestStatus.APPROVED) for t in templates for p_start, p_end, label in periods],
            batch_size=BATCH)
        evidence = Evidence.objects.bulk_create([Evidence(
            request=r, note="Exported from the system of record.", status=EvidenceStatus.APPROVED,
            submitted_by=rng.choice(members[r.owner_team.slug]), reviewed_by=rng.choice(security),
            reviewed_at=dt.datetime.combine(r.period_end + dt.timedelta(days=rng.randint(3, 12)), dt.time(11),
                                            tzinfo=dt.UTC)) for r in requests], batch_size=BATCH)
        extra = n_files - 3 * len(requests)  # the first ``extra`` requests get a fourth file
        files, written = [], 0
        for i, (request, submission) in enumerate(zip(requests, evidence, strict=True)):
            for n in range(1, 5 if i < extra else 4):
                content = csv_bytes(rng, request.pk, n)
                name = f"{request.control.ref.lower()}-{request.period_label}-{n}.csv"
                relative = f"evidence/{request.pk}/{uuid.uuid4().hex}/{name}"
                (media / relative).parent.mkdir(parents=True, exist_ok=True)
                (media / relative).write_bytes(content)
                written += len(content)
                files.append(EvidenceFile(evidence=submission, file=relative, original_name=name,
                                          size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                                          content_type="text/csv", uploaded_by=submission.submitted_by))
        EvidenceFile.objects.bulk_create(files, batch_size=BATCH)
    log(f"audit {start} to {end}: {len(requests):,} approved requests, {len(files):,} files, "
        f"{written / 2**20:.1f} MiB on disk", step)
    return {"audit": audit, "requested_by": security[0], "window": [start.isoformat(), end.isoformat()],
            "controls": len(controls), "requests": len(requests), "files": len(files), "bytes": written}


# --- measuring ----------------------------------------------------------------------------------

def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def in_child(func) -> dict:
    """Run ``func`` in a forked process and return its result with its wall and CPU time and
    how far its resident memory rose above what it inherited (its ``ru_maxrss`` minus its RSS
    at the fork), so each measurement's peak is its own, not the largest so far."""
    from django.db import connections

    connections.close_all()  # the child opens its own; never share a connection across a fork
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reader)
        try:
            base = rss_mib()
            started, cpu = time.perf_counter(), time.process_time()
            result = func()
            result.update(seconds=round(time.perf_counter() - started, 2),
                          cpu_seconds=round(time.process_time() - cpu, 2),
                          rss_rise_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base, 1))
        except BaseException as exc:  # reported by the parent
            result = {"error": f"{exc.__class__.__name__}: {exc}"}
        with os.fdopen(writer, "w") as out:
            json.dump(result, out, default=str)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as source:
        result = json.loads(source.read() or '{"error": "the child died"}')
    os.waitpid(pid, 0)
    if "error" in result:
        raise SystemExit(f"Measurement failed: {result['error']}")
    return result


def measure_index(estate: dict) -> dict:
    from pypdf import PdfReader

    from audits import reports

    def render():
        parts = []
        pdf = reports.evidence_index_pdf(estate["audit"], requested_by=estate["requested_by"],
                                         on_progress=lambda done, total: parts.append(done))
        return {"pages": len(PdfReader(io.BytesIO(pdf)).pages), "kib": round(len(pdf) / 1024),
                "parts": max(parts) - 1, "rows_per_part": reports.INDEX_PART_ROWS}

    result = in_child(render)
    log(f"evidence index: {result['seconds']:.1f} s ({result['cpu_seconds']:.1f} s CPU), {result['pages']} pages "
        f"in {result['parts']} parts, {result['kib']:,} KiB; RSS rose {result['rss_rise_mib']} MiB")
    return result


class Phases:
    """The package's phases, told apart by its progress: every hash verified (``count`` steps),
    the four PDFs rendered (``count + 4``), every file copied (``2 * count + 4``). Each phase is
    timed; the verify and copy phases run under ``tracemalloc`` for their own peak of Python
    memory (the PDFs do not: tracing makes WeasyPrint about 8 times as slow)."""

    def __init__(self, count: int, pdfs: int):
        self.ends = {count: "verify", count + pdfs: "pdfs", 2 * count + pdfs: "copy"}
        self.seconds, self.peak_mib = {}, {}
        self.last = time.perf_counter()
        tracemalloc.start()

    def __call__(self, done: int, total: int) -> None:
        phase = self.ends.get(done)
        if phase is None or phase in self.seconds:
            return
        now = time.perf_counter()
        self.seconds[phase], self.last = round(now - self.last, 2), now
        if tracemalloc.is_tracing():
            self.peak_mib[phase] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
        if phase == "pdfs":
            tracemalloc.start()  # the copy phase


def measure_package(estate: dict) -> dict:
    from audits import reports

    def package():
        phases = Phases(estate["files"], len(reports.PDFS))
        with tempfile.TemporaryFile(dir=BENCH_VAR) as target:
            reports.write_evidence_package(estate["audit"], target, requested_by=estate["requested_by"],
                                           on_progress=phases)
            size = target.seek(0, os.SEEK_END)
        return {"mib": round(size / 2**20, 1), "phase_seconds": phases.seconds,
                "phase_python_peak_mib": phases.peak_mib}

    result = in_child(package)
    log(f"evidence package: {result['seconds']:.1f} s ({result['cpu_seconds']:.1f} s CPU), "
        f"{result['mib']} MiB ZIP; "
        f"phases {result['phase_seconds']} s; Python peak while verifying and copying "
        f"{result['phase_python_peak_mib']} MiB; RSS rose {result['rss_rise_mib']} MiB")
    return result


def measure_job(estate: dict) -> dict:
    from audits import reports
    from audits.models import ReportJob, ReportKind, ReportStatus

    job = ReportJob.objects.create(audit=estate["audit"], kind=ReportKind.EVIDENCE_PACKAGE,
                                   requested_by=estate["requested_by"])

    def generate():
        reports.report_generate(job.pk)
        done = ReportJob.objects.get(pk=job.pk)
        if done.status != ReportStatus.DONE:
            raise RuntimeError(f"the package job ended {done.status}: {done.message}")
        return {"stored": done.file.name, "stored_mib": round(done.size / 2**20, 1),
                "progress_percent": done.progress_percent}

    result = in_child(generate)
    log(f"package job end to end: {result['seconds']:.1f} s ({result['cpu_seconds']:.1f} s CPU), stored "
        f"{result['stored']} ({result['stored_mib']} MiB); RSS rose {result['rss_rise_mib']} MiB")
    return result


# --- the run ------------------------------------------------------------------------------------

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="sqlite:///path or postgres://... (its name must contain 'bench'); "
                             "default: %(default)s")
    parser.add_argument("--files", type=int, default=5_000, help="approved evidence files (default: %(default)s)")
    parser.add_argument("--controls", type=int, default=400, help="controls (default: %(default)s)")
    parser.add_argument("--skip", action="append", default=[], choices=["index", "package", "job"],
                        help="leave a measurement out (repeatable)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results-audit.json")
    args = parser.parse_args(argv)

    db = BenchDatabase(args.database_url)
    started = time.monotonic()
    print(f"Audit reports at {args.files:,} evidence files in {db} ({db.vendor})", flush=True)
    db.recreate()
    setup_django(db)
    media = Path(tempfile.mkdtemp(prefix="audit-bench-media-", dir=BENCH_VAR))
    use_media_root(media)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from run import _code_version, _load, database_version

    from soc2hub import notifications

    settings.DEBUG = False  # no query log growing through the run, as in production
    results = {}
    try:
        step = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        log("migrated", step)
        with notifications.suppressed():
            estate = build_audit(random.Random(args.seed), timezone.localdate(), args.controls, args.files,
                                 media)
        version, load_before = database_version(), _load()
        print(f"{version}, {os.cpu_count()} CPUs (load average {load_before[0]}), Python "
              f"{platform.python_version()}; RSS after generating {rss_mib():.0f} MiB", flush=True)
        if "index" not in args.skip:
            results["evidence_index"] = measure_index(estate)
        if "package" not in args.skip:
            results["evidence_package"] = measure_package(estate)
        if "job" not in args.skip:
            results["package_job"] = measure_job(estate)
    finally:
        connection.close()
        shutil.rmtree(media, ignore_errors=True)
        db.drop()

    summary = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": version, "code": _code_version(),
        "environment": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                        "load_average_before": load_before, "load_average_after": _load()},
        "estate": {k: v for k, v in estate.items() if k not in ("audit", "requested_by")},
        **results, "total_seconds": round(time.monotonic() - started, 1),
    }
    print(f"Done in {summary['total_seconds']:.0f} s (load average now {_load()[0]}).")
    if not args.no_results:
        key = db.vendor if (args.files, args.controls) == (5_000, 400) else \
            f"{db.vendor}-controls-{args.controls}-files-{args.files}"
        existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        existing[key] = summary
        RESULTS.write_text(json.dumps(existing, indent=2, default=str) + "\n")
        print(f"Results written to {RESULTS} under {key!r}.")


if __name__ == "__main__":
    main()
