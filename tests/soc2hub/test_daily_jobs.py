"""The daily run: each job once per day (claimed by the database), in its own failure boundary,
retried and taken over, Security told once; the Jobs page and API for Security alone.

Jobs that fail do so for real: the tests register jobs of their own with ``@daily_job``
inside ``registry_restored()``, which removes them again."""

import datetime as dt
import threading
import time
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test.utils import CaptureQueriesContext
from django.db import connection
from django.utils import timezone

from soc2hub import jobs
from soc2hub.jobs import daily_job, registry_restored, run_daily_jobs
from soc2hub.models import ActivityLog, JobRun, JobRunStatus, Notification, Team
from tests.concurrency import race

DAY = dt.date(2026, 12, 5)
BOOM = "Connection unexpectedly closed"
ALERT = f"Daily job tests.boom failed for 5 Dec 2026: SMTPServerDisconnected: {BOOM}"


@pytest.fixture
def test_jobs():
    """``tests.boom`` (its mail server is gone) then ``tests.after``, which counts its calls."""
    calls = []
    with registry_restored():
        @daily_job("tests.boom")
        def boom(as_of):
            calls.append(("tests.boom", as_of))
            raise SMTPServerDisconnected(BOOM)

        @daily_job("tests.after")
        def after(as_of):
            calls.append(("tests.after", as_of))
            return {"ran": 1, "as_of": as_of}

        yield calls


def ours(outcomes: dict) -> dict:
    return {name: outcome["status"] for name, outcome in outcomes.items() if name.startswith("tests.")}


def run_of(job: str, day: dt.date = DAY) -> JobRun:
    return JobRun.objects.get(job=job, day=day)


# --- the failure boundary ----------------------------------------------------------------------

@pytest.mark.django_db
def test_a_job_that_raises_is_recorded_failed_with_its_error_and_the_jobs_after_it_still_run(test_jobs):
    outcomes = run_daily_jobs(DAY)

    assert ours(outcomes) == {"tests.boom": "failed", "tests.after": "done"}
    assert outcomes["tests.boom"]["error"] == f"SMTPServerDisconnected: {BOOM}"
    # Every real job ran too, each with its own row.
    assert {name: o["status"] for name, o in outcomes.items()} == {
        name: "failed" if name == "tests.boom" else "done" for name in jobs.registered_jobs()}
    assert JobRun.objects.filter(day=DAY).count() == len(jobs.registered_jobs())

    failed = run_of("tests.boom")
    assert (failed.status, failed.attempts, failed.error_summary) == (
        JobRunStatus.FAILED, 1, f"SMTPServerDisconnected: {BOOM}")
    assert "Traceback" in failed.error and "in boom" in failed.error
    assert failed.finished_at is not None and "seconds" in failed.result

    after = run_of("tests.after")
    assert (after.status, after.figures, after.error) == (JobRunStatus.DONE, {"ran": 1, "as_of": "2026-12-05"}, "")
    assert after.seconds is not None


@pytest.mark.django_db
def test_security_is_alerted_once_per_failed_job_and_day_even_when_run_again(
        test_jobs, personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(jobs.MAX_ATTEMPTS + 1):  # retried until out of attempts, then left failed
            outcomes = run_daily_jobs(DAY, only=["tests.boom"])

    assert test_jobs.count(("tests.boom", DAY)) == jobs.MAX_ATTEMPTS
    assert outcomes["tests.boom"]["status"] == "failed"
    assert "not retried again today" in outcomes["tests.boom"]["reason"]
    assert run_of("tests.boom").attempts == jobs.MAX_ATTEMPTS

    [notice] = Notification.objects.filter(kind="job.failed")
    assert (notice.user, notice.title, notice.url) == (personas["security"], ALERT, "/jobs/")
    assert [(m.subject, m.to) for m in mail.outbox if "Daily job" in m.subject] == [
        (f"[soc2hub] {ALERT}", ["sam_security@example.com"])]
    assert "run_daily_jobs --as-of 2026-12-05 --only tests.boom" in notice.body
    [entry] = ActivityLog.objects.filter(verb="job_run.failed")
    assert (entry.actor, entry.message, entry.object_id) == (None, ALERT, str(run_of("tests.boom").pk))
    assert run_of("tests.boom").alerted_at is not None

    # A forced run that fails again does not tell Security a second time either.
    run_daily_jobs(DAY, only=["tests.boom"], force=True)
    assert Notification.objects.filter(kind="job.failed").count() == 1
    # Another day is another failure.
    run_daily_jobs(DAY + dt.timedelta(days=1), only=["tests.boom"])
    assert Notification.objects.filter(kind="job.failed").count() == 2


# --- claims, takeovers, retries ----------------------------------------------------------------

@pytest.mark.django_db
def test_a_job_done_for_the_day_is_skipped_and_force_reruns_it_on_the_same_row(test_jobs):
    run_daily_jobs(DAY, only=["tests.after"])
    again = run_daily_jobs(DAY, only=["tests.after"])["tests.after"]
    assert again["status"] == "skipped" and again["reason"].startswith("done at")

    forced = run_daily_jobs(DAY, only=["tests.after"], force=True)["tests.after"]

    assert forced["status"] == "done"
    assert test_jobs == [("tests.after", DAY)] * 2
    assert list(JobRun.objects.filter(job="tests.after").values_list("day", "status", "attempts")) == [
        (DAY, JobRunStatus.DONE, 2)]


@pytest.mark.django_db
def test_a_stale_running_claim_is_taken_over_and_a_live_one_is_left_alone(test_jobs):
    long_ago = timezone.now() - jobs.STALE_AFTER - dt.timedelta(minutes=1)
    JobRun.objects.create(job="tests.after", day=DAY, started_at=long_ago, heartbeat_at=long_ago)
    recently = timezone.now() - dt.timedelta(minutes=5)
    JobRun.objects.create(job="tests.boom", day=DAY, started_at=recently, heartbeat_at=recently)

    outcomes = run_daily_jobs(DAY, only=["tests.after", "tests.boom"])

    assert outcomes["tests.after"]["status"] == "done"
    assert outcomes["tests.boom"]["status"] == "skipped" and outcomes["tests.boom"]["reason"].startswith("running")
    assert test_jobs == [("tests.after", DAY)]
    taken = run_of("tests.after")
    assert (taken.status, taken.attempts) == (JobRunStatus.DONE, 2)
    assert taken.started_at > long_ago
    assert run_of("tests.boom").status == JobRunStatus.RUNNING


@pytest.mark.django_db
def test_a_failed_job_is_retried_on_the_next_run_and_succeeds(personas):
    mail_server = {"up": False}
    with registry_restored():
        @daily_job("tests.flaky")
        def flaky(as_of):
            if not mail_server["up"]:
                raise SMTPServerDisconnected(BOOM)
            return {"sent": 3}

        first = run_daily_jobs(DAY, only=["tests.flaky"])["tests.flaky"]
        mail_server["up"] = True
        second = run_daily_jobs(DAY, only=["tests.flaky"])["tests.flaky"]
        third = run_daily_jobs(DAY, only=["tests.flaky"])["tests.flaky"]

    assert (first["status"], second["status"], second["sent"], third["status"]) == ("failed", "done", 3, "skipped")
    run = run_of("tests.flaky")
    assert (run.status, run.attempts, run.error, run.figures) == (JobRunStatus.DONE, 2, "", {"sent": 3})
    assert run.alerted_at is not None  # the first failure was told
    assert Notification.objects.filter(kind="job.failed").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_daily_runs_do_each_job_once(require_postgres):
    calls = []
    lock = threading.Lock()
    with registry_restored():
        @daily_job("tests.slow")
        def slow(as_of):
            with lock:
                calls.append(as_of)
            time.sleep(0.3)  # both runs are past the start while it runs
            return {"slept": 1}

        results = race(2, lambda _n: run_daily_jobs(DAY))

    assert calls == [DAY]
    for name in jobs.registered_jobs() | {"tests.slow": None}:
        assert sorted(r[name]["status"] for r in results) == ["done", "skipped"], name
    assert JobRun.objects.filter(day=DAY).count() == len(jobs.registered_jobs()) + 1
    assert set(JobRun.objects.values_list("status", "attempts")) == {(JobRunStatus.DONE, 1)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_a_job_registered_atomic_runs_in_one_transaction(require_postgres):
    """A job that commits row by row keeps what it did before failing (the retry completes it);
    an ``atomic=True`` job keeps nothing."""
    with registry_restored():
        @daily_job("tests.row_by_row")
        def row_by_row(as_of):
            Team.objects.create(name="Kept", slug="kept")
            raise RuntimeError("half way")

        @daily_job("tests.all_or_nothing", atomic=True)
        def all_or_nothing(as_of):
            Team.objects.create(name="Undone", slug="undone")
            raise RuntimeError("half way")

        outcomes = run_daily_jobs(DAY, only=["tests.row_by_row", "tests.all_or_nothing"])

    assert ours(outcomes) == {"tests.row_by_row": "failed", "tests.all_or_nothing": "failed"}
    assert list(Team.objects.filter(slug__in=["kept", "undone"]).values_list("slug", flat=True)) == ["kept"]


# --- the command -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_command_exits_non_zero_naming_the_failed_job_for_the_day_asked(test_jobs, capsys):
    with pytest.raises(CommandError, match=r"1 daily job failed: tests\.boom"):
        call_command("run_daily_jobs", "--as-of", "2026-11-30", "--only", "tests.boom", "--only", "tests.after")

    out = capsys.readouterr().out
    assert f"tests.boom: FAILED (attempt 1): SMTPServerDisconnected: {BOOM}" in out
    assert "tests.after: done in" in out and "ran=1" in out
    assert set(JobRun.objects.values_list("job", "day")) == {("tests.boom", dt.date(2026, 11, 30)),
                                                            ("tests.after", dt.date(2026, 11, 30))}


@pytest.mark.django_db
def test_the_command_succeeds_when_every_job_is_done_or_skipped(test_jobs, capsys):
    call_command("run_daily_jobs", "--as-of", "2026-11-30", "--only", "tests.after")
    call_command("run_daily_jobs", "--as-of", "2026-11-30", "--only", "tests.after")
    call_command("run_daily_jobs", "--as-of", "2026-11-30", "--only", "tests.after", "--force")

    out = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0].split(" in ")[0] for line in out] == [
        "tests.after: done", "tests.after: skipped", "tests.after: done"]
    assert run_of("tests.after", dt.date(2026, 11, 30)).attempts == 2


# --- the Jobs page and the API -------------------------------------------------------------------

PERSONAS = ["anonymous", "owner", "other_team", "leadership", "auditor", "security"]


def _answer(response):
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/"):
        return "login"
    return response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_the_jobs_page_and_api_answer_security_alone(personas, client_for, persona):
    client = client_for(personas[persona])
    answers = {url: _answer(client.get(url)) for url in ("/jobs/", "/api/v1/job-runs/")}
    if persona == "security":
        assert answers == {"/jobs/": 200, "/api/v1/job-runs/": 200}
    elif persona == "anonymous":
        assert answers == {"/jobs/": "login", "/api/v1/job-runs/": 403}
    else:
        assert answers == {"/jobs/": 403, "/api/v1/job-runs/": 403}


@pytest.mark.django_db
def test_the_jobs_page_shows_every_job_with_its_last_run_and_highlights_failures(test_jobs, personas, client_for):
    run_daily_jobs(DAY - dt.timedelta(days=1), only=["tests.after"])
    run_daily_jobs(DAY, only=["tests.boom", "tests.after"])

    response = client_for(personas["security"]).get("/jobs/")

    body = response.content.decode()
    assert response.status_code == 200
    for name in jobs.registered_jobs():
        assert f"<code>{name}</code>" in body
    assert "Never run" in body  # the real jobs
    assert '<tr class="table-danger" data-job="tests.boom">' in body
    assert f"<details><summary>SMTPServerDisconnected: {BOOM}</summary>" in body
    assert "ran 1" in body
    last = dict(response.context["jobs"])
    assert last["tests.after"].day == DAY and last["evidence.open_requests"] is None
    assert [r.job for r in response.context["page"]] == ["tests.after", "tests.boom", "tests.after"]
    failed_only = client_for(personas["security"]).get("/jobs/?status=failed")
    assert [r.job for r in failed_only.context["page"]] == ["tests.boom"]


@pytest.mark.django_db
def test_the_api_lists_runs_for_security(test_jobs, personas, client_for):
    run_daily_jobs(DAY, only=["tests.boom", "tests.after"])

    body = client_for(personas["security"]).get("/api/v1/job-runs/?status=failed").json()

    [row] = body["results"] if isinstance(body, dict) else body
    assert (row["job"], row["day"], row["status"], row["attempts"]) == ("tests.boom", "2026-12-05", "failed", 1)
    assert row["error"].startswith(f"SMTPServerDisconnected: {BOOM}")


def _make_runs(count: int) -> None:
    names = list(jobs.registered_jobs())
    JobRun.objects.bulk_create([
        JobRun(job=names[n % len(names)], day=DAY - dt.timedelta(days=n // len(names)),
               status=JobRunStatus.FAILED if n % 4 == 0 else JobRunStatus.DONE, finished_at=timezone.now(),
               result={"sent": n}, error="RuntimeError: no\n\nTraceback" if n % 4 == 0 else "")
        for n in range(count) if not JobRun.objects.filter(
            job=names[n % len(names)], day=DAY - dt.timedelta(days=n // len(names))).exists()
    ])


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/jobs/", "/api/v1/job-runs/"])
def test_the_jobs_page_and_api_cost_the_same_queries_for_3_or_30_runs(personas, client_for, url,
                                                                      django_assert_num_queries):
    client = client_for(personas["security"])
    _make_runs(3)
    client.get(url)  # warm: the session, content types
    with CaptureQueriesContext(connection) as with_3:
        assert client.get(url).status_code == 200
    _make_runs(30)
    assert JobRun.objects.count() == 30
    with django_assert_num_queries(len(with_3)):
        assert client.get(url).status_code == 200
