"""Security finds a security-only criterion, hands its control ownership to HR, and HR sees it."""

import pytest
from playwright.sync_api import expect

from controls.models import Criterion

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_security_reassigns_security_only_criterion_to_hr(catalog, teams, personas, signed_in, screenshot):
    security = teams["security"]
    Criterion.objects.filter(code="CC7.2").update(
        business_owner=security, control_owner=security, evidence_owner=security
    )
    Criterion.objects.exclude(code="CC7.2").update(
        business_owner=teams["leadership"], control_owner=teams["engineering"], evidence_owner=teams["engineering"]
    )

    page = signed_in(personas["security"])
    page.get_by_role("link", name="Ownership matrix").click()
    expect(page.get_by_role("heading", name="Ownership matrix")).to_be_visible()
    expect(page.get_by_test_id("count-security-only")).to_have_text("1")
    expect(page.get_by_test_id("count-unassigned")).to_have_text("0")

    # Filter to the flag, the way a security lead looks for the problem.
    page.get_by_label("Flag").select_option("security_only")
    page.get_by_role("button", name="Apply").click()
    row = page.locator("tr[data-code='CC7.2']")
    expect(row).to_be_visible()
    expect(row.get_by_text("Security-only")).to_be_visible()
    expect(page.locator("tbody tr[data-code]")).to_have_count(1)
    screenshot(page, "1-security-only-filter")

    row.get_by_label("Control owner of CC7.2").select_option(label="HR")
    expect(row.get_by_text("Saved")).to_be_visible()
    expect(row.get_by_text("Security-only")).to_have_count(0)
    expect(page.get_by_test_id("count-security-only")).to_have_text("0")
    screenshot(page, "2-after-reassignment")

    criterion = Criterion.objects.select_related("control_owner").get(code="CC7.2")
    assert criterion.control_owner == teams["hr"]

    # The change survives a reload and is in the criterion's history.
    page.goto("/criteria/CC7.2/")
    expect(page.get_by_text("owners.changed")).to_be_visible()

    hr_page = signed_in(personas["owner"])
    hr_page.goto("/teams/hr/")
    criteria_table = hr_page.get_by_test_id("team-criteria")
    expect(criteria_table.get_by_role("link", name="CC7.2")).to_be_visible()
    screenshot(hr_page, "3-hr-team-page")

    # HR sees the matrix read-only: no owner selects, a clear read-only note.
    hr_page.goto("/matrix/")
    expect(hr_page.get_by_text("Read-only: Security assigns owners")).to_be_visible()
    expect(hr_page.locator("select[data-role]")).to_have_count(0)
