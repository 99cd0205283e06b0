"""Who may open every audit page and send every audit write: one matrix per persona.

People (tests/audits/conftest.py): ``auditor_a`` (Ada, on audit A), ``auditor_b`` (Bo, on B),
``expired`` (Eve, on A until yesterday), ``security``, ``leadership``, ``owner`` (HR: answers
A's request PBC-1), ``other_team`` (Legal: answers B's requests), ``anonymous``.

The rules the pages follow:

* an audit that is not yours answers 404, whatever the page, and so does another audit's row
  (evidence, file, request, sample, report) put into your audit's URL;
* an audit whose access ended answers 403 with the reason, and shows nothing of it;
* external auditors may only *send* their requests, comments, decisions, samples and report
  jobs; every other write is refused before any view runs;
* a refused write changes nothing, and every auditor request, refused or not, is in the
  auditor access log under its audit.
"""

import datetime as dt

import pytest
from django.utils import timezone

from audits import services
from audits.models import (
    Audit,
    AuditAuditor,
    AuditComment,
    AuditorAccess,
    AuditRequest,
    AuditSample,
    ReportJob,
)
from evidence.models import EvidenceRequest
from soc2hub.models import ActivityLog, Notification
from tests.audits.conftest import approve
from tests.evidence.factories import pdf

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "auditor_a", "auditor_b", "expired", "security", "leadership", "owner", "other_team"]
AUDITORS = {"auditor_a", "auditor_b", "expired"}


def soon(days=14) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


@pytest.fixture
def portal(estate, personas, teams):
    """Audits A and B in fieldwork (so their auditors see the coverage), A with one request answered by HR
    and approved by Security (PBC-1, ready for the auditor), a sample and a finished report;
    audit B with two requests (PBC-1 answered and approved, so B has a file of its own), a
    sample and a report. A has no PBC-2: B's number 2 is not A's."""
    security = personas["security"]
    a, b = estate["audit_a"], estate["audit_b"]
    services.audit_set_status(audit=a, actor=security, status="fieldwork")
    services.audit_set_status(audit=b, actor=security, status="fieldwork")
    pbc_a = services.audit_request_raise(audit=a, actor=estate["auditor_a"], title="Leaver tickets",
                                         description="Every leaver ticket in Q1.", due_on=soon(),
                                         control=estate["hr_control"])
    approve(pbc_a.evidence_request, personas["owner"], security, pdf("pbc-a-answer.pdf"))
    pbc_b = services.audit_request_raise(audit=b, actor=estate["auditor_b"], title="Privacy notices",
                                         description="The notices in force.", due_on=soon(),
                                         control=estate["legal_control"])
    approve(pbc_b.evidence_request, estate["legal_member"], security, pdf("pbc-b-answer.pdf"))
    pbc_b2 = services.audit_request_raise(audit=b, actor=estate["auditor_b"], title="DPIAs",
                                          description="Every DPIA.", due_on=soon(), control=estate["legal_control"])
    sample_a = services.audit_sample_create(audit=a, actor=estate["auditor_a"], population="template_requests",
                                            template=estate["template"], size=1, seed="a-seed")
    sample_b = services.audit_sample_create(audit=b, actor=estate["auditor_b"], population="template_requests",
                                            template=estate["template"], size=1, seed="b-seed")
    report_a = finished_report(a, estate["auditor_a"])
    report_b = finished_report(b, estate["auditor_b"])
    Notification.objects.all().delete()
    pbc_a.refresh_from_db()
    return {
        **estate, "pbc_a": pbc_a, "pbc_b": pbc_b, "pbc_b2": pbc_b2, "sample_a": sample_a, "sample_b": sample_b,
        "report_a": report_a, "report_b": report_b,
        "pbc_a_file": pbc_a.evidence_request.submissions.get().files.get(),
        "pbc_b_file": pbc_b.evidence_request.submissions.get().files.get(),
    }


def finished_report(audit, actor) -> ReportJob:
    from django.core.files.base import ContentFile

    job = services.report_request(audit=audit, actor=actor, kind="evidence_index")
    job.status = "done"
    job.file.save(f"evidence-index-{job.pk}.csv", ContentFile(b"control,period,file\n"), save=False)
    job.size, job.finished_at = 19, timezone.now()
    job.save()
    return job


@pytest.fixture
def people(audit_personas):
    return audit_personas


def answer(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="):
        return "login"
    return response.status_code


def ids(p) -> dict:
    a, b = p["audit_a"], p["audit_b"]
    return {
        "a": a.pk, "b": b.pk, "q1": p["q1"].pk, "q1_file": p["q1_file"].pk, "before": p["before"].pk,
        "before_file": p["before_file"].pk, "legal_file": p["legal_file"].pk, "pbc_b_file": p["pbc_b_file"].pk,
        "pbc_b_request": p["pbc_b"].evidence_request.pk, "sample_a": p["sample_a"].pk,
        "sample_b": p["sample_b"].pk, "report_a": p["report_a"].pk, "report_b": p["report_b"].pk,
        "pbc_a_file": p["pbc_a_file"].pk,
    }


# --- reads ---------------------------------------------------------------------------------

READERS = {"auditor_a", "security", "leadership"}
SECURITY = {"security"}
RAISERS = {"auditor_a", "security"}  # raise requests and draw samples: the audit's auditors and Security

# Every page of audit A, and who gets 200 on it. Everyone else signed in: 404 when A is not
# theirs, 403 when it is but the page is not for them (or their access ended).
A_PAGES = {
    "/audits/{a}/": READERS,
    "/audits/{a}/edit/": SECURITY,
    "/audits/{a}/access/": SECURITY,
    "/audits/{a}/coverage/": READERS,
    "/audits/{a}/scope/": READERS,
    "/audits/{a}/evidence/": READERS,
    "/audits/{a}/evidence/{q1}/": READERS,
    "/audits/{a}/files/{q1_file}/download/": READERS,
    "/audits/{a}/files/{pbc_a_file}/download/": READERS,
    "/audits/{a}/exceptions/": READERS,
    "/audits/{a}/identities/": READERS,
    "/audits/{a}/requests/": READERS,
    "/audits/{a}/requests/new/": RAISERS,
    "/audits/{a}/requests/1/": READERS | {"owner"},  # HR answers PBC-1: it sees that request
    "/audits/{a}/samples/": READERS,
    "/audits/{a}/samples/new/": RAISERS,
    "/audits/{a}/samples/{sample_a}/": READERS,
    "/audits/{a}/reports/": READERS,
    "/audits/{a}/reports/{report_a}/": READERS,
    "/audits/{a}/reports/{report_a}/download/": READERS,
}

# Rows of B (or of no audit) put into A's URLs: not found for everyone, Security included.
FOREIGN_IN_A = [
    "/audits/{a}/evidence/{before}/",  # HR's Q4 2025: before the window
    "/audits/{a}/files/{before_file}/download/",
    "/audits/{a}/files/{legal_file}/download/",  # privacy: not in A's scope
    "/audits/{a}/files/{pbc_b_file}/download/",  # B's own request's answer
    "/audits/{a}/evidence/{pbc_b_request}/",
    "/audits/{a}/requests/2/",  # B has a PBC-2, A does not
    "/audits/{a}/samples/{sample_b}/",
    "/audits/{a}/reports/{report_b}/",
    "/audits/{a}/reports/{report_b}/download/",
    "/audits/{a}/evidence/999999/",
    "/audits/{a}/files/999999/download/",
]

# B's pages: Ada (A's auditor) must not find them.
B_PAGES = [
    "/audits/{b}/", "/audits/{b}/coverage/", "/audits/{b}/scope/", "/audits/{b}/evidence/",
    "/audits/{b}/files/{pbc_b_file}/download/", "/audits/{b}/exceptions/", "/audits/{b}/identities/",
    "/audits/{b}/requests/", "/audits/{b}/requests/1/", "/audits/{b}/requests/new/", "/audits/{b}/samples/",
    "/audits/{b}/samples/{sample_b}/", "/audits/{b}/reports/", "/audits/{b}/reports/{report_b}/",
    "/audits/{b}/reports/{report_b}/download/", "/audits/{b}/access/", "/audits/{b}/edit/",
]


def expected_on_a(persona: str, allowed: set) -> int | str:
    if persona == "anonymous":
        return "login"
    if persona in allowed:
        return 200
    if persona == "expired":
        return 403  # A is theirs, but their access ended
    if persona in ("auditor_b", "owner", "other_team"):
        return 404  # A is not theirs (HR sees only the request it answers)
    return 403  # leadership on a Security-only page or a write form


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_of_audit_a(portal, people, client_for, persona):
    client = client_for(people[persona])
    ref = ids(portal)
    got = {url: answer(client.get(url.format(**ref))) for url in A_PAGES}
    assert got == {url: expected_on_a(persona, allowed) for url, allowed in A_PAGES.items()}


@pytest.mark.parametrize("persona", PERSONAS)
def test_other_audits_rows_are_not_found_through_audit_a(portal, people, client_for, persona):
    client = client_for(people[persona])
    ref = ids(portal)
    got = {url: answer(client.get(url.format(**ref))) for url in FOREIGN_IN_A}
    if persona == "anonymous":
        assert set(got.values()) == {"login"}
    elif persona == "expired":
        assert set(got.values()) == {403}
    else:
        assert set(got.values()) == {404}, got


def test_auditor_of_a_finds_nothing_of_b(portal, people, client_for):
    client = client_for(people["auditor_a"])
    ref = ids(portal)
    got = {url: answer(client.get(url.format(**ref))) for url in B_PAGES}
    assert got == dict.fromkeys(B_PAGES, 404)
    listing = client.get("/audits/").content.decode()
    assert portal["audit_a"].name in listing and portal["audit_b"].name not in listing


def test_auditor_of_b_sees_b(portal, people, client_for):
    client = client_for(people["auditor_b"])
    ref = ids(portal)
    readable = [u for u in B_PAGES if not u.endswith(("/access/", "/edit/"))]
    assert {url: answer(client.get(url.format(**ref))) for url in readable} == dict.fromkeys(readable, 200)


def test_the_expired_auditor_is_told_why_and_shown_nothing(portal, people, client_for):
    client = client_for(people["expired"])
    ref = ids(portal)
    for url in ["/audits/{a}/", "/audits/{a}/evidence/{q1}/", "/audits/{a}/files/{q1_file}/download/"]:
        response = client.get(url.format(**ref))
        body = response.content.decode()
        assert response.status_code == 403
        assert "Your access to this audit has ended." in body
        assert "q1-2026-leavers.pdf" not in body and "HR-01" not in body and "Content-Disposition" not in response
    listing = client.get("/audits/").content.decode()
    assert portal["audit_a"].name not in listing and "access to your audits has ended" in listing


def test_audits_list_is_for_security_leadership_and_auditors(portal, people, client_for):
    got = {p: answer(client_for(people[p]).get("/audits/")) for p in PERSONAS}
    assert got == {"anonymous": "login", "auditor_a": 200, "auditor_b": 200, "expired": 200, "security": 200,
                   "leadership": 200, "owner": 403, "other_team": 403}
    got = {p: answer(client_for(people[p]).get("/audits/new/")) for p in PERSONAS}
    assert got == {"anonymous": "login", "auditor_a": 403, "auditor_b": 403, "expired": 403, "security": 200,
                   "leadership": 403, "owner": 403, "other_team": 403}


def test_auditors_cannot_reach_the_rest_of_the_programme(portal, people, client_for):
    client = client_for(people["auditor_a"])
    for url in ["/matrix/", "/controls/", "/evidence/", f"/evidence/requests/{portal['q1'].pk}/", "/exceptions/",
                "/nhi/", "/teams/"]:
        assert client.get(url).status_code == 403, url


def test_coverage_opens_to_the_auditors_at_fieldwork(estate, personas, client_for):
    url = f"/audits/{estate['audit_a'].pk}/coverage/"
    assert estate["audit_a"].status == "planning"
    response = client_for(estate["auditor_a"]).get(url)
    assert response.status_code == 403
    assert "opens to the auditors when fieldwork starts" in response.content.decode()
    assert client_for(personas["security"]).get(url).status_code == 200
    assert client_for(personas["leadership"]).get(url).status_code == 200
    overview = client_for(estate["auditor_a"]).get(f"/audits/{estate['audit_a'].pk}/").content.decode()
    assert 'data-testid="gap-summary"' not in overview and url not in overview


@pytest.mark.parametrize("persona", ["auditor_a", "auditor_b", "expired"])
def test_every_auditor_request_is_logged_under_its_audit(portal, people, client_for, persona):
    client = client_for(people[persona])
    ref = ids(portal)
    before = AuditorAccess.objects.count()
    urls = [u.format(**ref) for u in list(A_PAGES) + FOREIGN_IN_A]
    responses = [client.get(url) for url in urls]
    rows = list(AuditorAccess.objects.order_by("pk")[before:])
    assert [(r.path, r.status_code, r.user_id, r.audit_id) for r in rows] == [
        (url, resp.status_code, people[persona].pk, portal["audit_a"].pk) for url, resp in zip(urls, responses)
    ]
    downloads = {r.path for r in rows if r.is_download}
    if persona == "auditor_a":
        assert downloads == {u.format(**ref) for u in A_PAGES if u.endswith("/download/")}
    else:
        assert downloads == set()


def test_downloads_are_recorded_in_the_activity_log(portal, people, client_for):
    client = client_for(people["auditor_a"])
    response = client.get(f"/audits/{portal['audit_a'].pk}/files/{portal['q1_file'].pk}/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    entry = ActivityLog.objects.filter(verb="evidence.downloaded").latest("pk")
    assert entry.actor == people["auditor_a"] and entry.after["file"] == portal["q1_file"].pk
    response = client.get(f"/audits/{portal['audit_a'].pk}/reports/{portal['report_a'].pk}/download/")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert ActivityLog.objects.filter(verb="report.downloaded", actor=people["auditor_a"]).count() == 1


# --- writes --------------------------------------------------------------------------------

def world() -> dict:
    """Every row an audit write could touch (the access log aside: it records refusals)."""
    return {
        "audits": list(Audit.objects.order_by("pk").values("pk", "name", "firm", "status", "categories",
                                                             "period_start", "period_end", "updated_at")),
        "auditors": list(AuditAuditor.objects.order_by("pk").values("pk", "user", "access_ends_on")),
        "requests": list(AuditRequest.objects.order_by("pk").values("pk", "status", "accepted_by")),
        "comments": AuditComment.objects.count(),
        "samples": AuditSample.objects.count(),
        "reports": ReportJob.objects.count(),
        "evidence_requests": list(EvidenceRequest.objects.order_by("pk").values("pk", "status")),
        "log": ActivityLog.objects.count(),
        "notifications": Notification.objects.count(),
    }


def _new_auditor(p):
    from tests.factories import Role, UserFactory

    return UserFactory(username="nina_new_auditor", roles=[Role.AUDITORS])


# name -> (url, data, who succeeds (302), status for a signed-in persona A is visible to
# but who may not write; auditors are refused by the middleware (403) on the writes that are
# not theirs to send, before the view looks at the audit)
WRITES = {
    "new audit": ("/audits/new/", lambda p: {
        "name": "Another", "firm": "Firm", "type": "type2", "period_start": "2026-01-01",
        "period_end": "2026-06-30", "categories": ["security"]}, SECURITY),
    "edit audit": ("/audits/{a}/edit/", lambda p: {
        "name": "Renamed", "firm": "Firm", "type": "type2", "period_start": "2026-01-01",
        "period_end": "2026-06-30", "categories": ["security"]}, SECURITY),
    "move status": ("/audits/{a}/status/", lambda p: {"status": "reporting"}, SECURITY),
    "add auditor": ("/audits/{a}/auditors/", lambda p: {
        "user": _new_auditor(p).pk, "access_ends_on": soon(30).isoformat()}, SECURITY),
    "end auditor access": ("/audits/{a}/auditors/end/", lambda p: {"user": p["auditor_a"].pk}, SECURITY),
    "raise request": ("/audits/{a}/requests/new/", lambda p: {
        "control": p["hr_control"].pk, "title": "More", "description": "More leavers.",
        "due_on": soon().isoformat()}, RAISERS),
    "comment": ("/audits/{a}/requests/1/comment/", lambda p: {"body": "Thanks."}, RAISERS | {"owner"}),
    "accept": ("/audits/{a}/requests/1/decide/", lambda p: {"decision": "accept"}, {"auditor_a"}),
    "return": ("/audits/{a}/requests/1/decide/", lambda p: {"decision": "return", "comment": "Q1 only."},
               {"auditor_a"}),
    "draw sample": ("/audits/{a}/samples/new/", lambda p: {
        "population": "template_requests", "template": p["template"].pk, "size": 1}, RAISERS),
    "generate report": ("/audits/{a}/reports/new/", lambda p: {"kind": "exception_register"},
                        READERS),
}
AUDITOR_WRITES = {"raise request", "comment", "accept", "return", "draw sample", "generate report"}


def expected_write(name: str, persona: str) -> int | str:
    _url, _data, allowed = WRITES[name]
    if persona == "anonymous":
        return "login"
    if persona in allowed:
        return 302
    if persona in AUDITORS and name not in AUDITOR_WRITES:
        return 403  # the middleware: not a write auditors may send
    if name == "new audit":
        return 403
    if persona == "owner" and name in ("accept", "return"):
        return 403  # HR sees PBC-1 (it answers it) but the decision is the auditor's
    return expected_on_a(persona, allowed)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", list(WRITES))
def test_writes(portal, people, client_for, name, persona):
    url, data, _allowed = WRITES[name]
    url = url.format(**ids(portal))
    payload = data(portal)
    client = client_for(people[persona])
    before = world()
    logged = AuditorAccess.objects.count()

    response = client.post(url, payload)

    got = answer(response)
    assert got == expected_write(name, persona), response.content.decode()[:2000]
    if got == 302:
        assert world() != before
    else:
        assert world() == before
    if persona in AUDITORS:
        [row] = AuditorAccess.objects.order_by("pk")[logged:]
        assert (row.method, row.path, row.status_code, row.user_id) == ("POST", url, response.status_code,
                                                                         people[persona].pk)
        assert row.audit_id == (None if name == "new audit" else portal["audit_a"].pk)
    else:
        assert AuditorAccess.objects.count() == logged


def test_a_request_cannot_name_another_audits_control(portal, people, client_for):
    """PRV-01 is in B's scope, not A's: Ada cannot route a request to Legal through A."""
    client = client_for(people["auditor_a"])
    before = world()
    response = client.post(f"/audits/{portal['audit_a'].pk}/requests/new/", {
        "control": portal["legal_control"].pk, "criterion": portal["p41"].pk, "title": "Notices",
        "description": "All of them.", "due_on": soon().isoformat()})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Select a valid choice" in body
    assert world() == before


def test_a_sample_cannot_draw_from_another_audits_control(portal, people, client_for):
    client = client_for(people["auditor_a"])
    before = world()
    response = client.post(f"/audits/{portal['audit_a'].pk}/samples/new/", {
        "population": "control_evidence", "control": portal["legal_control"].pk, "size": 1})
    assert response.status_code == 400
    assert world() == before


def test_the_report_progress_poll_is_scoped_too(portal, people, client_for):
    url = f"/audits/{portal['audit_a'].pk}/reports/{portal['report_b'].pk}/"
    assert client_for(people["auditor_a"]).get(url, HTTP_HX_REQUEST="true").status_code == 404
    url = f"/audits/{portal['audit_a'].pk}/reports/{portal['report_a'].pk}/"
    assert client_for(people["auditor_b"]).get(url, HTTP_HX_REQUEST="true").status_code == 404
