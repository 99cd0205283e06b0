"""The evidence pages through the Django test client: lists and filters, upload, review,
download, the team calendar, notifications, and query counts that stay flat as data grows.

Personas (tests/conftest.py): ``owner`` is in HR, ``other_team`` in Legal, ``security`` reviews.
"""

import datetime as dt
import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from icalendar import Calendar

from evidence import services
from evidence.models import (
    CalendarFeed,
    Evidence,
    EvidenceFile,
    EvidenceRequest,
    EvidenceStatus,
    RequestStatus,
)
from soc2hub.models import ActivityLog, Notification
from tests.evidence.factories import (
    MINIMAL_PDF,
    WINDOWS_EXE,
    make_request,
    make_template,
    pdf,
    stored_files,
    submit,
    upload,
)

D = dt.date


def today():
    return timezone.localdate()


def days(n: int) -> dt.date:
    return today() + dt.timedelta(days=n)


def page_rows(response) -> list[str]:
    return [r.period_label for r in response.context["page"].object_list]


# --- the request list -----------------------------------------------------------------------------

@pytest.fixture
def listing(teams, personas, hr_template):
    legal = make_template(teams["legal"], title="Contract commitments")
    return {
        "overdue": make_request(hr_template, period_start=D(2025, 1, 1), due_on=days(-5)),
        "due_soon": make_request(hr_template, period_start=D(2025, 4, 1), due_on=days(3)),
        "returned": make_request(hr_template, period_start=D(2025, 7, 1), due_on=days(30),
                                 status=RequestStatus.RETURNED),
        "submitted": make_request(hr_template, period_start=D(2025, 10, 1), due_on=days(-40),
                                  status=RequestStatus.SUBMITTED),
        "approved": make_request(hr_template, period_start=D(2026, 1, 1), due_on=days(-100),
                                 status=RequestStatus.APPROVED),
        "legal_overdue": make_request(legal, period_start=D(2025, 1, 1), due_on=days(-2)),
    }


@pytest.mark.parametrize("persona, counts", [
    ("owner", {"outstanding": 3, "overdue": 1, "due_soon": 1, "returned": 1, "submitted": 1, "approved": 1}),
    ("security", {"outstanding": 4, "overdue": 2, "due_soon": 1, "returned": 1, "submitted": 1, "approved": 1}),
    ("other_team", {"outstanding": 1, "overdue": 1, "due_soon": 0, "returned": 0, "submitted": 0, "approved": 0}),
])
def test_request_list_counts_what_each_person_may_see(listing, personas, client_for, persona, counts):
    response = client_for(personas[persona]).get("/evidence/")
    assert response.status_code == 200
    assert response.context["counts"] == counts
    assert f'data-testid="count-overdue">{counts["overdue"]}<' in response.content.decode()


@pytest.mark.parametrize("persona, query, expected", [
    ("owner", "", ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"]),
    ("owner", "?state=overdue", ["2025-Q1"]),
    ("owner", "?state=due_soon", ["2025-Q2"]),
    ("owner", "?state=outstanding", ["2025-Q1", "2025-Q2", "2025-Q3"]),
    ("owner", "?status=approved", ["2026-Q1"]),
    ("owner", "?status=returned", ["2025-Q3"]),
    ("owner", "?period=2025-Q2", ["2025-Q2"]),
    ("owner", "?team=legal", []),  # a filter never widens what a person may see
    ("security", "?team=legal", ["2025-Q1"]),
    ("security", "?state=overdue&team=hr", ["2025-Q1"]),
    ("security", "?state=overdue", ["2025-Q1", "2025-Q1"]),
    ("other_team", "?team=hr", []),
])
def test_request_list_filters(listing, personas, client_for, persona, query, expected):
    response = client_for(personas[persona]).get(f"/evidence/{query}")
    assert response.status_code == 200
    assert sorted(page_rows(response)) == sorted(expected)


def test_request_list_marks_overdue_requests(listing, personas, client_for):
    body = client_for(personas["owner"]).get("/evidence/?state=overdue").content.decode()
    assert '<span class="badge text-bg-danger">Overdue</span>' in body
    assert "5 days late" in body


def test_request_list_ignores_a_nonsense_filter(listing, personas, client_for):
    response = client_for(personas["owner"]).get("/evidence/?state=sideways&status=lost")
    assert response.status_code == 200
    assert "were not understood" in response.content.decode()
    assert len(page_rows(response)) == 5


def test_request_list_needs_a_sign_in(client_for):
    response = client_for(None).get("/evidence/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- uploading through the page ----------------------------------------------------------------------

def submit_url(request) -> str:
    return f"/evidence/requests/{request.pk}/submit/"


def nothing_stored(before_files: set[str]) -> bool:
    return not Evidence.objects.exists() and not EvidenceFile.objects.exists() and stored_files() == before_files


def test_owner_uploads_several_files_through_the_form(hr_request, personas, client_for):
    client = client_for(personas["owner"])
    page = client.get(hr_request.get_absolute_url())
    assert page.status_code == 200
    body = page.content.decode()
    assert 'enctype="multipart/form-data"' in body and 'name="files"' in body and "multiple" in body

    csv = b"name,left_on\nAda,2026-09-30\n"
    response = client.post(submit_url(hr_request), {
        "files": [pdf("leavers.pdf"), upload("leavers.csv", csv, "text/csv")],
        "note": "Q3 leavers from Workday",
    })

    assert response.status_code == 302
    assert response["Location"] == hr_request.get_absolute_url()
    evidence = Evidence.objects.get()
    assert evidence.note == "Q3 leavers from Workday"
    assert evidence.submitted_by == personas["owner"]
    files = {f.original_name: f for f in evidence.files.all()}
    assert set(files) == {"leavers.pdf", "leavers.csv"}
    assert files["leavers.csv"].sha256 == hashlib.sha256(csv).hexdigest()
    assert len(stored_files()) == 2
    assert EvidenceRequest.objects.get(pk=hr_request.pk).status == RequestStatus.SUBMITTED
    followed = client.get(response["Location"])
    assert "Evidence submitted" in followed.content.decode()
    assert "leavers.pdf" in followed.content.decode()


def test_a_link_alone_is_a_submission(hr_request, personas, client_for):
    response = client_for(personas["owner"]).post(submit_url(hr_request),
                                                  {"link": "https://workday.example.com/report/42"})
    assert response.status_code == 302
    assert Evidence.objects.get().link == "https://workday.example.com/report/42"


@pytest.mark.parametrize("data, message", [
    ({"files": [pdf("fine.pdf"), upload("setup.pdf", WINDOWS_EXE)]},
     "“setup.pdf” looks like application/x-msdownload, not a .pdf file"),
    ({"files": [upload("empty.pdf", b"")]}, "The submitted file is empty."),
    ({"files": [upload("tool.exe", WINDOWS_EXE)]}, ".exe is not accepted"),
    ({"note": "forgot the file"}, "Attach at least one file or give a link to the record."),
    ({"link": "javascript:alert(1)"}, "Enter a valid URL."),
], ids=["exe-as-pdf", "empty", "exe", "nothing", "javascript-link"])
def test_an_invalid_upload_is_shown_again_with_the_error_and_nothing_stored(hr_request, personas, client_for,
                                                                            data, message):
    before = stored_files()
    response = client_for(personas["owner"]).post(submit_url(hr_request), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert nothing_stored(before)
    assert EvidenceRequest.objects.get(pk=hr_request.pk).status == RequestStatus.OPEN


def test_an_oversized_upload_is_refused_while_it_arrives(hr_request, personas, client_for, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1024
    before = stored_files()
    response = client_for(personas["owner"]).post(submit_url(hr_request),
                                                  {"files": [pdf("big.pdf", MINIMAL_PDF + b"%" * 4096)]})
    assert response.status_code == 413
    assert "limit; nothing was stored" in response.content.decode()
    assert nothing_stored(before)


def test_another_team_cannot_see_or_upload_to_hrs_request(hr_request, personas, client_for):
    client = client_for(personas["other_team"])
    assert client.get(hr_request.get_absolute_url()).status_code == 404
    before = stored_files()
    response = client.post(submit_url(hr_request), {"files": [pdf()]})
    assert response.status_code in (403, 404)
    assert nothing_stored(before)


def test_security_sees_the_request_but_cannot_upload_for_the_team(hr_request, personas, client_for):
    client = client_for(personas["security"])
    page = client.get(hr_request.get_absolute_url())
    assert page.status_code == 200 and 'id="evidence-upload"' not in page.content.decode()
    before = stored_files()
    assert client.post(submit_url(hr_request), {"files": [pdf()]}).status_code == 403
    assert nothing_stored(before)


def test_a_missing_request_is_404(personas, client_for, db):
    assert client_for(personas["owner"]).get("/evidence/requests/999999/").status_code == 404
    assert client_for(personas["owner"]).post("/evidence/requests/999999/submit/",
                                              {"files": [pdf()]}).status_code == 404


# --- review ---------------------------------------------------------------------------------------

@pytest.fixture
def pending(hr_template, personas, security_in_hr):
    """Two submissions awaiting review: one by Harriet (HR), one by Sasha (HR and Security)."""
    by_owner = make_request(hr_template, period_start=D(2026, 1, 1), due_on=days(5))
    by_sasha = make_request(hr_template, period_start=D(2026, 4, 1), due_on=days(6))
    return {
        "owner": submit(by_owner, personas["owner"], pdf("q1.pdf"), note="Q1"),
        "sasha": submit(by_sasha, security_in_hr, pdf("q2.pdf"), note="Q2"),
    }


def queue(client) -> list[int]:
    response = client.get("/evidence/review/")
    assert response.status_code == 200
    return [e.pk for e in response.context["page"].object_list]


def test_review_queue_lists_pending_evidence_but_never_your_own_or_your_teams(pending, personas, security_in_hr,
                                                                              client_for):
    assert queue(client_for(personas["security"])) == [pending["owner"].pk, pending["sasha"].pk]
    assert queue(client_for(security_in_hr)) == []  # she is in HR, the team that owns both requests
    assert queue(client_for(personas["owner"])) == []
    assert queue(client_for(personas["other_team"])) == []


def test_reviewed_evidence_leaves_the_queue(pending, personas, client_for):
    services.evidence_approve(evidence=pending["owner"], reviewer=personas["security"])
    services.evidence_return(evidence=pending["sasha"], reviewer=personas["security"], reason="Wrong quarter")
    assert queue(client_for(personas["security"])) == []


def test_approve_through_the_page(pending, personas, client_for):
    evidence = pending["owner"]
    response = client_for(personas["security"]).post(f"/evidence/submissions/{evidence.pk}/approve/",
                                                     {"next": "queue"})
    assert response.status_code == 302 and response["Location"] == "/evidence/review/"
    evidence.refresh_from_db()
    assert (evidence.status, evidence.reviewed_by) == (EvidenceStatus.APPROVED, personas["security"])
    assert evidence.request.status == RequestStatus.APPROVED
    history = client_for(personas["owner"]).get(evidence.request.get_absolute_url()).content.decode()
    assert "Approved by" in history


def test_return_through_the_page(pending, personas, client_for):
    evidence = pending["owner"]
    response = client_for(personas["security"]).post(f"/evidence/submissions/{evidence.pk}/return/",
                                                     {"reason": "This covers Q4 2025, not Q1 2026."})
    assert response.status_code == 302 and response["Location"] == evidence.request.get_absolute_url()
    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.RETURNED
    page = client_for(personas["owner"]).get(evidence.request.get_absolute_url()).content.decode()
    assert "This covers Q4 2025, not Q1 2026." in page
    assert 'id="evidence-upload"' in page  # the team can submit again


def test_return_without_a_reason_is_shown_again_with_the_message(pending, personas, client_for):
    evidence = pending["owner"]
    response = client_for(personas["security"]).post(f"/evidence/submissions/{evidence.pk}/return/",
                                                     {"reason": "   "})
    assert response.status_code == 400
    assert "Give a reason, so the team knows what to fix." in response.content.decode()
    assert Evidence.objects.get(pk=evidence.pk).status == EvidenceStatus.PENDING


@pytest.mark.parametrize("who, status", [("sasha", 403), ("owner", 403), ("other_team", 404), ("anonymous", 302)])
def test_who_may_not_review(pending, personas, security_in_hr, client_for, who, status):
    user = security_in_hr if who == "sasha" else personas[who]
    evidence = pending["sasha"]
    client = client_for(user)
    for action, data in (("approve", {}), ("return", {"reason": "No"})):
        response = client.post(f"/evidence/submissions/{evidence.pk}/{action}/", data)
        assert response.status_code == status
    assert Evidence.objects.get(pk=evidence.pk).status == EvidenceStatus.PENDING


def test_approving_twice_through_the_page_says_so(pending, personas, client_for):
    client = client_for(personas["security"])
    url = f"/evidence/submissions/{pending['owner'].pk}/approve/"
    client.post(url)
    response = client.post(url, follow=True)
    assert "already approved" in response.content.decode()


# --- downloads -------------------------------------------------------------------------------------

@pytest.fixture
def evidence_file(hr_request, personas):
    return submit(hr_request, personas["owner"], pdf("leavers Q3.pdf")).files.get()


@pytest.mark.parametrize("persona", ["owner", "security"])
def test_download_is_an_attachment_and_is_recorded(evidence_file, personas, client_for, persona):
    response = client_for(personas[persona]).get(f"/evidence/files/{evidence_file.pk}/download/")
    # Read to the end: the test client then closes the file without firing request_finished
    # (which would close the test's database connection on PostgreSQL).
    assert b"".join(response.streaming_content) == MINIMAL_PDF
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "leavers_Q3.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    log = ActivityLog.objects.get(verb="evidence.downloaded")
    assert log.actor == personas[persona]
    assert log.after["sha256"] == evidence_file.sha256


def test_download_by_another_team_is_404_and_not_recorded(evidence_file, personas, client_for):
    assert client_for(personas["other_team"]).get(f"/evidence/files/{evidence_file.pk}/download/").status_code == 404
    assert not ActivityLog.objects.filter(verb="evidence.downloaded").exists()


def test_download_needs_a_sign_in(evidence_file, client_for):
    response = client_for(None).get(f"/evidence/files/{evidence_file.pk}/download/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not ActivityLog.objects.filter(verb="evidence.downloaded").exists()


def test_media_is_not_served_at_a_public_url(evidence_file, client_for):
    assert client_for(None).get(f"/media/{evidence_file.file.name}").status_code == 404
    assert client_for(None).get(f"/media-not-served/{evidence_file.file.name}").status_code in (302, 404)


# --- the team calendar ------------------------------------------------------------------------------

def feed_events(client, url) -> list:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return [c for c in Calendar.from_ical(response.content).walk() if c.name == "VEVENT"]


def test_team_member_creates_a_feed_and_calendars_read_it_without_signing_in(hr_template, hr_request, personas,
                                                                          client_for):
    response = client_for(personas["owner"]).post("/evidence/teams/hr/calendar/")
    assert response.status_code == 302 and response["Location"] == "/teams/hr/"
    feed = CalendarFeed.objects.get(team__slug="hr")
    assert ActivityLog.objects.filter(verb="calendar_feed.created").count() == 1

    events = feed_events(client_for(None), feed.get_absolute_url())

    due = {e.decoded("dtstart"): str(e.get("summary")) for e in events}
    assert due[hr_request.due_on] == f"{hr_request.title} ({hr_request.period_label}) due"
    ahead = services.template_year_ahead(hr_template, today=today())
    assert ahead, "the quarterly standard has periods in the next year"
    for period, _opens, due_on in ahead:
        if period.start != hr_request.period_start:
            assert due[due_on] == f"{hr_template.title} ({period.label}) due"
    assert len({str(e.get("uid")) for e in events}) == len(events)


def test_an_overdue_request_is_marked_in_the_feed(hr_template, personas, client_for):
    late = make_request(hr_template, period_start=D(2025, 1, 1), due_on=days(-3))
    feed = services.calendar_feed_create(team=late.owner_team, actor=personas["owner"])
    events = feed_events(client_for(None), feed.get_absolute_url())
    assert any(str(e.get("summary")).startswith("OVERDUE: ") and e.decoded("dtstart") == late.due_on for e in events)


def test_a_revoked_feed_is_gone(hr_request, personas, client_for):
    client = client_for(personas["owner"])
    client.post("/evidence/teams/hr/calendar/")
    feed = CalendarFeed.objects.get()
    response = client.post("/evidence/teams/hr/calendar/", {"action": "revoke", "feed": feed.pk})
    assert response.status_code == 302
    assert client_for(None).get(feed.get_absolute_url()).status_code == 404
    assert client_for(None).get("/evidence/calendar/not-a-real-token.ics").status_code == 404


def test_another_team_cannot_create_or_revoke_hrs_feed(hr_request, personas, client_for):
    legal = client_for(personas["other_team"])
    assert legal.post("/evidence/teams/hr/calendar/").status_code in (403, 404)
    assert not CalendarFeed.objects.exists()
    feed = services.calendar_feed_create(team=hr_request.owner_team, actor=personas["owner"])
    assert legal.post("/evidence/teams/hr/calendar/", {"action": "revoke", "feed": feed.pk}).status_code in (403, 404)
    assert CalendarFeed.objects.get().revoked_at is None
    assert client_for(None).get(feed.get_absolute_url()).status_code == 200


# --- notifications ----------------------------------------------------------------------------------

@pytest.fixture
def inbox(personas):
    def note(user, title):
        return Notification.objects.create(user=user, kind="evidence.before_due", title=title, url="/evidence/")

    return {
        "first": note(personas["owner"], "Due in 7 days: Termination tickets (2026-Q3)"),
        "second": note(personas["owner"], "Due today: Termination tickets (2026-Q3)"),
        "legal": note(personas["other_team"], "Due today: Contract commitments (2026-Q3)"),
    }


def test_notifications_page_lists_only_your_own_with_the_unread_count(inbox, personas, client_for):
    response = client_for(personas["owner"]).get("/notifications/")
    assert response.status_code == 200
    body = response.content.decode()
    assert inbox["first"].title in body and inbox["second"].title in body
    assert inbox["legal"].title not in body
    assert response.context["unread_notifications"] == 2


def test_mark_one_then_all_read(inbox, personas, client_for):
    client = client_for(personas["owner"])
    response = client.post("/notifications/read/", {"id": inbox["first"].pk, "next": "/evidence/"})
    assert response.status_code == 302 and response["Location"] == "/evidence/"
    assert Notification.objects.filter(read_at__isnull=True, user=personas["owner"]).count() == 1

    client.post("/notifications/read/", {"id": inbox["legal"].pk})  # someone else's: untouched
    assert Notification.objects.get(pk=inbox["legal"].pk).read_at is None

    response = client.post("/notifications/read/", {"next": "https://evil.example.com/"})
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    assert not Notification.objects.filter(read_at__isnull=True, user=personas["owner"]).exists()
    assert client.get("/notifications/").context["unread_notifications"] == 0
    assert Notification.objects.get(pk=inbox["legal"].pk).read_at is None


def test_mark_read_with_a_malformed_id_is_not_a_server_error(inbox, personas, client_for):
    response = client_for(personas["owner"]).post("/notifications/read/", {"id": "abc"})
    assert response.status_code in (302, 400)


def test_revoke_with_a_malformed_feed_id_is_not_a_server_error(hr_request, personas, client_for):
    response = client_for(personas["owner"]).post("/evidence/teams/hr/calendar/", {"action": "revoke", "feed": "x"})
    assert response.status_code in (400, 404)


# --- the team page -----------------------------------------------------------------------------------

def test_team_page_shows_what_the_team_owes_and_the_year_ahead(listing, hr_template, personas, client_for):
    response = client_for(personas["owner"]).get("/teams/hr/")
    assert response.status_code == 200
    outstanding = {r.period_label for r in response.context["outstanding"]}
    assert outstanding == {"2025-Q1", "2025-Q2", "2025-Q3"}
    assert [row["period"].label for row in response.context["year_ahead"]] == [
        p.label for p, _, _ in services.template_year_ahead(hr_template, today=today())]


def test_team_page_marks_overdue_requests(listing, personas, client_for):
    body = client_for(personas["owner"]).get("/teams/hr/").content.decode()
    assert '<span class="badge text-bg-danger">Overdue</span>' in body


# --- query counts stay flat as requests grow ---------------------------------------------------------

STATUSES = [RequestStatus.OPEN, RequestStatus.SUBMITTED, RequestStatus.RETURNED, RequestStatus.APPROVED]
URLS = ["/evidence/", "/evidence/?state=overdue&team=hr", "/evidence/?status=submitted&page=2",
        "/evidence/review/", "/teams/hr/"]


def grow_to(total: int, templates, submitter) -> None:
    """Bulk-add requests (all statuses, due dates around today) until there are ``total``, with a
    pending submission and a file for every submitted one."""
    start = EvidenceRequest.objects.count()
    base = D(1900, 1, 1)
    new = EvidenceRequest.objects.bulk_create([
        EvidenceRequest(
            template=(template := templates[i % len(templates)]), control=template.control,
            owner_team=template.owner_team, title=f"{template.title} #{i}", period_start=base + dt.timedelta(days=i),
            period_end=base + dt.timedelta(days=i), period_label=f"P{i:04d}", opens_on=days(-60),
            due_on=days(i % 60 - 30), status=STATUSES[i % len(STATUSES)],
        )
        for i in range(start, total)
    ])
    submitted = [r for r in new if r.status == RequestStatus.SUBMITTED]
    if submitted and submitted[0].pk is None:  # a backend without RETURNING
        submitted = list(EvidenceRequest.objects.filter(status=RequestStatus.SUBMITTED, submissions__isnull=True))
    evidence = Evidence.objects.bulk_create([Evidence(request=r, submitted_by=submitter, note="bulk") for r in submitted])
    if evidence and evidence[0].pk is None:
        evidence = list(Evidence.objects.filter(files__isnull=True))
    EvidenceFile.objects.bulk_create([
        EvidenceFile(evidence=e, file=f"evidence/{e.request_id}/x/bulk.pdf", original_name="bulk.pdf", size=10,
                     sha256="0" * 64, content_type="application/pdf", uploaded_by=submitter)
        for e in evidence
    ])


def count_queries(client, url) -> int:
    client.get(url)  # warm per-process caches (content types, ...) so both sizes start alike
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona", ["security", "owner"])
def test_queries_do_not_grow_with_requests(teams, personas, client_for, hr_template, persona):
    templates = [hr_template, make_template(teams["legal"], title="Contract commitments")]
    client = client_for(personas[persona])

    grow_to(10, templates, personas["owner"])
    small = {url: count_queries(client, url) for url in URLS}
    grow_to(1000, templates, personas["owner"])
    assert EvidenceRequest.objects.count() == 1000
    large = {url: count_queries(client, url) for url in URLS}

    assert large == small
    assert max(small.values()) <= 20, small


def test_the_pages_really_show_rows_at_a_thousand_requests(teams, personas, client_for, hr_template):
    grow_to(1000, [hr_template], personas["owner"])
    security = client_for(personas["security"])
    assert len(security.get("/evidence/").context["page"].object_list) == 25
    assert len(security.get("/evidence/review/").context["page"].object_list) == 25
    assert security.get("/evidence/review/").context["page"].paginator.count == 250
    assert len(security.get("/teams/hr/").context["outstanding"]) == 10
