"""No orphaned work, with real services: a throwaway Redis that is really stopped, real
``celery worker`` processes on the test database, one of them SIGKILLed mid-package.

* With the broker down, asking for a report (page and API) or uploading an NHI import answers 503
  saying the work will start when the queue is back; the row is kept and marked (no
  ``enqueued_at``), and asking again gives the same job, never a second one or a dead one.
* Once Redis is back the sweeper queues them and a worker does each exactly once.
* A worker killed while it builds a package leaves a running job whose heartbeat stops; the
  sweeper puts it back in the queue and a new worker finishes it.
"""

import datetime as dt
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from audits import services
from audits.models import ReportJob, ReportStatus
from nhi.models import ImportStatus, NhiImport
from soc2hub import jobqueue
from soc2hub.models import ActivityLog
from tests.nhi.conftest import csv_bytes, identity_row
from tests.services import celery_on, free_port, wait_for

QUEUE_DOWN_REPORT = "The task queue is unavailable; your report will start when it is back."


def logged(verb: str, obj) -> int:
    return ActivityLog.objects.filter(verb=verb, object_id=str(obj.pk)).count()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_work_asked_for_while_the_broker_is_down_runs_once_when_it_is_back(
        estate, personas, client_for, throwaway_redis, workers):
    audit, security = estate["audit_a"], personas["security"]
    client = client_for(security)
    with celery_on(throwaway_redis.url):
        throwaway_redis.stop()

        page = client.post(reverse("audits:report_new", args=[audit.pk]), {"kind": "nhi_summary"})
        assert page.status_code == 503 and page["Retry-After"] == "60"
        assert QUEUE_DOWN_REPORT in page.content.decode()
        job = ReportJob.objects.get()
        assert (job.status, job.enqueued_at) == (ReportStatus.QUEUED, None)  # kept, marked: not on the queue
        assert job.get_absolute_url() in page.content.decode()
        assert "Waiting for the task queue" in client.get(job.get_absolute_url()).content.decode()

        # Asking again (the API this time) tries the queue again for the same job: no second row.
        again = client.post("/api/v1/reports/", {"audit": audit.pk, "kind": "nhi_summary"},
                            content_type="application/json")
        assert again.status_code == 503
        assert again.json() | {"url": ""} == {"detail": QUEUE_DOWN_REPORT, "code": "queue_unavailable", "id": job.pk,
                                              "status": "queued", "url": ""}
        assert ReportJob.objects.count() == 1

        upload = client.post("/api/v1/nhi-imports/", {
            "format": "csv", "file": SimpleUploadedFile("keys.csv", csv_bytes([identity_row(1), identity_row(2)]))})
        assert upload.status_code == 503
        assert upload.json()["detail"] == ("The task queue is unavailable; your import's check will start when it "
                                           "is back.")
        imp = NhiImport.objects.get()
        assert (imp.status, imp.enqueued_at) == (ImportStatus.QUEUED, None)
        assert imp.file.storage.exists(imp.file.name)  # the upload is kept for the check
        assert "Waiting for the task queue" in client.get(imp.get_absolute_url()).content.decode()

        # Still down: the sweeper tries, fails quietly, and keeps them marked.
        swept = jobqueue.sweep_jobs()
        assert swept["audits.reports"]["queue_down"] == 1 and swept["nhi.imports"]["queue_down"] == 1

        throwaway_redis.start()
        swept = jobqueue.sweep_jobs()
        assert swept["audits.reports"] == {"stale": 0, "queued": 1, "queue_down": 0}
        assert swept["nhi.imports"] == {"stale": 0, "queued": 1, "queue_down": 0}
        job.refresh_from_db()
        assert job.enqueued_at is not None

        workers.start()
        wait_for(lambda: (ReportJob.objects.filter(status=ReportStatus.DONE).exists()
                          and NhiImport.objects.filter(status=ImportStatus.PREVIEWED).exists()),
                 timeout=45, what=f"the worker to finish both jobs\n{workers.log()}")
        # Nothing is left waiting: the next sweep sends nothing.
        assert jobqueue.sweep_jobs()["audits.reports"] == {"stale": 0, "queued": 0, "queue_down": 0}

    job.refresh_from_db()
    imp.refresh_from_db()
    assert job.file and job.sha256
    assert (logged("report.started", job), logged("report.generated", job)) == (1, 1)
    assert (imp.new_count, imp.processed_rows) == (2, 2)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_package_is_replaced_and_the_package_finished(
        estate, personas, settings, throwaway_redis, workers):
    settings.JOB_STALE_SECONDS = 3  # minutes in production; the rule is the same
    audit, security = estate["audit_a"], personas["security"]
    with celery_on(throwaway_redis.url):
        first = workers.start()
        job = services.report_request(audit=audit, actor=security, kind="evidence_package")
        wait_for(lambda: ReportJob.objects.filter(pk=job.pk, status=ReportStatus.RUNNING).exists(),
                 interval=0.02, timeout=30, what=f"the first worker to claim the package\n{workers.log()}")
        workers.kill(first)
        job.refresh_from_db()
        assert job.status == ReportStatus.RUNNING and not job.file  # killed while it was building

        # A job that beat moments ago is left alone: its worker might only be slow.
        assert jobqueue.sweep_jobs()["audits.reports"]["stale"] == 0
        # Asking for the package meanwhile gives the same job, not a second one.
        assert services.report_request(audit=audit, actor=security, kind="evidence_package").pk == job.pk
        wait_for(lambda: jobqueue.sweep_jobs()["audits.reports"]["stale"], interval=0.5, timeout=15,
                 what="the sweeper to reclaim the silent job")
        job.refresh_from_db()
        assert job.status == ReportStatus.QUEUED and job.enqueued_at is not None

        workers.start()
        wait_for(lambda: ReportJob.objects.filter(pk=job.pk, status=ReportStatus.DONE).exists(), timeout=45,
                 what=f"the second worker to finish the package\n{workers.log()}")

    job.refresh_from_db()
    assert ReportJob.objects.count() == 1
    assert (logged("report.started", job), logged("report.generated", job)) == (2, 1)  # claimed twice, built once
    with job.file.open("rb") as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        assert archive.testzip() is None and "SHA256SUMS" in archive.namelist()


# --- asking again, with the queue refused (a closed port) and then back (the tests' eager app) ----

def test_asking_again_sends_the_waiting_job_or_the_one_whose_worker_died(
        estate, personas, settings, django_capture_on_commit_callbacks):
    """(Inside the test's transaction the send happens after the service returns, as it would
    inside any outer transaction: the row is marked and the sweeper covers it; no 503 then.)"""
    audit, security = estate["audit_a"], personas["security"]
    with celery_on(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        job = services.report_request(audit=audit, actor=security, kind="nhi_summary")
    assert job.queue_failed
    job.refresh_from_db()
    assert (job.status, job.enqueued_at) == (ReportStatus.QUEUED, None)

    with django_capture_on_commit_callbacks(execute=True):  # the queue is back: the same job runs
        again = services.report_request(audit=audit, actor=security, kind="nhi_summary")
    job.refresh_from_db()
    assert again.pk == job.pk and job.status == ReportStatus.DONE and ReportJob.objects.count() == 1

    # A job whose worker died (running, silent past JOB_STALE_SECONDS) is put back and sent, not
    # returned as if it were on its way, and not duplicated.
    dead = ReportJob.objects.create(audit=audit, kind="ownership_matrix", requested_by=security,
                                    status=ReportStatus.RUNNING, enqueued_at=timezone.now(),
                                    heartbeat_at=timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS + 1))
    with django_capture_on_commit_callbacks(execute=True):
        revived = services.report_request(audit=audit, actor=security, kind="ownership_matrix")
    dead.refresh_from_db()
    assert revived.pk == dead.pk and dead.status == ReportStatus.DONE
    assert logged("report.requeued", dead) == 1 and logged("report.generated", dead) == 1


def test_an_apply_refused_by_the_queue_is_kept_and_sent_when_asked_again(
        teams, personas, django_capture_on_commit_callbacks):
    from nhi import imports

    security = personas["security"]
    with django_capture_on_commit_callbacks(execute=True):
        imp = imports.import_create(actor=security, format="csv",
                                    upload=SimpleUploadedFile("k.csv", csv_bytes([identity_row(1)])))
    imp.refresh_from_db()
    assert imp.status == ImportStatus.PREVIEWED
    with celery_on(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        imports.import_apply(imp=imp, actor=security)
    imp.refresh_from_db()
    assert (imp.status, imp.enqueued_at, imp.applied_by) == (ImportStatus.APPLYING, None, security)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_apply(imp=imp, actor=security)  # not "already being applied": it never left
    imp.refresh_from_db()
    assert imp.status == ImportStatus.APPLIED and imp.new_count == 1
