"""Engineering requests an access exception, Security recommends, Finance and Leadership sign,
the PDF carries both signatures, and the exception expires when the clock passes its date."""

import datetime as dt
import re
import subprocess

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from controls.models import Control, Criterion
from exceptions.models import ExceptionRecord, ExceptionStatus
from soc2hub.jobs import run_daily_jobs
from tests.factories import PASSWORD, ControlFactory, member_of, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_access_exception_signed_by_finance_and_leadership_then_expires(
    catalog, teams, personas, signed_in, screenshot, tmp_path, require_pdftools
):
    control = ControlFactory(ref="ENG-09", name="Production access limited to employees",
                             control_owner=teams["engineering"], evidence_owner=teams["engineering"],
                             business_owner=teams["engineering"], criteria=[Criterion.objects.get(code="CC6.1")])
    engineer = member_of(teams["engineering"], username="ed_engineering", first_name="Ed", last_name="Ng")
    finance = member_of(teams["finance"], username="fran_finance", first_name="Fran", last_name="Okoro")
    leader = personas["leadership"]
    expires_on = timezone.localdate() + dt.timedelta(days=60)

    # Engineering requests it.
    page = signed_in(engineer)
    page.get_by_role("link", name="Exceptions").click()
    page.get_by_role("link", name="Request an exception").click()
    page.locator("#id_type").select_option("access")
    page.get_by_label("Title").fill("Contractor keeps production access for 60 days")
    page.get_by_label("Requesting team").select_option(label="Engineering")
    page.get_by_label("Business owner").select_option(label="Engineering")
    page.get_by_label("Expires on").fill((timezone.localdate() + dt.timedelta(days=400)).isoformat())
    page.get_by_label("Description").fill("A migration contractor keeps read-write access past the 30-day limit.")
    page.get_by_label("Business justification").fill("Cut-over is next month.")
    page.get_by_label("Likelihood").select_option("3")
    page.get_by_label("Impact").select_option("4")
    page.get_by_label("Compensating controls").fill("Bastion only, session recording.")
    page.get_by_label("Controls", exact=True).select_option(label=str(control))
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_text("may run at most 365 days")).to_be_visible()  # too far out: refused, nothing saved
    assert ExceptionRecord.objects.count() == 0
    page.get_by_label("Expires on").fill(expires_on.isoformat())
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_text("saved as a draft")).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("exception-status")).to_contain_text("Submitted")
    exception = ExceptionRecord.objects.get()
    screenshot(page, "1-engineering-submitted")

    # Security recommends.
    security = signed_in(personas["security"])
    security.goto(exception.get_absolute_url())
    security.get_by_label("Approve").check()
    security.get_by_label("Why — the signers read this").fill("Acceptable with session recording.")
    security.get_by_role("button", name="Record recommendation and ask for signatures").click()
    expect(security.get_by_test_id("exception-status")).to_contain_text("Awaiting signatures")

    # Finance signs; a wrong password signs nothing.
    fin = signed_in(finance)
    fin.goto(exception.get_absolute_url())
    fin.get_by_role("link", name="Read and sign").click()
    expect(fin.get_by_test_id("signed-content")).to_contain_text("A migration contractor keeps read-write access")
    fin.get_by_label("Approve").check()
    fin.get_by_label("Type your full name").fill("Fran Okoro")
    fin.get_by_label("Your password").fill("not my password")
    fin.get_by_label("Authentication code").fill(second_factor(finance))
    fin.get_by_role("button", name="Sign").click()
    expect(fin.get_by_text("That password is not correct. Nothing was signed.")).to_be_visible()
    assert exception.signatures.count() == 0
    fin.get_by_label("Approve").check()
    fin.get_by_label("Your password").fill(PASSWORD)
    fin.get_by_label("Authentication code").fill(second_factor(finance))
    fin.get_by_role("button", name="Sign").click()
    expect(fin.get_by_text(re.compile("Signed: you approved"))).to_be_visible()
    screenshot(fin, "2-finance-signed")

    # Leadership signs: approved.
    lead = signed_in(leader)
    lead.goto(f"{exception.get_absolute_url()}sign/")
    lead.get_by_label("Approve").check()
    lead.get_by_label("Type your full name").fill(leader.get_full_name())
    lead.get_by_label("Your password").fill(PASSWORD)
    lead.get_by_label("Authentication code").fill(second_factor(leader))
    lead.get_by_role("button", name="Sign").click()
    expect(lead.get_by_test_id("exception-status")).to_contain_text("Approved")
    expect(lead.get_by_test_id("signatures")).to_contain_text("Fran Okoro")
    expect(lead.get_by_test_id("signatures")).to_contain_text(leader.get_full_name())
    screenshot(lead, "3-approved")

    # The PDF shows both signatures and the content hash.
    with lead.expect_download() as download_info:
        lead.get_by_role("link", name="PDF").click()
    pdf = tmp_path / "exception.pdf"
    download_info.value.save_as(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    exception.refresh_from_db()
    assert "Fran Okoro" in text and leader.get_full_name() in text
    assert exception.content_sha256() in text.replace("\n", "")
    from tests.e2e.conftest import SCREENSHOTS

    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                    str(SCREENSHOTS / "test_access_exception-4-pdf")], check=True)

    # The clock passes the expiry date: the daily job expires it and flags the control.
    run_daily_jobs(expires_on - dt.timedelta(days=1))
    exception.refresh_from_db()
    assert exception.status == ExceptionStatus.APPROVED
    run_daily_jobs(expires_on)
    exception.refresh_from_db()
    assert exception.status == ExceptionStatus.EXPIRED
    assert Control.objects.get(pk=control.pk).exception_lapsed_on == expires_on
    security.goto(control.get_absolute_url())
    expect(security.get_by_text(re.compile("An approved exception covering this control expired"))).to_be_visible()
    security.goto("/matrix/")
    expect(security.locator("tr[data-code='CC6.1']").get_by_text("Exception expired")).to_be_visible()
    screenshot(security, "5-control-flagged")
