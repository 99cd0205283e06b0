"""The audits REST API: /api/v1/audits/ (with coverage), /api/v1/audit-requests/ and
/api/v1/reports/, scoped as the portal is.

Personas (tests/audits/conftest.py): ``auditor_a`` (Ada, on audit A: Security only),
``auditor_b`` (Bo, on audit B: Security and Privacy), ``expired`` (Eve, on A until yesterday),
``security``, ``leadership``, ``owner`` (HR: answers A's request about HR-01), ``other_team``
(Legal: answers B's request about PRV-01) and ``anonymous``.

A row outside the persona's scope answers 404; an expired auditor gets 403 with the reason;
a refused write changes nothing (audits, requests, evidence requests, evidence, comments,
report jobs, activity log, notifications), and every request an auditor makes, refusals
included, is in the auditor access log with its status code.
"""

import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audits import services
from audits.models import (
    Audit,
    AuditAuditor,
    AuditComment,
    AuditorAccess,
    AuditRequest,
    AuditStatus,
    ReportJob,
    ReportStatus,
)
from controls.models import Control
from evidence.models import Evidence, EvidenceRequest, EvidenceTemplate
from exceptions.models import ExceptionRecord
from nhi.models import NonHumanIdentity
from soc2hub.models import ActivityLog, Notification
from tests.audits.conftest import approve, assign, make_audit
from tests.evidence.factories import MINIMAL_PDF, pdf
from tests.factories import Role, UserFactory
from tests.nhi.factories import make_nhi

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PERSONAS = ["anonymous", "auditor_a", "auditor_b", "expired", "security", "leadership", "owner", "other_team"]
AUDITORS = {"auditor_a", "auditor_b", "expired"}
ENDED = "Your access to this audit has ended."
READ_ONLY = "Auditors have read-only access; they may only raise and answer their own requests."
THROUGH_AUDITS = "Auditors see the programme through their audits: open it from Audits."
REPORT_PDF = b"%PDF-1.7\n% a stored report\n%%EOF\n"


# --- the estate ------------------------------------------------------------------------------

def finish(job: ReportJob, content: bytes = REPORT_PDF, name: str = "report.pdf") -> ReportJob:
    """Store ``content`` as the job's result, as the worker would."""
    job.file.save(name, ContentFile(content), save=False)
    job.status, job.size, job.sha256 = ReportStatus.DONE, len(content), hashlib.sha256(content).hexdigest()
    job.finished_at = timezone.now()
    job.save()
    return job


def raise_for(audit, actor, control, **fields) -> AuditRequest:
    values = {"title": "Leaver tickets for March", "description": "Every leaver ticket closed in March 2026.",
              "due_on": TODAY + dt.timedelta(days=14), "control": control}
    return services.audit_request_raise(audit=audit, actor=actor, **{**values, **fields})


@pytest.fixture
def pbc(estate, personas, audit_personas):
    """Both audits in fieldwork. ``ra``: A's request about HR-01, answered by HR and approved
    by Security (ready for Ada). ``rb``: B's request about PRV-01, still with Legal. ``ja``/``jb``:
    a finished report for each audit."""
    security = personas["security"]
    for audit in (estate["audit_a"], estate["audit_b"]):
        services.audit_set_status(audit=audit, actor=security, status=AuditStatus.FIELDWORK)
    ra = raise_for(estate["audit_a"], estate["auditor_a"], estate["hr_control"])
    approve(ra.evidence_request, personas["owner"], security, pdf("march-leavers.pdf"))
    rb = raise_for(estate["audit_b"], estate["auditor_b"], estate["legal_control"], title="Privacy notice history")
    ja = finish(services.report_request(audit=estate["audit_a"], actor=estate["auditor_a"], kind="ownership_matrix"))
    jb = finish(services.report_request(audit=estate["audit_b"], actor=estate["auditor_b"], kind="nhi_summary"))
    nhi = make_nhi(None, "hr-payroll-key")
    return {**estate, "ra": AuditRequest.objects.get(pk=ra.pk), "rb": rb, "ja": ja, "jb": jb, "nhi": nhi,
            "people": audit_personas}


def world() -> dict:
    """Everything a refused write must leave exactly as it was."""
    return {
        "audits": list(Audit.objects.order_by("pk").values("pk", "name", "firm", "type", "status", "categories",
                                                           "period_start", "period_end", "as_of")),
        "assignments": list(AuditAuditor.objects.order_by("pk").values_list("pk", "access_ends_on")),
        "requests": list(AuditRequest.objects.order_by("pk").values("pk", "status", "title", "accepted_by")),
        "evidence_requests": list(EvidenceRequest.objects.order_by("pk").values_list("pk", "status")),
        "evidence": list(Evidence.objects.order_by("pk").values_list("pk", "status")),
        "comments": AuditComment.objects.count(),
        "reports": list(ReportJob.objects.order_by("pk").values_list("pk", "status")),
        "log": ActivityLog.objects.count(),
        "notifications": Notification.objects.count(),
        "controls": list(Control.objects.order_by("pk").values_list("pk", "name", "evidence_owner")),
        "templates": EvidenceTemplate.objects.count(),
        "nhis": list(NonHumanIdentity.objects.order_by("pk").values_list("pk", "name", "status")),
        "exceptions": ExceptionRecord.objects.count(),
    }


def send(client, method: str, url: str, body=None):
    if method == "GET":
        return client.get(url)
    return getattr(client, method.lower())(url, json.dumps(body or {}), content_type="application/json")


def accesses(user) -> list[tuple]:
    return list(AuditorAccess.objects.filter(user=user).order_by("id").values_list(
        "method", "path", "status_code", "audit_id"))


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


# --- reading: the scoping matrix -------------------------------------------------------------

def _everyone(code, **overrides):
    return {p: overrides.get(p, code) for p in PERSONAS}


SEES_A = {"auditor_a": 200, "security": 200, "leadership": 200}
SEES_B = {"auditor_b": 200, "security": 200, "leadership": 200}

READS = [
    ("/api/v1/audits/", _everyone(200, anonymous=403, owner=403, other_team=403)),
    ("/api/v1/audits/{audit_a}/", _everyone(404, anonymous=403, expired=403, **SEES_A)),
    ("/api/v1/audits/{audit_b}/", _everyone(404, anonymous=403, **SEES_B)),
    ("/api/v1/audits/{audit_a}/coverage/", _everyone(404, anonymous=403, expired=403, **SEES_A)),
    ("/api/v1/audits/{audit_b}/coverage/", _everyone(404, anonymous=403, **SEES_B)),
    ("/api/v1/audit-requests/", _everyone(200, anonymous=403)),
    ("/api/v1/audit-requests/{ra}/", _everyone(404, anonymous=403, expired=403, owner=200, **SEES_A)),
    ("/api/v1/audit-requests/{rb}/", _everyone(404, anonymous=403, other_team=200, **SEES_B)),
    ("/api/v1/reports/", _everyone(200, anonymous=403, owner=403, other_team=403)),
    ("/api/v1/reports/{ja}/", _everyone(404, anonymous=403, expired=403, **SEES_A)),
    ("/api/v1/reports/{ja}/download/", _everyone(404, anonymous=403, expired=403, **SEES_A)),
    ("/api/v1/reports/{jb}/", _everyone(404, anonymous=403, **SEES_B)),
    ("/api/v1/reports/{jb}/download/", _everyone(404, anonymous=403, **SEES_B)),
]


def url_for(template: str, pbc) -> str:
    return template.format(audit_a=pbc["audit_a"].pk, audit_b=pbc["audit_b"].pk, ra=pbc["ra"].pk,
                           rb=pbc["rb"].pk, ja=pbc["ja"].pk, jb=pbc["jb"].pk)


@pytest.mark.parametrize("persona", PERSONAS)
def test_read_matrix(pbc, client_for, persona):
    user = pbc["people"][persona]
    client = client_for(user)
    urls = [url_for(template, pbc) for template, _ in READS]

    got = {url: client.get(url).status_code for url in urls}

    assert got == {url: expected[persona] for url, (_, expected) in zip(urls, READS)}
    if persona in AUDITORS:
        assert [(method, path, code) for method, path, code, _ in accesses(user)] == [
            ("GET", url, code) for url, code in got.items()]


@pytest.mark.parametrize("persona, audits, requests, reports", [
    ("auditor_a", ["audit_a"], ["ra"], ["ja"]),
    ("auditor_b", ["audit_b"], ["rb"], ["jb"]),
    ("expired", [], [], []),
    ("security", ["audit_a", "audit_b"], ["ra", "rb"], ["ja", "jb"]),
    ("leadership", ["audit_a", "audit_b"], ["ra", "rb"], ["ja", "jb"]),
    ("owner", None, ["ra"], None),
    ("other_team", None, ["rb"], None),
])
def test_lists_show_only_what_the_persona_may_see(pbc, client_for, persona, audits, requests, reports):
    client = client_for(pbc["people"][persona])
    for url, names in [("/api/v1/audits/", audits), ("/api/v1/audit-requests/", requests),
                       ("/api/v1/reports/", reports)]:
        response = client.get(url)
        if names is None:
            assert response.status_code == 403
        else:
            assert ids(response) == sorted(pbc[name].pk for name in names), url


def test_an_expired_auditor_is_told_why(pbc, client_for):
    client = client_for(pbc["expired"])
    for url in [f"/api/v1/audits/{pbc['audit_a'].pk}/", f"/api/v1/audit-requests/{pbc['ra'].pk}/",
                f"/api/v1/reports/{pbc['ja'].pk}/download/", f"/api/v1/audits/{pbc['audit_a'].pk}/coverage/"]:
        response = client.get(url)
        assert (response.status_code, response.json()) == (403, {"detail": ENDED}), url
    assert {audit for *_, audit in accesses(pbc["expired"])} == {pbc["audit_a"].pk}


def test_a_download_link_stops_working_when_access_ends(pbc, client_for):
    url = f"/api/v1/reports/{pbc['ja'].pk}/download/"
    assert client_for(pbc["auditor_a"]).get(url).status_code == 200
    services.audit_auditor_end(audit=pbc["audit_a"], actor=pbc["people"]["security"], user=pbc["auditor_a"])
    before = world()

    response = client_for(pbc["auditor_a"]).get(url)

    assert (response.status_code, response.json()) == (403, {"detail": ENDED})
    assert world() == before
    assert accesses(pbc["auditor_a"])[-1] == ("GET", url, 403, pbc["audit_a"].pk)
    assert not AuditorAccess.objects.filter(user=pbc["auditor_a"], status_code=403).get().is_download


# --- the shapes ------------------------------------------------------------------------------

def test_audit_shape(pbc, client_for):
    audit = pbc["audit_a"]
    body = client_for(pbc["people"]["security"]).get(f"/api/v1/audits/{audit.pk}/").json()
    assert body == {
        "id": audit.pk,
        "url": f"http://testserver/api/v1/audits/{audit.pk}/",
        "name": "FY26 SOC 2 Type II",
        "firm": "Example & Co LLP",
        "type": "type2",
        "as_of": None,
        "period_start": "2026-01-01",
        "period_end": "2026-06-30",
        "window_start": "2026-01-01",
        "window_end": "2026-06-30",
        "categories": ["security"],
        "status": "fieldwork",
        "auditors": [
            {"username": "ada_auditor", "access_ends_on": (TODAY + dt.timedelta(days=30)).isoformat(),
             "is_current": True},
            {"username": "eve_expired", "access_ends_on": (TODAY - dt.timedelta(days=1)).isoformat(),
             "is_current": False},
        ],
        "counts": {"requests": 1, "open_requests": 1},
        "coverage_url": f"http://testserver/api/v1/audits/{audit.pk}/coverage/",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }


def test_auditors_do_not_see_who_else_audits(pbc, client_for):
    body = client_for(pbc["auditor_a"]).get(f"/api/v1/audits/{pbc['audit_a'].pk}/").json()
    assert "auditors" not in body
    assert body["counts"] == {"requests": 1, "open_requests": 1}


def test_coverage_is_the_matrix_of_the_audits_window(pbc, client_for):
    body = client_for(pbc["auditor_a"]).get(f"/api/v1/audits/{pbc['audit_a'].pk}/coverage/").json()
    assert (body["audit"], body["window_start"], body["window_end"]) == (pbc["audit_a"].pk, "2026-01-01",
                                                                       "2026-06-30")
    assert [c["code"] for c in body["criteria"]] == ["CC6.1", "CC7.2"]  # A covers Security only: no P4.1
    hr = body["criteria"][0]["controls"][0]
    assert hr["ref"] == "HR-01"
    assert [(p["period"], p["state"]) for p in hr["standards"][0]["periods"]] == [("2026-Q1", "approved"),
                                                                                  ("2026-Q2", "gap")]


def test_coverage_opens_to_the_auditors_when_fieldwork_starts(estate, personas, client_for):
    url = f"/api/v1/audits/{estate['audit_a'].pk}/coverage/"
    response = client_for(estate["auditor_a"]).get(url)
    assert response.status_code == 403
    assert "fieldwork" in response.json()["detail"]
    assert client_for(personas["security"]).get(url).status_code == 200
    services.audit_set_status(audit=estate["audit_a"], actor=personas["security"], status=AuditStatus.FIELDWORK)
    assert client_for(estate["auditor_a"]).get(url).status_code == 200


def test_request_shape_with_its_approved_files_and_comments(pbc, client_for):
    ra = pbc["ra"]
    services.audit_comment_add(audit_request=ra, actor=pbc["people"]["owner"], body="Uploaded the March export.")
    evidence_file = Evidence.objects.get(request=ra.evidence_request).files.get()
    body = client_for(pbc["auditor_a"]).get(f"/api/v1/audit-requests/{ra.pk}/").json()
    assert body == {
        "id": ra.pk,
        "url": f"http://testserver/api/v1/audit-requests/{ra.pk}/",
        "audit": pbc["audit_a"].pk,
        "reference": "PBC-1",
        "number": 1,
        "title": "Leaver tickets for March",
        "description": "Every leaver ticket closed in March 2026.",
        "control": "HR-01",
        "criterion": None,
        "due_on": (TODAY + dt.timedelta(days=14)).isoformat(),
        "status": "open",
        "stage": "ready",
        "stage_label": "Ready for the auditor",
        "answering_team": "hr",
        "evidence_request": ra.evidence_request_id,
        "raised_by": "ada_auditor",
        "raised_at": body["raised_at"],
        "accepted_by": None,
        "accepted_at": None,
        "comment_count": 1,
        "files": [{
            "id": evidence_file.pk,
            "evidence": evidence_file.evidence_id,
            "name": "march-leavers.pdf",
            "size": evidence_file.size,
            "sha256": evidence_file.sha256,
            "content_type": "application/pdf",
            "uploaded_at": body["files"][0]["uploaded_at"],
            "approved_at": body["files"][0]["approved_at"],
            "download_url": f"http://testserver/audits/{pbc['audit_a'].pk}/files/{evidence_file.pk}/download/",
        }],
        "comments": [{"id": body["comments"][0]["id"], "author": "harriet_hr", "body": "Uploaded the March export.",
                      "created_at": body["comments"][0]["created_at"]}],
    }
    assert len(evidence_file.sha256) == 64


def test_the_answering_team_gets_the_evidence_link_it_may_follow(pbc, client_for):
    owner = client_for(pbc["people"]["owner"])
    body = owner.get(f"/api/v1/audit-requests/{pbc['ra'].pk}/").json()
    link = body["files"][0]["download_url"]
    assert link == f"http://testserver/evidence/files/{body['files'][0]['id']}/download/"
    assert owner.get(link).status_code == 200


def test_report_shape_and_its_status_url(pbc, client_for):
    ja = pbc["ja"]
    body = client_for(pbc["auditor_a"]).get(f"/api/v1/reports/{ja.pk}/").json()
    assert body == {
        "id": ja.pk, "url": f"http://testserver/api/v1/reports/{ja.pk}/", "audit": pbc["audit_a"].pk,
        "kind": "ownership_matrix", "kind_label": "Ownership matrix", "status": "done", "progress_done": 0,
        "progress_total": 0, "progress_percent": 100, "message": "", "size": len(REPORT_PDF),
        "sha256": hashlib.sha256(REPORT_PDF).hexdigest(), "requested_by": "ada_auditor",
        "created_at": body["created_at"], "started_at": None, "finished_at": body["finished_at"],
        "download_url": f"http://testserver/api/v1/reports/{ja.pk}/download/",
    }


def test_a_report_downloads_as_an_attachment_with_a_safe_name_and_is_logged(pbc, client_for):
    pbc["audit_a"].name = 'FY26 "SOC 2"/../Type II; rm -rf'
    pbc["audit_a"].save()
    ja = pbc["ja"]

    response = client_for(pbc["auditor_a"]).get(f"/api/v1/reports/{ja.pk}/download/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == REPORT_PDF
    assert response["Content-Disposition"] == (
        f'attachment; filename="fy26-soc-2type-ii-rm-rf-ownership-matrix-{ja.pk}.pdf"')
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    log = ActivityLog.objects.get(verb="report.downloaded")
    assert (log.actor, log.object_id, log.after["sha256"]) == (pbc["auditor_a"], str(ja.pk), ja.sha256)
    access = AuditorAccess.objects.filter(user=pbc["auditor_a"]).get()
    assert (access.is_download, access.audit_id, access.status_code) == (True, pbc["audit_a"].pk, 200)


@pytest.mark.parametrize("state, message", [
    (ReportStatus.QUEUED, "This report is queued (0%); poll it until it is ready."),
    (ReportStatus.RUNNING, "This report is running (40%); poll it until it is ready."),
    (ReportStatus.FAILED, "This report failed: The package stopped: q1.pdf changed since upload."),
])
def test_a_report_that_is_not_done_cannot_be_downloaded(pbc, client_for, state, message):
    job = services.report_request(audit=pbc["audit_a"], actor=pbc["auditor_a"], kind="evidence_package")
    ReportJob.objects.filter(pk=job.pk).update(
        status=state, progress_done=2 if state == ReportStatus.RUNNING else 0, progress_total=5,
        message="The package stopped: q1.pdf changed since upload." if state == ReportStatus.FAILED else "")
    before = world()

    client = client_for(pbc["auditor_a"])
    response = client.get(f"/api/v1/reports/{job.pk}/download/")

    assert (response.status_code, response.json()) == (409, {"detail": message})
    assert client.get(f"/api/v1/reports/{job.pk}/").json()["download_url"] is None
    assert world() == before


def test_a_report_whose_file_is_gone_is_404(pbc, client_for):
    pbc["ja"].file.storage.delete(pbc["ja"].file.name)
    before = world()
    response = client_for(pbc["auditor_a"]).get(f"/api/v1/reports/{pbc['ja'].pk}/download/")
    assert response.status_code == 404
    assert world() == before


# --- writing: the scoping matrix -------------------------------------------------------------

NOT_AUDITORS_405 = _everyone(405, anonymous=403, auditor_a=403, auditor_b=403, expired=403)
NEW_AUDIT = {"name": "FY27 SOC 2 Type II", "firm": "Other & Co", "type": "type2", "period_start": "2027-01-01",
             "period_end": "2027-12-31", "categories": ["security", "availability"]}
RAISE = {"title": "Onboarding tickets", "description": "Every joiner in Q1 with their approver.",
         "control": "HR-01", "due_on": (TODAY + dt.timedelta(days=10)).isoformat()}

# name, method, url, body, the persona's status code, the activity-log verb a success records
WRITES = [
    ("create audit", "POST", "/api/v1/audits/", NEW_AUDIT,
     _everyone(403, security=201), "audit.created"),
    ("edit audit", "PATCH", "/api/v1/audits/{audit_a}/", {"firm": "Renamed LLP"},
     _everyone(404, anonymous=403, security=200, leadership=403, auditor_a=403, auditor_b=403, expired=403),
     "audit.changed"),
    ("replace audit", "PUT", "/api/v1/audits/{audit_a}/", NEW_AUDIT, NOT_AUDITORS_405, None),
    ("delete audit", "DELETE", "/api/v1/audits/{audit_a}/", None, NOT_AUDITORS_405, None),
    ("move audit status", "POST", "/api/v1/audits/{audit_a}/status/", {"status": "reporting"},
     _everyone(404, anonymous=403, security=200, leadership=403, auditor_a=403, auditor_b=403, expired=403),
     "audit.status_changed"),
    ("raise request", "POST", "/api/v1/audit-requests/", {"audit": "{audit_a}", **RAISE},
     _everyone(404, anonymous=403, auditor_a=201, security=201, expired=403, leadership=403),
     "audit_request.raised"),
    ("edit request", "PATCH", "/api/v1/audit-requests/{ra}/", {"title": "Changed"}, NOT_AUDITORS_405, None),
    ("replace request", "PUT", "/api/v1/audit-requests/{ra}/", {"title": "Changed"}, NOT_AUDITORS_405, None),
    ("delete request", "DELETE", "/api/v1/audit-requests/{ra}/", None, NOT_AUDITORS_405, None),
    ("accept", "POST", "/api/v1/audit-requests/{ra}/accept/", {"comment": "Complete, thank you."},
     _everyone(404, anonymous=403, auditor_a=200, expired=403, security=403, leadership=403, owner=403),
     "audit_request.accepted"),
    ("return", "POST", "/api/v1/audit-requests/{ra}/return/", {"comment": "March is missing."},
     _everyone(404, anonymous=403, auditor_a=200, expired=403, security=403, leadership=403, owner=403),
     "audit_request.returned"),
    ("comment", "POST", "/api/v1/audit-requests/{ra}/comment/", {"body": "Is this all of March?"},
     _everyone(404, anonymous=403, auditor_a=201, expired=403, security=201, leadership=403, owner=201),
     "audit_request.commented"),
    ("request report", "POST", "/api/v1/reports/", {"audit": "{audit_a}", "kind": "evidence_index"},
     _everyone(404, anonymous=403, auditor_a=201, expired=403, security=201, leadership=201, owner=403,
               other_team=403),
     "report.requested"),
    ("edit report", "PATCH", "/api/v1/reports/{ja}/", {"kind": "nhi_summary"}, NOT_AUDITORS_405, None),
    ("replace report", "PUT", "/api/v1/reports/{ja}/", {"kind": "nhi_summary"}, NOT_AUDITORS_405, None),
    ("delete report", "DELETE", "/api/v1/reports/{ja}/", None, NOT_AUDITORS_405, None),
]


def body_for(body, pbc):
    if body is None:
        return None
    return {k: (int(url_for(v, pbc)) if isinstance(v, str) and v.startswith("{") else v) for k, v in body.items()}


def auditor_refusal(name: str, method: str, persona: str) -> str | None:
    """What an auditor is told when a write in WRITES is refused (None: a plain 404)."""
    if name == "move audit status":
        return THROUGH_AUDITS  # not an auditor's route at all
    if method in ("PUT", "PATCH", "DELETE") or name == "create audit":
        return READ_ONLY  # refused by the auditor middleware before any view runs
    return ENDED if persona == "expired" else None


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name, method, url, body, codes, verb", WRITES, ids=[w[0] for w in WRITES])
def test_write_matrix(pbc, client_for, persona, name, method, url, body, codes, verb):
    user = pbc["people"][persona]
    url = url_for(url, pbc)
    before, logged = world(), ActivityLog.objects.filter(verb=verb, actor=user).count()

    response = send(client_for(user), method, url, body_for(body, pbc))

    assert response.status_code == codes[persona], response.content
    if response.status_code in (200, 201):
        assert ActivityLog.objects.filter(verb=verb, actor=user).count() == logged + 1
        return
    assert world() == before
    if persona in AUDITORS:
        told = auditor_refusal(name, method, persona)
        if told:
            assert response.json() == {"detail": told}
        # Refused at the door: no audit to file it under; refused by the view: filed under A.
        audit_id = None if told in (READ_ONLY, THROUGH_AUDITS) else pbc["audit_a"].pk
        assert accesses(user) == [(method, url, codes[persona], audit_id)]
    else:
        assert not AuditorAccess.objects.exists()


def test_refusals_say_why(pbc, client_for):
    security, owner = pbc["people"]["security"], pbc["people"]["owner"]
    accept = f"/api/v1/audit-requests/{pbc['ra'].pk}/accept/"
    assert send(client_for(security), "POST", accept).json() == {
        "detail": "Only the audit's auditors accept or return its requests."}
    assert send(client_for(owner), "POST", accept).json() == {
        "detail": "Only the audit's auditors accept or return its requests."}
    assert send(client_for(pbc["expired"]), "POST", accept).json() == {"detail": ENDED}
    assert send(client_for(pbc["expired"]), "POST", "/api/v1/audit-requests/",
                {"audit": pbc["audit_a"].pk, **RAISE}).json() == {"detail": ENDED}


@pytest.mark.parametrize("persona, url, code", [
    ("leadership", "/api/v1/audit-requests/", 403),
    ("auditor_b", "/api/v1/audit-requests/", 404),
    ("expired", "/api/v1/audit-requests/", 403),
    ("owner", "/api/v1/audit-requests/", 404),
    ("auditor_b", "/api/v1/reports/", 404),
    ("expired", "/api/v1/reports/", 403),
])
def test_a_refused_caller_learns_nothing_from_validation(pbc, client_for, persona, url, code):
    """The audit is checked before the rest of the body, as the pages check before the form."""
    before = world()
    response = send(client_for(pbc["people"][persona]), "POST", url,
                    {"audit": pbc["audit_a"].pk, "due_on": "yesterday", "kind": "nonsense"})
    assert response.status_code == code
    assert set(response.json()) == {"detail"}
    assert world() == before


def test_the_schema_describes_the_audit_endpoints(pbc, client_for):
    response = client_for(pbc["auditor_a"]).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in ["/api/v1/audits/", "/api/v1/audits/{id}/coverage/", "/api/v1/audits/{id}/status/",
                 "/api/v1/audit-requests/", "/api/v1/audit-requests/{id}/accept/",
                 "/api/v1/audit-requests/{id}/return/", "/api/v1/audit-requests/{id}/comment/",
                 "/api/v1/reports/", "/api/v1/reports/{id}/download/"]:
        assert path in paths, path
    assert set(paths["/api/v1/audit-requests/{id}/"]) == {"get"}


def test_a_closed_audit_takes_no_more_requests_or_comments(pbc, client_for):
    services.audit_set_status(audit=pbc["audit_a"], actor=pbc["people"]["security"], status=AuditStatus.CLOSED)
    before = world()
    client = client_for(pbc["auditor_a"])
    raised = send(client, "POST", "/api/v1/audit-requests/", {"audit": pbc["audit_a"].pk, **RAISE})
    commented = send(client, "POST", f"/api/v1/audit-requests/{pbc['ra'].pk}/comment/", {"body": "One more"})
    assert (raised.status_code, raised.json()) == (403, {"detail": "This audit is closed."})
    assert (commented.status_code, commented.json()) == (403, {"detail": "This audit is closed."})
    assert world() == before


# --- another audit's ids, evidence outside the window ----------------------------------------

def test_bs_ids_through_a_are_not_found_and_logged(pbc, client_for):
    ada, b = pbc["auditor_a"], pbc["audit_b"]
    client = client_for(ada)
    before = world()
    tries = [
        ("GET", f"/api/v1/audits/{b.pk}/", None, 404),
        ("GET", f"/api/v1/audits/{b.pk}/coverage/", None, 404),
        ("GET", f"/api/v1/audit-requests/{pbc['rb'].pk}/", None, 404),
        ("POST", f"/api/v1/audit-requests/{pbc['rb'].pk}/comment/", {"body": "Hello B"}, 404),
        ("POST", f"/api/v1/audit-requests/{pbc['rb'].pk}/accept/", {}, 404),
        ("POST", f"/api/v1/audit-requests/{pbc['rb'].pk}/return/", {"comment": "No"}, 404),
        ("POST", "/api/v1/audit-requests/", {"audit": b.pk, **RAISE, "control": "PRV-01"}, 404),
        ("POST", "/api/v1/reports/", {"audit": b.pk, "kind": "evidence_package"}, 404),
        ("GET", f"/api/v1/reports/{pbc['jb'].pk}/", None, 404),
        ("GET", f"/api/v1/reports/{pbc['jb'].pk}/download/", None, 404),
    ]
    for method, url, body, code in tries:
        response = send(client, method, url, body)
        assert response.status_code == code, (url, response.content)
        assert response.json() in ({"detail": "No such audit."}, {"detail": "No such auditor request."},
                                   {"detail": "No such report."}), url
        # ... the same answer as for an id that does not exist
        missing = url.replace(str(b.pk), "987654").replace(str(pbc["rb"].pk), "987654").replace(
            str(pbc["jb"].pk), "987654")
        if missing != url:
            assert send(client, method, missing, body).json() == response.json(), missing
    # What was tried is on B's access log, for Security to see.
    assert [row for row in accesses(ada) if "987654" not in row[1]] == [
        (method, url, code, b.pk) for method, url, _, code in tries]
    # Filtering by B's id answers an empty list, as an unknown id does.
    assert ids(client.get(f"/api/v1/audit-requests/?audit={b.pk}")) == []
    assert ids(client.get(f"/api/v1/reports/?audit={b.pk}")) == []
    assert ids(client.get("/api/v1/audit-requests/?audit=987654")) == []
    assert world() == before


def test_evidence_outside_the_window_or_another_audit_cannot_be_downloaded(pbc, client_for):
    client = client_for(pbc["auditor_a"])
    inside = client.get(f"/evidence/files/{pbc['q1_file'].pk}/download/")
    assert inside.status_code == 200
    for evidence_file in (pbc["before_file"], pbc["legal_file"]):
        assert client.get(f"/evidence/files/{evidence_file.pk}/download/").status_code == 404
        assert client.get(f"/audits/{pbc['audit_a'].pk}/files/{evidence_file.pk}/download/").status_code == 404
    # The evidence API is not an auditor's door at all.
    response = client.get(f"/api/v1/evidence-files/{pbc['q1_file'].pk}/download/")
    assert (response.status_code, response.json()) == (403, {"detail": THROUGH_AUDITS})
    assert [code for _, _, code, _ in accesses(pbc["auditor_a"])] == [200, 404, 404, 404, 404, 403]


OTHER_ENDPOINTS = [
    ("POST", "/api/v1/controls/", {"ref": "NEW-01", "name": "New"}),
    ("PATCH", "/api/v1/controls/HR-01/", {"name": "Renamed"}),
    ("PUT", "/api/v1/controls/HR-01/", {"name": "Renamed"}),
    ("DELETE", "/api/v1/controls/HR-01/", None),
    ("POST", "/api/v1/evidence-requests/", {"title": "x"}),
    ("PATCH", "/api/v1/evidence-requests/{q2}/", {"status": "approved"}),
    ("DELETE", "/api/v1/evidence-requests/{q2}/", None),
    ("POST", "/api/v1/evidence/", {"request": "{q2}", "note": "from the auditor"}),
    ("POST", "/api/v1/evidence-templates/", {"title": "x"}),
    ("POST", "/api/v1/nhis/", {"name": "auditor-key"}),
    ("PATCH", "/api/v1/nhis/{nhi}/", {"name": "renamed"}),
    ("DELETE", "/api/v1/nhis/{nhi}/", None),
    ("POST", "/api/v1/nhis/{nhi}/revoke/", {"reason": "x"}),
    ("POST", "/api/v1/exceptions/", {"title": "x"}),
    ("POST", "/api/v1/teams/", {"name": "x"}),
    ("DELETE", "/api/v1/activity/1/", None),
]


@pytest.mark.parametrize("persona", sorted(AUDITORS))
def test_auditors_write_nothing_anywhere_else_in_the_api(pbc, client_for, persona):
    user = pbc["people"][persona]
    client = client_for(user)
    before = world()
    for method, url, body in OTHER_ENDPOINTS:
        url = url.format(q2=pbc["q2"].pk, nhi=pbc["nhi"].pk)
        body = {k: (pbc["q2"].pk if v == "{q2}" else v) for k, v in (body or {}).items()}
        response = send(client, method, url, body)
        assert (response.status_code, response.json()) == (403, {"detail": THROUGH_AUDITS}), (method, url)
    assert world() == before
    assert [(m, code) for m, _, code, _ in accesses(user)] == [(m, 403) for m, _, _ in OTHER_ENDPOINTS]


def test_put_on_a_list_is_not_a_write_either(pbc, client_for):
    before = world()
    for url in ("/api/v1/audit-requests/", "/api/v1/reports/"):
        response = send(client_for(pbc["auditor_a"]), "PUT", url, {"title": "x"})
        assert response.status_code == 405
    assert world() == before
    assert [code for _, _, code, _ in accesses(pbc["auditor_a"])] == [405, 405]


# --- the PBC flow through the API ------------------------------------------------------------

def test_the_pbc_flow_through_the_api(estate, personas, client_for):
    """Ada raises a request; HR answers it through the evidence API; Security approves; Ada
    returns it for more; HR adds to it; Security approves again; Ada accepts."""
    audit = estate["audit_a"]
    services.audit_set_status(audit=audit, actor=personas["security"], status=AuditStatus.FIELDWORK)
    ada, hr, security = client_for(estate["auditor_a"]), client_for(personas["owner"]), client_for(personas["security"])

    raised = send(ada, "POST", "/api/v1/audit-requests/", {"audit": audit.pk, **RAISE})
    assert raised.status_code == 201, raised.content
    item = raised.json()
    assert raised["Location"] == item["url"]
    assert (item["reference"], item["stage"], item["answering_team"], item["files"]) == ("PBC-1", "with_team",
                                                                                         "hr", [])
    evidence_request = EvidenceRequest.objects.get(pk=item["evidence_request"])
    assert (evidence_request.owner_team.slug, evidence_request.period_start, evidence_request.period_end) == (
        "hr", dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert item["id"] in ids(hr.get("/api/v1/audit-requests/"))  # HR's to-do list

    def answer(name, shown_until_approved):
        upload = SimpleUploadedFile(name, MINIMAL_PDF, content_type="application/pdf")
        submitted = hr.post("/api/v1/evidence/", {"request": evidence_request.pk, "note": "Joiners", "files": [upload]})
        assert submitted.status_code == 201, submitted.content
        in_review = ada.get(item["url"]).json()
        assert in_review["stage"] == "in_review"
        assert [f["name"] for f in in_review["files"]] == shown_until_approved  # nothing new until approved
        approved = send(security, "POST", f"/api/v1/evidence/{submitted.json()['id']}/approve/")
        assert approved.status_code == 200, approved.content

    answer("joiners-q1.pdf", [])
    ready = ada.get(item["url"]).json()
    assert ready["stage"] == "ready"
    assert [f["name"] for f in ready["files"]] == ["joiners-q1.pdf"]
    assert ready["files"][0]["sha256"] == hashlib.sha256(MINIMAL_PDF).hexdigest()
    download = ada.get(ready["files"][0]["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == MINIMAL_PDF

    returned = send(ada, "POST", f"/api/v1/audit-requests/{item['id']}/return/", {"comment": "February is missing."})
    assert returned.status_code == 200, returned.content
    assert (returned.json()["stage"], returned.json()["comments"][-1]["body"]) == ("with_team",
                                                                                   "February is missing.")
    answer("joiners-february.pdf", ["joiners-q1.pdf"])
    accepted = send(ada, "POST", f"/api/v1/audit-requests/{item['id']}/accept/", {"comment": "Complete."})
    assert accepted.status_code == 200, accepted.content
    body = accepted.json()
    assert (body["stage"], body["status"], body["accepted_by"]) == ("accepted", "accepted", "ada_auditor")
    assert [f["name"] for f in body["files"]] == ["joiners-q1.pdf", "joiners-february.pdf"]
    assert [c["body"] for c in body["comments"]] == ["February is missing.", "Complete."]
    again = send(ada, "POST", f"/api/v1/audit-requests/{item['id']}/accept/", {})
    assert (again.status_code, again.json()) == (400, {"non_field_errors": ["PBC-1 is already accepted."]})

    verbs = list(ActivityLog.objects.filter(object_id=str(item["id"]), verb__startswith="audit_request.")
                 .order_by("id").values_list("verb", flat=True))
    assert verbs == ["audit_request.raised", "audit_request.ready", "audit_request.returned",
                     "audit_request.ready", "audit_request.accepted"]
    assert {a for *_, a in accesses(estate["auditor_a"])} == {audit.pk}
    assert AuditorAccess.objects.filter(user=estate["auditor_a"], is_download=True).count() == 1


def test_a_report_is_queued_polled_and_downloaded(pbc, client_for, django_capture_on_commit_callbacks):
    """The real generation, run by the (eager) Celery task once the request commits."""
    client = client_for(pbc["auditor_a"])
    with django_capture_on_commit_callbacks(execute=True):
        created = send(client, "POST", "/api/v1/reports/", {"audit": pbc["audit_a"].pk, "kind": "evidence_package"})
    assert created.status_code == 201, created.content
    job = created.json()
    assert (job["status"], job["download_url"]) == ("queued", None)  # as it was when the request answered
    assert created["Location"] == job["url"]

    polled = client.get(job["url"]).json()
    assert polled["status"] == "done", polled["message"]
    assert polled["progress_percent"] == 100
    response = client.get(polled["download_url"])
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert (len(content), hashlib.sha256(content).hexdigest()) == (polled["size"], polled["sha256"])
    assert response["Content-Disposition"].endswith(f'-evidence-package-{job["id"]}.zip"')
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert "SHA256SUMS" in names
    assert any(name.endswith("q1-2026-leavers.pdf") for name in names)
    assert not any("q4-2025" in name or "privacy-review" in name for name in names)  # outside A's window/scope


# --- bad input -------------------------------------------------------------------------------

RAISE_A = {"audit": "A", **RAISE}


@pytest.mark.parametrize("body, errors", [
    ({}, {"audit": ["This field is required."]}),
    ({"audit": "abc"}, {"audit": ["A valid integer is required."]}),
    ({"audit": -1}, {"audit": ["Ensure this value is greater than or equal to 1."]}),
    ({"audit": 10**20}, {"audit": ["Ensure this value is less than or equal to 2147483647."]}),
    ({"audit": [1]}, {"audit": ["A valid integer is required."]}),
    ({"audit": "A"}, {"title": ["This field is required."], "description": ["This field is required."],
                      "due_on": ["This field is required."]}),
    ({**RAISE_A, "control": None}, {"control": ["Name the control (or the criterion) the request is about."]}),
    # Outside the audit's scope answers as nothing at all: the auditor sees only their audit.
    ({**RAISE_A, "control": "PRV-01"}, {"control": ["No control PRV-01 in this audit's scope."]}),
    ({**RAISE_A, "control": None, "criterion": "P4.1"}, {"criterion": ["No criterion P4.1 in this audit's scope."]}),
    ({**RAISE_A, "control": "NOPE-99"}, {"control": ["No control NOPE-99 in this audit's scope."]}),
    ({**RAISE_A, "control": None, "criterion": "P9.9"}, {"criterion": ["No criterion P9.9 in this audit's scope."]}),
    ({**RAISE_A, "due_on": (TODAY - dt.timedelta(days=1)).isoformat()},
     {"due_on": ["The due date cannot be in the past."]}),
    ({**RAISE_A, "due_on": (TODAY + dt.timedelta(days=400)).isoformat()},
     {"due_on": ["The due date is more than a year away."]}),
    ({**RAISE_A, "due_on": "next tuesday"},
     {"due_on": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
    ({**RAISE_A, "title": "   "}, {"title": ["This field may not be blank."]}),
    ({**RAISE_A, "title": "t" * 201}, {"title": ["Ensure this field has no more than 200 characters."]}),
    ({**RAISE_A, "description": "d" * 10_001},
     {"description": ["Ensure this field has no more than 10000 characters."]}),
])
def test_bad_requests_are_refused_with_field_messages(pbc, client_for, body, errors):
    body = {k: (pbc["audit_a"].pk if v == "A" else v) for k, v in body.items()}
    before = world()
    response = send(client_for(pbc["auditor_a"]), "POST", "/api/v1/audit-requests/", body)
    assert (response.status_code, response.json()) == (400, errors)
    assert world() == before
    assert accesses(pbc["auditor_a"])[-1][2] == 400


@pytest.mark.parametrize("body, errors", [
    ({"kind": "evidence_index"}, {"audit": ["This field is required."]}),
    ({"audit": "x", "kind": "evidence_index"}, {"audit": ["A valid integer is required."]}),
    ({"audit": "A"}, {"kind": ["This field is required."]}),
    ({"audit": "A", "kind": "everything"},
     {"kind": ["Choose one of: ownership_matrix, evidence_index, exception_register, nhi_summary, "
               "evidence_package."]}),
])
def test_bad_report_requests_are_refused(pbc, client_for, body, errors):
    body = {k: (pbc["audit_a"].pk if v == "A" else v) for k, v in body.items()}
    before = world()
    response = send(client_for(pbc["auditor_a"]), "POST", "/api/v1/reports/", body)
    assert (response.status_code, response.json()) == (400, errors)
    assert world() == before


@pytest.mark.parametrize("url, body, errors", [
    ("return", {}, {"comment": ["Say what is missing, so the team can answer it."]}),
    ("return", {"comment": "   "}, {"comment": ["Say what is missing, so the team can answer it."]}),
    ("comment", {"body": ""}, {"body": ["Write a comment first."]}),
    ("comment", {"body": "x" * 5001}, {"body": ["Ensure this field has no more than 5000 characters."]}),
    ("accept", {"comment": "x" * 5001}, {"comment": ["Ensure this field has no more than 5000 characters."]}),
])
def test_bad_decisions_and_comments_are_refused(pbc, client_for, url, body, errors):
    before = world()
    response = send(client_for(pbc["auditor_a"]), "POST", f"/api/v1/audit-requests/{pbc['ra'].pk}/{url}/", body)
    assert (response.status_code, response.json()) == (400, errors)
    assert world() == before


def test_an_answer_not_yet_approved_cannot_be_accepted_or_returned(pbc, client_for):
    rb = pbc["rb"]
    client = client_for(pbc["auditor_b"])
    before = world()
    accepted = send(client, "POST", f"/api/v1/audit-requests/{rb.pk}/accept/", {})
    returned = send(client, "POST", f"/api/v1/audit-requests/{rb.pk}/return/", {"comment": "More"})
    assert (accepted.status_code, accepted.json()) == (400, {"non_field_errors": [
        "PBC-1 has no answer approved by Security yet; it can be accepted once it has."]})
    assert (returned.status_code, returned.json()) == (400, {"non_field_errors": [
        "PBC-1 is still with the team or in review; comment on it instead of returning it."]})
    assert world() == before


@pytest.mark.parametrize("body, field", [
    ({**NEW_AUDIT, "period_end": "2026-12-31"}, "period_end"),
    ({**NEW_AUDIT, "type": "type1", "period_start": None, "period_end": None}, "as_of"),
    ({**NEW_AUDIT, "categories": ["security", "bogus"]}, "categories"),
    ({**NEW_AUDIT, "type": "type3"}, "type"),
    ({**NEW_AUDIT, "name": ""}, "name"),
    ({**NEW_AUDIT, "name": "n" * 201}, "name"),
    ({**NEW_AUDIT, "period_start": "soon"}, "period_start"),
])
def test_bad_audits_are_refused(pbc, client_for, body, field):
    before = world()
    response = send(client_for(pbc["people"]["security"]), "POST", "/api/v1/audits/", body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert world() == before


def test_security_creates_edits_and_moves_an_audit(pbc, client_for):
    client = client_for(pbc["people"]["security"])
    created = send(client, "POST", "/api/v1/audits/", NEW_AUDIT)
    assert created.status_code == 201, created.content
    audit = created.json()
    assert (audit["categories"], audit["status"], audit["auditors"], audit["counts"]) == (
        ["security", "availability"], "planning", [], {"requests": 0, "open_requests": 0})
    edited = send(client, "PATCH", audit["url"], {"type": "type1", "as_of": "2027-06-30"})
    assert edited.status_code == 200, edited.content
    assert (edited.json()["type"], edited.json()["period_start"], edited.json()["window_start"]) == (
        "type1", None, "2026-06-30")
    moved = send(client, "POST", f"{audit['url']}status/", {"status": "closed"})
    assert moved.json()["status"] == "closed"
    before = world()
    refused = send(client, "PATCH", audit["url"], {"firm": "Late change"})
    assert (refused.status_code, refused.json()) == (400, {"non_field_errors": ["A closed audit no longer changes."]})
    stuck = send(client, "POST", f"{audit['url']}status/", {"status": "fieldwork"})
    assert stuck.status_code == 400
    unknown = send(client, "POST", f"{audit['url']}status/", {"status": "done"})
    assert unknown.status_code == 400
    assert world() == before


@pytest.mark.parametrize("url", [
    "/api/v1/audits/abc/", "/api/v1/audits/0/", "/api/v1/audits/99999999999999999999/",
    "/api/v1/audits/abc/coverage/", "/api/v1/audit-requests/abc/", "/api/v1/audit-requests/-1/",
    "/api/v1/audit-requests/99999999999999999999/", "/api/v1/reports/%C3%A9/", "/api/v1/reports/1e3/download/",
    "/api/v1/reports/99999999999999999999/download/",
])
def test_malformed_ids_are_not_found(pbc, client_for, url):
    for persona in ("auditor_a", "security"):
        response = client_for(pbc["people"][persona]).get(url)
        assert response.status_code == 404, (persona, url, response.content)
    assert [(path, code, audit) for _, path, code, audit in accesses(pbc["auditor_a"])] == [(url, 404, None)]


@pytest.mark.parametrize("query", ["?audit=abc", "?audit=-3", "?status=nope", "?stage=lost"])
def test_malformed_filters_are_refused(pbc, client_for, query):
    response = client_for(pbc["auditor_a"]).get(f"/api/v1/audit-requests/{query}")
    assert response.status_code == 400
    assert query[1:].split("=")[0] in response.json()


def test_filters(pbc, client_for):
    security = client_for(pbc["people"]["security"])
    a, ra, rb = pbc["audit_a"], pbc["ra"], pbc["rb"]
    assert ids(security.get(f"/api/v1/audit-requests/?audit={a.pk}")) == [ra.pk]
    assert ids(security.get("/api/v1/audit-requests/?stage=ready")) == [ra.pk]
    assert ids(security.get("/api/v1/audit-requests/?stage=with_team")) == [rb.pk]
    assert ids(security.get("/api/v1/audit-requests/?status=accepted")) == []
    assert ids(security.get(f"/api/v1/reports/?audit={a.pk}&status=done")) == [pbc["ja"].pk]
    assert ids(security.get("/api/v1/reports/?kind=nhi_summary")) == [pbc["jb"].pk]
    assert ids(security.get("/api/v1/audits/?status=fieldwork")) == sorted([a.pk, pbc["audit_b"].pk])


# --- query counts ----------------------------------------------------------------------------

LISTS = ["/api/v1/audits/", "/api/v1/audit-requests/", "/api/v1/audit-requests/?stage=with_team&ordering=due_on",
         "/api/v1/reports/", "/api/v1/reports/?status=queued"]


def grow(pbc, n: int) -> None:
    """``n`` more audits Ada is on, each with a request (with a comment) and a report job."""
    security = pbc["people"]["security"]
    for i in range(n):
        audit = make_audit(security, name=f"Extra audit {Audit.objects.count()}")
        assign(audit, security, pbc["auditor_a"])
        assign(audit, security, UserFactory(username=f"extra_auditor_{audit.pk}", roles=[Role.AUDITORS]))
        request = raise_for(audit, security, pbc["hr_control"], title=f"Request {i}")
        services.audit_comment_add(audit_request=request, actor=security, body="Noted.")
        ReportJob.objects.create(audit=audit, kind="evidence_index", requested_by=pbc["auditor_a"])


def counts(client) -> dict:
    result = {}
    for url in LISTS:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        result[url] = (len(queries), response.json()["count"])
    return result


@pytest.mark.parametrize("persona", ["auditor_a", "security", "leadership"])
def test_list_queries_stay_flat_as_rows_grow(pbc, client_for, persona):
    client = client_for(pbc["people"][persona])
    grow(pbc, 2)
    small = counts(client)
    grow(pbc, 8)
    large = counts(client)
    assert {url: q for url, (q, _) in large.items()} == {url: q for url, (q, _) in small.items()}
    assert all(large[url][1] > small[url][1] for url in LISTS), (small, large)


def test_the_answering_teams_list_stays_flat(pbc, client_for):
    client = client_for(pbc["people"]["owner"])
    grow(pbc, 2)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/api/v1/audit-requests/").json()["count"] == 3
    grow(pbc, 8)
    with CaptureQueriesContext(connection) as large:
        assert client.get("/api/v1/audit-requests/").json()["count"] == 11
    assert len(large) == len(small)


def test_request_detail_queries_do_not_grow_with_files_and_comments(pbc, client_for, personas):
    client = client_for(pbc["auditor_a"])
    url = f"/api/v1/audit-requests/{pbc['ra'].pk}/"
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for i in range(5):
        services.audit_comment_add(audit_request=pbc["ra"], actor=personas["owner"], body=f"Note {i}")
    with CaptureQueriesContext(connection) as large:
        body = client.get(url).json()
    assert len(body["comments"]) == 5
    assert len(large) == len(small)
