"""HR uploads termination evidence, Security returns it with a reason, HR fixes it, Security
approves; the history tells the story and Engineering cannot see HR's file."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from evidence import services
from evidence.models import EvidenceFile, EvidenceRequest, RequestStatus
from tests.factories import ControlFactory, member_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hr_request(catalog, teams, personas):
    control = ControlFactory(ref="HR-05", name="Leaver access removal", evidence_owner=teams["hr"],
                             control_owner=teams["hr"], business_owner=teams["hr"])
    today = timezone.localdate()
    template = services.template_create(
        actor=personas["security"], control=control, title="Termination tickets showing access removed",
        instructions="Export every leaver in the quarter from the HRIS with the offboarding ticket.",
        acceptance_criteria="Every leaver appears; access removed within one working day.",
        cadence="quarterly", starts_on=today - dt.timedelta(days=100),
    )
    services.requests_open_due(as_of=today)
    return EvidenceRequest.objects.filter(template=template).order_by("-period_start").first()


def test_termination_evidence_returned_then_approved(hr_request, teams, personas, signed_in, screenshot, tmp_path):
    first = tmp_path / "leavers-q3.csv"
    first.write_text("employee,last_day,ticket,disabled_at\nE102,2026-08-01,IT-881,2026-08-01T17:02\n")
    second = tmp_path / "leavers-q3-complete.csv"
    second.write_text("employee,last_day,ticket,disabled_at\nE102,2026-08-01,IT-881,2026-08-01T17:02\n"
                      "E117,2026-09-12,IT-940,2026-09-12T18:30\n")
    tickets = tmp_path / "tickets.json"
    tickets.write_text('{"tickets": ["IT-881", "IT-940"]}')

    # HR finds what it owes and uploads.
    hr = signed_in(personas["owner"])
    hr.get_by_role("link", name="Evidence", exact=True).click()
    expect(hr.get_by_role("heading", name="Evidence requests")).to_be_visible()
    screenshot(hr, "1-hr-requests")
    # Depending on today's date one or two quarters are open: take the row of the latest one.
    hr.locator(f"tr[data-request='{hr_request.pk}']").get_by_role("link", name=hr_request.title).click()
    hr.get_by_label("Files").set_input_files(str(first))
    hr.get_by_label("Note for the reviewer").fill("HRIS leavers report for the quarter.")
    hr.get_by_role("button", name="Submit for review").click()
    expect(hr.get_by_text("Evidence submitted.")).to_be_visible()
    expect(hr.get_by_test_id("request-status")).to_contain_text("Submitted")
    screenshot(hr, "2-hr-submitted")

    # Security returns it with a reason, from the review queue.
    security = signed_in(personas["security"])
    security.get_by_role("link", name="Review queue").click()
    security.get_by_role("link", name="Review", exact=True).first.click()
    security.get_by_role("button", name=re.compile("Return to HR")).click()
    expect(security.get_by_text("Give a reason")).to_be_visible()  # empty reason refused
    security.get_by_label(re.compile("Or return it")).fill("E117 left in September and is missing; add the ticket.")
    security.get_by_role("button", name=re.compile("Return to HR")).click()
    expect(security.get_by_text("Returned to the team with your reason.")).to_be_visible()
    screenshot(security, "3-security-returned")

    # HR sees why, and submits again with two files.
    hr.reload()
    expect(hr.get_by_test_id("return-reason")).to_have_text("E117 left in September and is missing; add the ticket.")
    expect(hr.get_by_test_id("request-status")).to_contain_text("Returned")
    hr.get_by_label("Files").set_input_files([str(second), str(tickets)])
    expect(hr.get_by_role("heading", name="Submit corrected evidence")).to_be_visible()
    hr.get_by_role("button", name="Submit for review").click()
    expect(hr.get_by_text("Evidence submitted.")).to_be_visible()
    screenshot(hr, "4-hr-resubmitted")

    # The uploader cannot approve; Security can.
    security.goto(hr_request.get_absolute_url())
    security.get_by_role("button", name="Approve").click()
    expect(security.get_by_text(re.compile("Approved\\. Termination tickets"))).to_be_visible()
    expect(security.get_by_test_id("request-status")).to_contain_text("Approved")
    history = security.get_by_test_id("history")
    for text in ("submitted evidence", "returned it", "approved the evidence"):
        expect(history).to_contain_text(text)
    screenshot(security, "5-security-approved")

    hr_request.refresh_from_db()
    assert hr_request.status == RequestStatus.APPROVED
    assert EvidenceFile.objects.filter(evidence__request=hr_request).count() == 3

    # Engineering sees neither the request nor the file.
    engineer = signed_in(member_of(teams["engineering"], username="ed_engineering"))
    response = engineer.goto(hr_request.get_absolute_url())
    assert response.status == 404
    expect(engineer.get_by_role("heading", name="Not found")).to_be_visible()
    file_id = EvidenceFile.objects.filter(evidence__request=hr_request).first().pk
    assert engineer.goto(f"/evidence/files/{file_id}/download/").status == 404
    engineer.goto("/evidence/")
    expect(engineer.get_by_role("link", name=hr_request.title)).to_have_count(0)
    screenshot(engineer, "6-engineering-sees-nothing")
