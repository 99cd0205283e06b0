"""Security imports the AWS credential report, sees the overdue keys; Engineering rotates one
and revokes another, and the visibility summary changes."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from nhi.models import NhiStatus, NonHumanIdentity
from tests.factories import member_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SAMPLE = Path(__file__).resolve().parents[1] / "nhi" / "data" / "aws-credential-report.csv"


def test_aws_import_then_rotate_and_revoke(catalog, teams, personas, signed_in, screenshot):
    engineer = member_of(teams["engineering"], username="ed_engineering", first_name="Ed", last_name="Ng")

    security = signed_in(personas["security"])
    security.goto("/nhi/")
    expect(security.get_by_text("No identities yet.")).to_be_visible()
    security.get_by_role("link", name="Import").click()
    security.get_by_label("Format").select_option("aws-credential-report")
    security.get_by_label("File").set_input_files(str(SAMPLE))
    security.get_by_label("Owner team for rows that name none").select_option(label="Engineering")
    security.get_by_role("button", name="Upload and check").click()
    expect(security.get_by_test_id("import-status")).to_have_text("Ready to apply")
    new_count = int(security.get_by_test_id("count-new").inner_text())
    assert new_count >= 4
    expect(security.get_by_test_id("count-errors")).to_have_text("0")
    assert NonHumanIdentity.objects.count() == 0  # the dry run wrote nothing
    screenshot(security, "1-preview")
    security.get_by_role("button", name=re.compile("^Apply")).click()
    expect(security.get_by_test_id("import-applied")).to_be_visible()
    assert NonHumanIdentity.objects.count() == new_count

    security.goto("/nhi/?overdue=true")
    overdue_before = security.locator("tbody tr").count()
    assert overdue_before >= 2
    expect(security.get_by_role("link", name=re.compile("svc-ci-deploy"))).to_be_visible()
    pct_before = security.get_by_test_id("pct-overdue").inner_text()
    screenshot(security, "2-overdue-keys")

    # Engineering rotates one key and revokes another.
    eng = signed_in(engineer)
    eng.goto("/nhi/?overdue=true")
    eng.get_by_role("link", name=re.compile("svc-ci-deploy")).first.click()
    eng.get_by_label("Link to the change (ticket, PR, vault audit entry)").fill("https://tickets.example.com/OPS-4411")
    eng.get_by_role("button", name="Record rotation").click()
    expect(eng.get_by_text("Rotation recorded.")).to_be_visible()
    expect(eng.get_by_test_id("nhi-state")).not_to_contain_text("Rotation overdue")
    expect(eng.get_by_test_id("history")).to_contain_text("nhi.rotated")
    screenshot(eng, "3-rotated")

    eng.goto("/nhi/?overdue=true")
    eng.get_by_role("link", name=re.compile("svc-backup access key 2")).click()
    eng.get_by_role("button", name="Revoke").click()
    expect(eng.get_by_text("Say why it is revoked")).to_be_visible()  # a reason is required
    eng.get_by_label("Reason").fill("Second key of svc-backup is unused since the vault migration.")
    eng.get_by_role("button", name="Revoke").click()
    expect(eng.get_by_test_id("nhi-status")).to_have_text("Revoked")
    assert NonHumanIdentity.objects.filter(status=NhiStatus.REVOKED).count() == 1

    security.goto("/nhi/?overdue=true")
    assert security.locator("tbody tr").count() == overdue_before - 2
    assert security.get_by_test_id("pct-overdue").inner_text() != pct_before
    security.goto("/nhi/summary/")
    expect(security.get_by_test_id("visibility-summary")).to_be_visible()
    screenshot(security, "4-summary-after")

    # Another team sees none of Engineering's keys.
    legal = signed_in(personas["other_team"])
    legal.goto("/nhi/")
    expect(legal.get_by_text("No identities yet.")).to_be_visible()
