"""Load benchmark: signed-in people using soc2hub at once, then an integrity check.

    python bench/load.py --database-url postgres://postgres@127.0.0.1:5432/soc2hub_load_bench \
        --redis-url redis://127.0.0.1:6379/9 [--clients 50] [--seconds 60]

Builds its own database (its name must contain "bench": it is dropped and re-created) with
the demo organisation plus the benchmark's people and open evidence requests, starts gunicorn
and a Celery worker on it, signs ``--clients`` people in (one thread each, as a browser would,
with sessions and CSRF), and lets them work for ``--seconds``: pages and API reads, evidence
uploads, Security's approvals, comments on auditor requests are left out (the demo has one),
identity rotations. Then it checks that every write the server acknowledged is stored —
files present with the SHA-256 the client computed, approvals and rotations recorded, nothing
twice — and reports requests per second, p50/p95/p99 per action and errors.

Requests leave only for 127.0.0.1; the loop is bounded by ``--seconds``.
"""

import argparse
import hashlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import REPO, BenchDatabase  # noqa: E402

PASSWORD = "bench-load-password-2026"
TEAMS = ["hr", "engineering", "legal", "finance", "procurement"]
RESULTS = REPO / "bench" / "results-load.json"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(args, var: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SOC2HUB_LOCAL": "true",
        "SOC2HUB_VAR_DIR": str(var),
        "MEDIA_ROOT": str(var / "media"),
        "MFA_REQUIRED_GROUPS": "",  # people sign in with a password here; MFA is timed in the browser tests
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "60",
        "DJANGO_SETTINGS_MODULE": "soc2hub.settings",
    }


def manage(env, *command):
    subprocess.run([sys.executable, "manage.py", *command], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)


SETUP = """
import datetime as dt
from django.contrib.auth.models import Group
from django.utils import timezone
from evidence.models import EvidenceRequest
from soc2hub.models import Membership, Role, Team, User
teams = {t.slug: t for t in Team.objects.filter(slug__in=%(teams)r + ["security"])}
security = Group.objects.get(name=Role.SECURITY)
people = []
for n in range(%(members)d):
    team = teams[%(teams)r[n %% len(%(teams)r)]]
    user = User.objects.create_user(f"load{n}", email=f"load{n}@example.com", password=%(password)r,
                                    first_name="Load", last_name=str(n))
    Membership.objects.create(user=user, team=team)
for n in range(%(reviewers)d):
    user = User.objects.create_user(f"review{n}", email=f"review{n}@example.com", password=%(password)r,
                                    first_name="Review", last_name=str(n))
    Membership.objects.create(user=user, team=teams["security"])
    user.groups.add(security)
today = timezone.localdate()
EvidenceRequest.objects.bulk_create([
    EvidenceRequest(owner_team=teams[%(teams)r[member %% len(%(teams)r)]], title=f"Load request {k} for load{member}.",
                    period_start=today, period_end=today, period_label=f"L{member}-{k}", opens_on=today,
                    due_on=today + dt.timedelta(days=30))
    for member in range(%(members)d) for k in range(%(per_member)d)
])
"""


class Client(threading.Thread):
    """One person: a session, a role, and a loop of weighted actions until the deadline."""

    def __init__(self, base, username, role, deadline, record, acknowledged, seed):
        super().__init__(daemon=True)
        import requests

        self.http = requests.Session()
        self.base, self.username, self.role, self.deadline = base, username, role, deadline
        self.record, self.acknowledged = record, acknowledged
        self.random = random.Random(seed)
        self.open_requests: list[int] = []
        self.nhis: list[int] = []

    def call(self, label, method, path, **kwargs):
        headers = kwargs.pop("headers", {})
        if method != "GET":
            headers["X-CSRFToken"] = self.http.cookies.get("csrftoken", "")
            headers["Referer"] = self.base + "/"
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, headers=headers, timeout=30,
                                         allow_redirects=False, **kwargs)
            status = response.status_code
        except Exception as exc:  # noqa: BLE001 - a refused connection is a result to count
            response, status = None, f"error {type(exc).__name__}"
        self.record(label, status, time.perf_counter() - started)
        return response

    def sign_in(self) -> bool:
        page = self.call("sign in page", "GET", "/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        done = self.call("sign in", "POST", "/accounts/login/",
                         data={"login": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token})
        return done is not None and done.status_code == 302

    def run(self):
        if not self.sign_in():
            return
        if self.role == "member":
            # This person's own requests (the setup gives each member fifty), so that two people
            # never race to answer the same one.
            listing = self.call("api: open requests", "GET",
                                f"/api/v1/evidence-requests/?status=open&q=for+{self.username}.")
            self.open_requests = ([r["id"] for r in listing.json()["results"] if r["title"].endswith(f" {self.username}.")]
                                  if listing is not None else [])
            self.random.shuffle(self.open_requests)
            nhis = self.call("api: identities", "GET", "/api/v1/nhis/?status=active")
            self.nhis = [n["id"] for n in nhis.json()["results"]] if nhis is not None else []
        actions = self.member_actions() if self.role == "member" else self.security_actions()
        names, weights = zip(*[(a, w) for a, w in actions.items()])
        while time.monotonic() < self.deadline:
            getattr(self, self.random.choices(names, weights)[0])()

    # --- what people do ----------------------------------------------------------------------
    def member_actions(self):
        return {"home": 3, "requests_page": 3, "controls_page": 1, "identities_page": 2, "requests_api": 2,
                "upload": 2, "rotate": 1}

    def security_actions(self):
        return {"home": 2, "review_queue": 3, "matrix": 1, "approve": 3, "requests_api": 1}

    def home(self):
        self.call("page: overview", "GET", "/")

    def requests_page(self):
        self.call("page: evidence requests", "GET", "/evidence/")

    def controls_page(self):
        self.call("page: controls", "GET", "/controls/")

    def identities_page(self):
        self.call("page: identities", "GET", "/nhi/")

    def matrix(self):
        self.call("page: ownership matrix", "GET", "/matrix/")

    def review_queue(self):
        self.call("page: review queue", "GET", "/evidence/review/")

    def requests_api(self):
        self.call("api: evidence requests", "GET", "/api/v1/evidence-requests/")

    def upload(self):
        if not self.open_requests:
            return self.home()
        request_id = self.open_requests.pop()
        content = (f"user,left_on,ticket\n{self.username},2026-11-30,HR-{self.random.randint(1, 10**9)}\n"
                   * self.random.randint(20, 400)).encode()
        digest = hashlib.sha256(content).hexdigest()
        response = self.call("api: upload evidence", "POST", "/api/v1/evidence/",
                             data={"request": request_id, "note": "Leavers this week"},
                             files={"files": (f"leavers-{request_id}.csv", content, "text/csv")})
        if response is not None and response.status_code == 201:
            body = response.json()
            self.acknowledged["uploads"].append((body["id"], body["files"][0]["id"], digest))

    def rotate(self):
        if not self.nhis:
            return self.home()
        nhi = self.random.choice(self.nhis)
        response = self.call("api: rotate identity", "POST", f"/api/v1/nhis/{nhi}/rotate/",
                             data={"evidence_link": "https://tickets.example.com/ROT-1", "note": "Rotated"})
        if response is not None and response.status_code == 200:
            self.acknowledged["rotations"].append(nhi)

    def approve(self):
        pending = self.call("api: pending evidence", "GET", "/api/v1/evidence/?status=pending")
        if pending is None or pending.status_code != 200 or not pending.json()["results"]:
            time.sleep(0.2)
            return
        evidence = self.random.choice(pending.json()["results"][:10])
        response = self.call("api: approve evidence", "POST", f"/api/v1/evidence/{evidence['id']}/approve/")
        if response is not None and response.status_code == 200:
            self.acknowledged["approvals"].append(evidence["id"])


def measure_floor(base, clients: int, seconds: int) -> dict:
    """The trivial floor on this machine: the same number of threads asking ``/healthz`` (no
    session, no database) as fast as they can — what gunicorn and the client threads cost alone."""
    import requests

    counts, latencies, lock = [0], [], threading.Lock()
    deadline = time.monotonic() + seconds

    def hammer():
        http = requests.Session()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            http.get(base + "/healthz", timeout=30)
            with lock:
                counts[0] += 1
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return {"requests_per_second": round(counts[0] / seconds, 1), "p50_ms": round(1000 * percentile(latencies, 50), 1)}


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def integrity(acknowledged, started_at) -> dict:
    """Every acknowledged write is stored, once, with the bytes the client sent."""
    from django.db.models import Count

    from evidence.models import Evidence, EvidenceFile, EvidenceStatus
    from nhi.models import RotationRecord
    from evidence.storage import sha256_of_storage_file

    problems = []
    uploads = acknowledged["uploads"]
    files = {f.pk: f for f in EvidenceFile.objects.filter(pk__in=[u[1] for u in uploads])}
    for evidence_id, file_id, digest in uploads:
        stored = files.get(file_id)
        if stored is None or stored.evidence_id != evidence_id:
            problems.append(f"upload {file_id} acknowledged but not stored")
        elif stored.sha256 != digest:
            problems.append(f"upload {file_id}: recorded hash {stored.sha256} is not the client's {digest}")
        elif sha256_of_storage_file(stored.file) != digest:
            problems.append(f"upload {file_id}: the file on disk does not hash to {digest}")
    duplicates = (EvidenceFile.objects.filter(uploaded_at__gte=started_at).values("sha256")
                  .order_by().annotate(n=Count("id")).filter(n__gt=1).count())
    if duplicates:
        problems.append(f"{duplicates} uploads stored twice")
    approved = set(Evidence.objects.filter(pk__in=acknowledged["approvals"], status=EvidenceStatus.APPROVED)
                   .values_list("pk", flat=True))
    missing = set(acknowledged["approvals"]) - approved
    if missing:
        problems.append(f"{len(missing)} acknowledged approvals not recorded")
    if len(acknowledged["approvals"]) != len(set(acknowledged["approvals"])):
        problems.append("an evidence was acknowledged as approved twice")
    rotations = RotationRecord.objects.filter(recorded_at__gte=started_at).count()
    if rotations != len(acknowledged["rotations"]):
        problems.append(f"{len(acknowledged['rotations'])} rotations acknowledged, {rotations} recorded")
    return {"uploads": len(uploads), "approvals": len(acknowledged["approvals"]),
            "rotations": len(acknowledged["rotations"]), "problems": problems}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--reviewers", type=int, default=8, help="how many of the clients are Security")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 3)),
                        help="gunicorn workers (docker-compose runs 3 sync workers)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    database = BenchDatabase(args.database_url)
    var = REPO / "var" / "bench" / "load"
    subprocess.run(["rm", "-rf", str(var)], check=True)
    var.mkdir(parents=True)
    env = environment(args, var)
    print(f"Database {database}: building the demo organisation and the load's people…", flush=True)
    database.recreate()
    manage(env, "migrate", "--noinput")
    manage(env, "load_soc2_catalog")
    manage(env, "seed_demo")
    members = args.clients - args.reviewers
    manage(env, "shell", "-c", SETUP % {"teams": TEAMS, "members": members, "reviewers": args.reviewers,
                                        "password": PASSWORD, "per_member": 50})

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = [
        subprocess.Popen([sys.executable, "-m", "gunicorn", "soc2hub.wsgi", "-b", f"127.0.0.1:{port}",
                          "-w", str(args.workers), "--threads", str(args.threads), "--log-level", "warning"],
                         cwd=REPO, env=env, start_new_session=True),
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "soc2hub", "worker", "--pool=solo",
                          "--loglevel=WARNING"], cwd=REPO, env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL),
    ]
    try:
        import requests

        for _ in range(100):
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        os.environ.update(env)  # this process reads the same database for the integrity check
        import django

        django.setup()
        from django.utils import timezone

        lock = threading.Lock()
        samples = defaultdict(list)

        def record(label, status, seconds):
            with lock:
                samples[label].append((status, seconds))

        acknowledged = {"uploads": [], "approvals": [], "rotations": []}
        started_at = timezone.now()
        deadline = time.monotonic() + args.seconds
        clients = [Client(base, f"load{n}", "member", deadline, record, acknowledged, n) for n in range(members)]
        clients += [Client(base, f"review{n}", "security", deadline, record, acknowledged, 1000 + n)
                    for n in range(args.reviewers)]
        print(f"{len(clients)} people working for {args.seconds} s against gunicorn "
              f"({args.workers} workers × {args.threads} threads) on {base}…", flush=True)
        began = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join(args.seconds + 60)
        elapsed = time.monotonic() - began
        floor = measure_floor(base, len(clients), seconds=min(15, args.seconds))
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)

    all_samples = [s for rows in samples.values() for s in rows]
    ok = [sec for status, sec in all_samples if isinstance(status, int) and status < 500]
    errors = defaultdict(int)
    for label, rows in samples.items():
        for status, _sec in rows:
            if not isinstance(status, int) or status >= 400:
                errors[f"{label}: {status}"] += 1
    report = {
        "clients": args.clients, "seconds": args.seconds, "gunicorn": f"{args.workers}x{args.threads}",
        "database": database.vendor, "requests": len(all_samples),
        "requests_per_second": round(len(all_samples) / elapsed, 1),
        "p50_ms": round(1000 * percentile(ok, 50), 1), "p95_ms": round(1000 * percentile(ok, 95), 1),
        "p99_ms": round(1000 * percentile(ok, 99), 1),
        "actions": {label: {"n": len(rows),
                            "p50_ms": round(1000 * statistics.median([s for _st, s in rows]), 1),
                            "p95_ms": round(1000 * percentile([s for _st, s in rows], 95), 1)}
                    for label, rows in sorted(samples.items())},
        "errors": dict(errors),
        "integrity": integrity(acknowledged, started_at),
        "floor_healthz": floor,
        "ratio_to_floor": {"throughput": round((len(all_samples) / elapsed) / floor["requests_per_second"], 3),
                           "p50": round(percentile(ok, 50) * 1000 / max(floor["p50_ms"], 0.1), 1)},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if report["integrity"]["problems"]:
        raise SystemExit("integrity check failed: " + "; ".join(report["integrity"]["problems"]))


if __name__ == "__main__":
    main()
