"""An approval commits while the mail server refuses or hangs; the team hears once it accepts."""

import pytest

from evidence import services
from evidence.models import EvidenceStatus
from soc2hub.models import EmailStatus, Notification
from tests.evidence.factories import pdf, submit
from tests.smtp import smtp_server_fixture, sweep_later  # noqa: F401  (the smtp_server fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["refuse", "hang"])
def test_an_approval_commits_while_mail_is_down(hr_request, hr_lead, personas, smtp_server, kind,
                                                django_capture_on_commit_callbacks):
    evidence = submit(hr_request, personas["owner"], pdf())
    smtp_server.refuse(451) if kind == "refuse" else smtp_server.hang(3)

    with django_capture_on_commit_callbacks(execute=True):
        services.evidence_approve(evidence=evidence, reviewer=personas["security"])

    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.APPROVED
    rows = Notification.objects.filter(kind="evidence.approved")
    assert sorted(rows.values_list("user__username", "email_status")) == [
        ("hal_hr_lead", EmailStatus.QUEUED), ("harriet_hr", EmailStatus.QUEUED)]

    smtp_server.accept()
    assert sweep_later() == 2
    assert sorted(to for to, _ in smtp_server.messages) == ["hal_hr_lead@example.com", "harriet_hr@example.com"]
    assert set(rows.values_list("email_status", flat=True)) == {EmailStatus.SENT}
    assert sweep_later() == 0 and len(smtp_server.messages) == 2
