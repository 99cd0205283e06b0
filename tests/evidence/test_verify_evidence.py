"""verify_evidence and the weekly job: every stored file re-hashed against its recorded SHA-256;
a changed or missing file is named with its request, control, period and both hashes."""

import datetime as dt
import hashlib
import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from evidence.models import EvidenceFile
from evidence.verification import MISMATCH, MISSING, stored_files_verify
from soc2hub.jobs import run_daily_jobs
from soc2hub.models import ActivityLog, Notification
from tests.evidence.factories import make_request, make_template, pdf, submit, upload

SUNDAY = dt.date(2026, 3, 1)
MONDAY = dt.date(2026, 3, 2)


@pytest.fixture
def stored(hr_request, personas, teams):
    """Three HR files and one Legal file, all intact."""
    submit(hr_request, personas["owner"], pdf("leavers-1.pdf"), upload("leavers.csv", b"name\nAda\n"),
           upload("notes.txt", b"All removed.\n"))
    legal_request = make_request(make_template(teams["legal"], title="Contracts"),
                                 due_on=timezone.localdate() + dt.timedelta(days=5))
    submit(legal_request, personas["other_team"], pdf("contracts.pdf"))
    return {f.original_name: f for f in EvidenceFile.objects.select_related("evidence__request__control")}


def path_of(record) -> Path:
    return Path(settings.MEDIA_ROOT) / record.file.name


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_evidence", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_intact_files_pass_with_progress_and_a_summary(stored):
    out, err = run("--every", "2")

    assert "2/4 files checked" in out and "4/4 files checked" in out
    assert "4 stored files checked; every one matches its recorded SHA-256." in out
    assert err == ""


def test_changed_and_missing_files_are_named_with_request_control_period_and_both_hashes(stored):
    changed, gone = stored["leavers.csv"], stored["notes.txt"]
    path_of(changed).write_bytes(b"name\nAda\nMallory\n")
    os.remove(path_of(gone))

    err = io.StringIO()
    with pytest.raises(CommandError, match="4 stored files checked: 1 changed, 1 missing, 0 unreadable"):
        call_command("verify_evidence", stdout=io.StringIO(), stderr=err)

    report = err.getvalue()
    request = changed.evidence.request
    assert f"CHANGED  evidence file #{changed.pk} {changed.file.name}" in report
    assert f"request #{request.pk} {request.title}" in report
    assert f"control {request.control.ref}" in report and f"period {request.period_label}" in report
    assert changed.sha256 in report
    assert hashlib.sha256(b"name\nAda\nMallory\n").hexdigest() in report
    assert f"MISSING  evidence file #{gone.pk} {gone.file.name}" in report


def test_team_and_since_narrow_the_check(stored, teams):
    os.remove(path_of(stored["contracts.pdf"]))  # Legal's

    out, _ = run("--team", "hr")
    assert "3 stored files checked; every one matches" in out
    with pytest.raises(CommandError):
        run("--team", "legal")
    with pytest.raises(CommandError, match="No team has the slug"):
        run("--team", "nobody")

    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    out, _ = run("--since", tomorrow)
    assert "0 stored files checked" in out


def test_result_object_lists_problems_by_kind(stored):
    path_of(stored["leavers-1.pdf"]).write_bytes(b"%PDF-1.4 tampered")
    os.remove(path_of(stored["contracts.pdf"]))

    result = stored_files_verify()

    assert (result.total, result.checked, result.ok) == (4, 4, False)
    assert sorted(p.kind for p in result.problems) == [MISMATCH, MISSING]
    assert result.figures() == {"checked": 4, "mismatched": 1, "missing": 1, "unreadable": 0}


def test_weekly_job_does_nothing_on_other_days(stored):
    os.remove(path_of(stored["notes.txt"]))

    assert run_daily_jobs(as_of=MONDAY, only=["evidence.verify"])["evidence.verify"]["skipped"]
    assert not ActivityLog.objects.filter(verb="evidence.verified").exists()
    assert not Notification.objects.filter(kind="evidence_integrity").exists()


def test_weekly_job_records_a_clean_check_without_alerting(stored, personas):
    figures = run_daily_jobs(as_of=SUNDAY, only=["evidence.verify"])["evidence.verify"]

    assert figures["checked"] == 4 and figures["missing"] == 0
    entry = ActivityLog.objects.get(verb="evidence.verified")
    assert "every one matches" in entry.message
    assert not Notification.objects.filter(kind="evidence_integrity").exists()


def test_weekly_job_alerts_security_once_in_words(stored, personas, settings):
    settings.EVIDENCE_VERIFY_WEEKDAY = MONDAY.weekday()
    changed = stored["leavers.csv"]
    path_of(changed).write_bytes(b"changed")
    os.remove(path_of(stored["notes.txt"]))

    run_daily_jobs(as_of=MONDAY, only=["evidence.verify"])

    alerts = Notification.objects.filter(kind="evidence_integrity")
    assert [n.user for n in alerts] == [personas["security"]]
    alert = alerts.get()
    assert "1 changed, 1 missing" in alert.title
    assert f"evidence file #{changed.pk}" in alert.body and "its content changed" in alert.body
    assert "the file is missing from storage" in alert.body
    assert ActivityLog.objects.get(verb="evidence.verified").after["mismatched"] == 1
