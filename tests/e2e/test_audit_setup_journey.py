"""Security sets up an audit before fieldwork: creates it (a wrong window refused first), gives
the auditor access, finds the gaps in the coverage matrix while the auditor cannot yet, then
generates a report and watches its progress; a tampered evidence file stops the package."""

import datetime as dt
import re
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from audits import reports, tasks
from audits.models import Audit, ReportJob
from tests.audits.conftest import estate  # noqa: F401 - the shared audit fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def held_jobs(monkeypatch):
    """Report jobs are queued but not run until the test releases them, as a busy worker would."""
    queued = []
    monkeypatch.setattr(tasks.report_generate, "apply_async", lambda args=(), **options: queued.append(args[0]))
    return queued


def release(job_id):
    def work():
        try:
            reports.report_generate(job_id)
        finally:
            connection.close()  # the thread's own connection: left open, it keeps the test database from being dropped

    worker = threading.Thread(target=work)
    worker.start()
    return worker


def test_security_prepares_an_audit_and_generates_its_reports(estate, personas, signed_in, screenshot,  # noqa: F811
                                                              held_jobs):
    security = signed_in(personas["security"])
    security.get_by_role("link", name="Audits", exact=True).first.click()
    security.get_by_role("link", name="New audit").click()
    security.get_by_label("Name").fill("FY27 SOC 2 Type II")
    security.get_by_label("Audit firm").fill("Hartley & Quinn LLP")
    security.get_by_label(re.compile("Type II")).check()
    security.get_by_label("Observation period start").fill("2026-06-30")
    security.get_by_label("Observation period end").fill("2026-01-01")
    security.get_by_role("button", name="Create audit").click()
    expect(security.get_by_text("The observation period cannot end before it starts.")).to_be_visible()
    screenshot(security, "1-security-window-refused")
    security.get_by_label("Observation period start").fill("2026-01-01")
    security.get_by_label("Observation period end").fill("2026-06-30")
    security.get_by_label("Availability").check()
    security.get_by_role("button", name="Create audit").click()
    expect(security.get_by_role("heading", name="FY27 SOC 2 Type II")).to_be_visible()
    audit = Audit.objects.get(name="FY27 SOC 2 Type II")
    assert audit.categories == ["security", "availability"] and audit.status == "planning"

    # Give Ada access until the end of next month.
    ada = estate["auditor_a"]
    security.get_by_role("combobox", name="Auditor").select_option(label=f"{ada.get_full_name()} (ada_auditor)")
    security.get_by_label("Access ends on").fill((timezone.localdate() + dt.timedelta(days=40)).isoformat())
    security.get_by_role("button", name="Save access").click()
    expect(security.get_by_text(re.compile("can open this audit until"))).to_be_visible()
    screenshot(security, "2-security-overview-planning")

    # Security sees the gaps now; the auditor does not, until fieldwork.
    security.get_by_role("link", name="Coverage", exact=True).click()
    expect(security.get_by_text("2026-Q2 · Gap").first).to_be_visible()
    screenshot(security, "3-security-coverage-before-fieldwork")
    auditor = signed_in(estate["auditor_a"])
    auditor.goto(f"/audits/{audit.pk}/")
    expect(auditor.get_by_role("heading", name="FY27 SOC 2 Type II")).to_be_visible()
    expect(auditor.get_by_role("link", name="Coverage", exact=True)).to_have_count(0)
    assert auditor.goto(f"/audits/{audit.pk}/coverage/").status == 403

    # A report: queued, then generated while the page watches.
    security.get_by_role("link", name="Reports", exact=True).click()
    security.locator("button[data-kind=evidence_index]").click()
    expect(security.get_by_text("Waiting for the worker…")).to_be_visible()
    screenshot(security, "4-security-report-queued")
    release(held_jobs.pop()).join()
    expect(security.get_by_test_id("report-ready")).to_be_visible(timeout=10_000)
    screenshot(security, "5-security-report-ready")
    with security.expect_download() as download:
        security.get_by_role("link", name="Download").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")

    # Someone altered an approved file in storage: the package refuses, naming it.
    tampered = Path(settings.MEDIA_ROOT) / estate["q1_file"].file.name
    tampered.write_bytes(b"%PDF-1.4 altered after approval\n")
    security.goto(f"/audits/{audit.pk}/reports/")
    security.locator("button[data-kind=evidence_package]").click()
    release(held_jobs.pop()).join()
    expect(security.get_by_test_id("report-failed")).to_be_visible(timeout=10_000)
    expect(security.get_by_test_id("report-failed")).to_contain_text("q1-2026-leavers.pdf")
    screenshot(security, "6-security-package-refused")
    assert ReportJob.objects.get(kind="evidence_package").file.name == ""
