"""Auditor requests live among the team's ordinary evidence requests: listed, reminded and
answered the same way, at a constant number of queries however many there are."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audits import services
from evidence.models import EvidenceReminder
from evidence.services import reminders_send

pytestmark = pytest.mark.django_db


def raise_some(estate, n, start=0):
    for i in range(start, start + n):
        services.audit_request_raise(audit=estate["audit_a"], actor=estate["auditor_a"], control=estate["hr_control"],
                                     title=f"Request {i}", description="Tickets for the month.",
                                     due_on=timezone.localdate() + dt.timedelta(days=5))


def queries(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_teams_lists_stay_flat_as_auditor_requests_grow(estate, personas, client_for):
    client = client_for(personas["owner"])
    urls = ["/evidence/", "/api/v1/evidence-requests/", "/teams/hr/"]
    raise_some(estate, 2)
    small = {url: queries(client, url) for url in urls}
    raise_some(estate, 12, start=2)
    assert {url: queries(client, url) for url in urls} == small
    page = client.get("/evidence/").content.decode()
    assert "PBC-14: Request 13" in page


def test_auditor_requests_are_reminded_like_any_request(estate, personas):
    raise_some(estate, 1)
    sent = reminders_send(as_of=timezone.localdate())
    assert sent.get("sent_before_due") == 1
    assert EvidenceReminder.objects.filter(request__template__isnull=True).count() == 1
    assert reminders_send(as_of=timezone.localdate()).get("sent_before_due") is None  # once
