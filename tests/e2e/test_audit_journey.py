"""The auditor of audit A signs in and sees only A; opens the coverage matrix; downloads an
approved evidence file; raises a request that HR answers and Security approves; accepts it.
Security then reads what the auditor opened in the access log, and the auditor is refused B."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audits import services
from audits.models import AuditorAccess, AuditRequest
from tests.audits.conftest import estate  # noqa: F401 - the shared audit fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fieldwork(estate, personas):  # noqa: F811
    services.audit_set_status(audit=estate["audit_a"], actor=personas["security"], status="fieldwork")
    return estate


def test_auditor_sees_only_their_audit_and_gets_a_request_answered(fieldwork, personas, signed_in, screenshot,
                                                                  tmp_path):
    world = fieldwork
    audit_a, audit_b = world["audit_a"], world["audit_b"]

    # The auditor lands on their only audit; nothing of B, nothing of the rest of the programme.
    auditor = signed_in(world["auditor_a"])
    expect(auditor.get_by_role("heading", name=audit_a.name)).to_be_visible()
    nav = auditor.get_by_role("navigation").first
    for hidden in ("Matrix", "Controls", "Evidence requests", "Exceptions", "Identities"):
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    screenshot(auditor, "1-auditor-overview")
    auditor.get_by_role("link", name="Audits", exact=True).first.click()
    expect(auditor.locator("tr[data-audit]")).to_have_count(1)
    expect(auditor.get_by_text(audit_b.name)).to_have_count(0)
    screenshot(auditor, "2-auditor-audit-list")

    # The coverage matrix: Q1 2026 approved, Q2 2026 a gap, ENG-01 with no standard at all.
    auditor.get_by_role("link", name=audit_a.name).click()
    auditor.get_by_role("link", name="Coverage", exact=True).click()
    expect(auditor.get_by_role("heading", name=re.compile("Coverage"))).to_be_visible()
    expect(auditor.get_by_text("2026-Q1").first).to_be_visible()
    expect(auditor.get_by_text("2026-Q2").first).to_be_visible()
    expect(auditor.get_by_text("ENG-01").first).to_be_visible()
    screenshot(auditor, "3-auditor-coverage")

    # Download the approved Q1 file from the evidence in the window.
    auditor.get_by_role("link", name="Evidence", exact=True).click()
    expect(auditor.get_by_text("2025-Q4")).to_have_count(0)  # ended before the window
    auditor.get_by_role("link", name=re.compile("Leaver access removals")).first.click()
    screenshot(auditor, "4-auditor-evidence")
    with auditor.expect_download() as download_info:
        auditor.get_by_role("link", name="q1-2026-leavers.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "q1-2026-leavers.pdf"
    assert open(download.path(), "rb").read().startswith(b"%PDF-")

    # Raise a request: a field left out first, then the whole of it.
    auditor.get_by_role("link", name="Requests (PBC)", exact=True).click()
    auditor.get_by_role("link", name="Raise a request").first.click()
    auditor.get_by_label("Control").select_option(label="HR-01 — " + world["hr_control"].name)
    auditor.get_by_label("Title").fill("March leavers and their tickets")
    auditor.get_by_role("button", name="Raise the request").click()
    expect(auditor.get_by_test_id("form-errors")).to_be_visible()
    screenshot(auditor, "5-auditor-request-errors")
    auditor.get_by_label("Description").fill("Every leaver in March 2026 with the ticket that removed their access.")
    auditor.get_by_label("Due on").fill((timezone.localdate() + dt.timedelta(days=10)).isoformat())
    auditor.get_by_role("button", name="Raise the request").click()
    expect(auditor.get_by_role("heading", name=re.compile("PBC-1"))).to_be_visible()
    screenshot(auditor, "6-auditor-request-raised")
    audit_request = AuditRequest.objects.get()

    # HR finds it among its evidence requests and answers it.
    answer = tmp_path / "march-leavers.csv"
    answer.write_text("employee,last_day,ticket\nE301,2026-03-13,IT-1201\nE307,2026-03-27,IT-1242\n")
    hr = signed_in(personas["owner"])
    hr.get_by_role("link", name="Evidence", exact=True).click()
    hr.get_by_role("link", name=re.compile("PBC-1")).first.click()
    expect(hr.get_by_text("Every leaver in March 2026")).to_be_visible()
    hr.get_by_label("Files").set_input_files(str(answer))
    hr.get_by_label("Note for the reviewer").fill("From the HRIS, March 2026.")
    hr.get_by_role("button", name="Submit for review").click()
    expect(hr.get_by_text("Evidence submitted.")).to_be_visible()
    screenshot(hr, "7-hr-answered")

    # Security approves it from the review queue.
    security = signed_in(personas["security"])
    security.get_by_role("link", name="Review queue").click()
    security.get_by_role("link", name="Review", exact=True).first.click()
    security.get_by_role("button", name="Approve").click()
    expect(security.get_by_test_id("request-status")).to_contain_text("Approved")

    # The auditor finds it ready and accepts it.
    auditor.goto(audit_request.get_absolute_url())
    expect(auditor.get_by_text("Ready for the auditor").first).to_be_visible()
    expect(auditor.get_by_role("link", name="march-leavers.csv")).to_be_visible()
    screenshot(auditor, "8-auditor-ready")
    auditor.get_by_role("button", name="Accept").click()
    expect(auditor.get_by_text("Accepted").first).to_be_visible()
    screenshot(auditor, "9-auditor-accepted")
    audit_request.refresh_from_db()
    assert audit_request.status == "accepted" and audit_request.accepted_by == world["auditor_a"]

    # Audit B and the rest of the programme stay closed to them.
    response = auditor.goto(f"/audits/{audit_b.pk}/")
    assert response.status == 404
    response = auditor.goto("/matrix/")
    assert response.status == 403
    expect(auditor.get_by_text("through their audits")).to_be_visible()
    screenshot(auditor, "10-auditor-refused")

    # Security reads what the auditor did, refusals included.
    security.goto(f"/audits/{audit_a.pk}/access/")
    expect(security.get_by_role("heading", name=re.compile("access", re.I)).first).to_be_visible()
    screenshot(security, "11-security-access-log")
    assert AuditorAccess.objects.filter(user=world["auditor_a"], is_download=True, status_code=200).exists()
    assert AuditorAccess.objects.filter(user=world["auditor_a"], status_code=403, path="/matrix/").exists()
