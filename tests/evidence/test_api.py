"""The evidence REST API: who sees what, uploads through the same checks as the page, the review,
downloads, and refusing bad input with nothing stored.

Personas (tests/conftest.py): anonymous; other_team (Legal); owner (HR, the team owning the
termination evidence); security; leadership; auditor (refused: evidence reaches auditors through an audit).
"""

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evidence import services
from evidence.models import (
    Evidence,
    EvidenceFile,
    EvidenceRequest,
    EvidenceStatus,
    EvidenceTemplate,
    RequestStatus,
)
from soc2hub.models import ActivityLog
from tests.factories import ControlFactory, member_of

PERSONAS = ["anonymous", "other_team", "owner", "security", "leadership", "auditor"]
# Refused outright: nobody signed in, and the external auditor, who reaches evidence only
# through an audit's portal (tests/audits/).
REFUSED = {"anonymous", "auditor"}
# Who sees HR's requests and evidence: the owning team, Security and Leadership.
SEES_HR = {"owner", "security", "leadership"}

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CSV = b"employee,left_on,access_removed_on\nA. Person,2026-02-03,2026-02-03\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64 + b"This program cannot be run"


@pytest.fixture
def world(personas, teams):
    """Quarterly evidence for HR and Legal, each with its Q1 2026 request opened by the daily job."""
    security = personas["security"]
    hr_control = ControlFactory(ref="HR-01", name="Leaver access removal", evidence_owner=teams["hr"])
    legal_control = ControlFactory(ref="LEG-01", name="Contract commitments", evidence_owner=teams["legal"])
    hr_template = services.template_create(
        actor=security, control=hr_control, title="Termination evidence",
        instructions="Export leavers from the HR system with the date access was removed.",
        acceptance_criteria="Every leaver in the quarter, access removed within one day.",
        cadence="quarterly", starts_on=dt.date(2026, 1, 1),
    )
    legal_template = services.template_create(
        actor=security, control=legal_control, title="Contract commitments register",
        instructions="The register of customer commitments.", acceptance_criteria="Complete and current.",
        cadence="quarterly", starts_on=dt.date(2026, 1, 1),
    )
    services.requests_open_due(as_of=dt.date(2026, 4, 1))
    return {
        "hr_control": hr_control,
        "hr_template": hr_template,
        "legal_template": legal_template,
        "hr_request": EvidenceRequest.objects.get(template=hr_template),
        "legal_request": EvidenceRequest.objects.get(template=legal_template),
    }


def media_files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def stored() -> tuple:
    """Everything an upload could leave behind."""
    return (Evidence.objects.count(), EvidenceFile.objects.count(), len(media_files()),
            list(EvidenceRequest.objects.order_by("pk").values_list("status", flat=True)))


def upload(client, request_id, *files, note="", link=""):
    data = {"request": request_id, "note": note, "link": link}
    if files:
        data["files"] = list(files)
    return client.post("/api/v1/evidence/", data)  # the test client sends multipart


def hr_submits(personas, client_for, world, *files) -> Evidence:
    files = files or (SimpleUploadedFile("leavers-q1.pdf", PDF, content_type="application/pdf"),)
    response = upload(client_for(personas["owner"]), world["hr_request"].pk, *files, note="Q1 leavers")
    assert response.status_code == 201, response.content
    return Evidence.objects.get(pk=response.json()["id"])


def post_json(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def download_bytes(response) -> bytes:
    return b"".join(response.streaming_content)


# --- reading: the permission matrix ----------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_list_shows_only_what_the_persona_may_see(persona, personas, world, client_for):
    response = client_for(personas[persona]).get("/api/v1/evidence-requests/")
    if persona in REFUSED:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    teams = sorted(r["owner_team"] for r in response.json()["results"])
    expected = {"other_team": ["legal"], "owner": ["hr"], "security": ["hr", "legal"],
                "leadership": ["hr", "legal"], "auditor": []}[persona]
    assert teams == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_detail_matrix(persona, personas, world, client_for):
    response = client_for(personas[persona]).get(f"/api/v1/evidence-requests/{world['hr_request'].pk}/")
    expected = 403 if persona in REFUSED else 200 if persona in SEES_HR else 404
    assert response.status_code == expected


def test_request_shape(personas, world, client_for):
    hr_submits(personas, client_for, world)
    body = client_for(personas["owner"]).get(f"/api/v1/evidence-requests/{world['hr_request'].pk}/").json()
    request = EvidenceRequest.objects.get(pk=world["hr_request"].pk)
    latest = Evidence.objects.get(request=request)
    assert body == {
        "id": request.pk,
        "title": "Termination evidence",
        "template": world["hr_template"].pk,
        "control": "HR-01",
        "owner_team": "hr",
        "cadence": "quarterly",
        "instructions": world["hr_template"].instructions,
        "acceptance_criteria": world["hr_template"].acceptance_criteria,
        "period_label": "2026-Q1",
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        "opens_on": "2026-03-31",
        "due_on": "2026-04-14",
        "status": "submitted",
        "is_overdue": False,
        "submissions": {"count": 1, "pending": 1, "latest_id": latest.pk, "latest_status": "pending",
                        "latest_submitted_at": body["submissions"]["latest_submitted_at"]},
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert body["submissions"]["latest_submitted_at"] is not None


def test_request_filters(personas, teams, world, client_for):
    security = client_for(personas["security"])
    EvidenceRequest.objects.filter(pk=world["legal_request"].pk).update(due_on=timezone.localdate() - dt.timedelta(days=3))
    EvidenceRequest.objects.filter(pk=world["hr_request"].pk).update(due_on=timezone.localdate() + dt.timedelta(days=3))

    def ids(**params):
        response = security.get("/api/v1/evidence-requests/", params)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    hr, legal = world["hr_request"].pk, world["legal_request"].pk
    assert ids(team="hr") == [hr]
    assert ids(control="LEG-01") == [legal]
    assert ids(period="2026-Q1", ordering="-due_on") == [hr, legal]
    assert ids(status="open") == [legal, hr]
    assert ids(status="approved") == []
    assert ids(state="overdue") == [legal]
    assert ids(state="due_soon") == [hr]
    # A filter never widens what the person may see.
    assert client_for(personas["owner"]).get("/api/v1/evidence-requests/", {"team": "legal"}).json()["count"] == 0
    assert security.get("/api/v1/evidence-requests/", {"team": "no-such-team"}).status_code == 400


@pytest.mark.parametrize("persona", PERSONAS)
def test_evidence_list_and_detail_matrix(persona, personas, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    client = client_for(personas[persona])
    listed = client.get("/api/v1/evidence/")
    detail = client.get(f"/api/v1/evidence/{evidence.pk}/")
    if persona in REFUSED:
        assert (listed.status_code, detail.status_code) == (403, 403)
        return
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["results"]] == ([evidence.pk] if persona in SEES_HR else [])
    assert detail.status_code == (200 if persona in SEES_HR else 404)


@pytest.mark.parametrize("persona", PERSONAS)
def test_templates_are_read_by_everyone_signed_in(persona, personas, world, client_for):
    client = client_for(personas[persona])
    listed = client.get("/api/v1/evidence-templates/")
    detail = client.get(f"/api/v1/evidence-templates/{world['hr_template'].pk}/")
    if persona in REFUSED:
        assert (listed.status_code, detail.status_code) == (403, 403)
        return
    assert [t["control"] for t in listed.json()["results"]] == ["HR-01", "LEG-01"]
    assert detail.json()["owner_team"] == "hr"
    assert detail.json()["reviewer_group"] == "Security"
    assert client.get("/api/v1/evidence-templates/", {"team": "legal"}).json()["count"] == 1


# --- templates: written by Security through the services -------------------------------------


TEMPLATE = {"control": "HR-01", "title": "Joiner evidence", "instructions": "Joiners and their access.",
            "acceptance_criteria": "Every joiner.", "cadence": "monthly", "starts_on": "2026-01-01"}


def test_security_creates_a_template_defaulting_to_the_controls_evidence_owner(personas, world, client_for):
    response = post_json(client_for(personas["security"]), "/api/v1/evidence-templates/", TEMPLATE)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["control"], body["owner_team"], body["reviewer_group"]) == ("HR-01", "hr", "Security")
    template = EvidenceTemplate.objects.get(pk=body["id"])
    assert template.created_by == personas["security"]
    assert ActivityLog.objects.filter(verb="evidence_template.created", object_id=str(template.pk)).count() == 1


@pytest.mark.parametrize("persona", ["anonymous", "other_team", "owner", "leadership", "auditor"])
def test_only_security_writes_templates(persona, personas, world, client_for):
    client = client_for(personas[persona])
    before = list(EvidenceTemplate.objects.values_list("pk", "title", "owner_team"))
    assert post_json(client, "/api/v1/evidence-templates/", TEMPLATE).status_code == 403
    response = client.patch(f"/api/v1/evidence-templates/{world['hr_template'].pk}/", json.dumps({"title": "X"}),
                            content_type="application/json")
    assert response.status_code == 403
    assert list(EvidenceTemplate.objects.values_list("pk", "title", "owner_team")) == before


def test_security_patches_a_template(personas, teams, world, client_for):
    url = f"/api/v1/evidence-templates/{world['hr_template'].pk}/"
    client = client_for(personas["security"])
    response = client.patch(url, json.dumps({"owner_team": "legal", "due_days_after_period_end": 21}),
                            content_type="application/json")
    assert response.status_code == 200, response.content
    assert (response.json()["owner_team"], response.json()["due_days_after_period_end"]) == ("legal", 21)
    log = ActivityLog.objects.get(verb="evidence_template.changed")
    assert log.after == {"owner_team": teams["legal"].pk, "due_days_after_period_end": 21}
    assert client.put(url, json.dumps(TEMPLATE), content_type="application/json").status_code == 405


@pytest.mark.parametrize("change, field", [
    ({"control": "NOPE-99"}, "control"),
    ({"owner_team": "no-such-team"}, "owner_team"),
    ({"reviewer_group": "Nobody"}, "reviewer_group"),
    ({"opens_days_after_period_end": 30, "due_days_after_period_end": 10}, "due_days_after_period_end"),
    ({"cadence": "one_off"}, "one_off_period_end"),
])
def test_bad_template_is_refused_with_the_field_named(change, field, personas, world, client_for):
    count = EvidenceTemplate.objects.count()
    response = post_json(client_for(personas["security"]), "/api/v1/evidence-templates/", {**TEMPLATE, **change})
    assert response.status_code == 400
    assert field in response.json()
    assert EvidenceTemplate.objects.count() == count


# --- uploads -------------------------------------------------------------------------------


def test_owner_uploads_two_files(personas, world, client_for):
    pdf = SimpleUploadedFile("leavers-q1.pdf", PDF, content_type="text/plain")  # the client's claim is ignored
    csv = SimpleUploadedFile("leavers-q1.csv", CSV, content_type="application/octet-stream")
    response = upload(client_for(personas["owner"]), world["hr_request"].pk, pdf, csv, note="Q1 leavers",
                      link="https://hr.example.com/reports/leavers-q1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["submitted_by"], body["note"]) == ("pending", "harriet_hr", "Q1 leavers")
    assert [(f["name"], f["size"], f["sha256"], f["content_type"], f["uploaded_by"]) for f in body["files"]] == [
        ("leavers-q1.pdf", len(PDF), hashlib.sha256(PDF).hexdigest(), "application/pdf", "harriet_hr"),
        ("leavers-q1.csv", len(CSV), hashlib.sha256(CSV).hexdigest(), "text/csv", "harriet_hr"),
    ]
    for f in body["files"]:
        assert f["download_url"] == f"http://testserver/api/v1/evidence-files/{f['id']}/download/"

    media = Path(settings.MEDIA_ROOT).resolve()
    records = list(EvidenceFile.objects.order_by("pk"))
    assert [Path(r.file.path).read_bytes() for r in records] == [PDF, CSV]
    assert all(Path(r.file.path).resolve().is_relative_to(media) for r in records)
    assert [(r.sha256, r.content_type) for r in records] == [
        (hashlib.sha256(PDF).hexdigest(), "application/pdf"), (hashlib.sha256(CSV).hexdigest(), "text/csv"),
    ]
    assert len(media_files()) == 2
    assert EvidenceRequest.objects.get(pk=world["hr_request"].pk).status == RequestStatus.SUBMITTED
    assert ActivityLog.objects.filter(verb="evidence.submitted", object_id=str(world["hr_request"].pk)).count() == 1


def test_a_link_alone_is_evidence(personas, world, client_for):
    response = post_json(client_for(personas["owner"]), "/api/v1/evidence/",
                         {"request": world["hr_request"].pk, "link": "https://hr.example.com/r/1"})
    assert response.status_code == 201, response.content
    assert (response.json()["files"], response.json()["link"]) == ([], "https://hr.example.com/r/1")


def test_other_team_cannot_upload_to_hrs_request(personas, world, client_for):
    """Legal cannot see HR's request, so to Legal it does not exist: the same answer as a
    made-up id, and nothing is stored."""
    before = stored()
    response = upload(client_for(personas["other_team"]), world["hr_request"].pk,
                      SimpleUploadedFile("x.pdf", PDF))
    assert response.status_code == 400
    assert response.json() == {"request": [f"No evidence request with id {world['hr_request'].pk}."]}
    assert stored() == before


def test_security_sees_but_cannot_submit_for_hr(personas, world, client_for):
    before = stored()
    response = upload(client_for(personas["security"]), world["hr_request"].pk, SimpleUploadedFile("x.pdf", PDF))
    assert response.status_code == 403
    assert "Only members of the team that owns this request" in response.json()["detail"]
    assert stored() == before


def test_unknown_request_id(personas, world, client_for):
    before = stored()
    response = upload(client_for(personas["owner"]), 999_999, SimpleUploadedFile("x.pdf", PDF))
    assert response.status_code == 400
    assert response.json() == {"request": ["No evidence request with id 999999."]}
    assert stored() == before


@pytest.mark.parametrize("files, message", [
    ([("setup.pdf", EXE)], "“setup.pdf” looks like application/x-msdownload, not a .pdf file."),
    ([("empty.pdf", b"")], "“empty.pdf” is empty."),
    ([("ok.pdf", PDF), ("setup.pdf", EXE)], "“setup.pdf” looks like application/x-msdownload, not a .pdf file."),
    ([("tool.exe", EXE)], ".exe is not accepted"),
    ([], "Attach at least one file or give a link"),
])
def test_bad_upload_is_refused_and_nothing_stored(files, message, personas, world, client_for):
    before = stored()
    uploads = [SimpleUploadedFile(name, content, content_type="application/pdf") for name, content in files]
    response = upload(client_for(personas["owner"]), world["hr_request"].pk, *uploads)
    assert response.status_code == 400
    errors = response.json()["non_field_errors"]
    assert any(message in e for e in errors), errors
    assert stored() == before


def test_file_over_the_limit_is_refused_while_it_streams_in(settings, personas, world, client_for):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 50
    before = stored()
    response = upload(client_for(personas["owner"]), world["hr_request"].pk,
                      SimpleUploadedFile("small.csv", b"a,b\n"), SimpleUploadedFile("big.pdf", PDF))
    assert response.status_code == 413
    assert response.json() == {"detail": "“big.pdf” is over the 50 bytes limit; nothing was stored."}
    assert stored() == before


def test_the_service_checks_the_limit_too(settings, personas, world, client_for):
    """Without the streaming handler (another deployment's settings), the service still refuses."""
    settings.FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 50
    before = stored()
    response = upload(client_for(personas["owner"]), world["hr_request"].pk, SimpleUploadedFile("big.pdf", PDF))
    assert response.status_code == 400
    assert "limit" in response.json()["non_field_errors"][0]
    assert stored() == before


def _raw_multipart(request_id: int, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body with the filename exactly as given (the test client strips paths)."""
    boundary = "----soc2hubBoundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{request_id}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{filename}\"\r\n"
        f"Content-Type: text/plain\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("hostile, safe", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
    ("/etc/cron.d/evil.txt", "evil.txt"),
    ("re\tport\x1b.txt", "report.txt"),
])
def test_hostile_filename_is_stored_as_a_safe_basename(hostile, safe, personas, world, client_for):
    body, content_type = _raw_multipart(world["hr_request"].pk, hostile, b"plain text\n")
    response = client_for(personas["owner"]).generic("POST", "/api/v1/evidence/", body, content_type=content_type)
    assert response.status_code == 201, response.content
    record = EvidenceFile.objects.get()
    assert record.original_name == safe
    assert response.json()["files"][0]["name"] == safe
    path = Path(record.file.path).resolve()
    assert path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert path.name == safe
    assert media_files() == [Path(record.file.path)]


def test_there_is_no_edit_or_delete(personas, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    client = client_for(personas["security"])
    url = f"/api/v1/evidence/{evidence.pk}/"
    assert client.patch(url, json.dumps({"note": "x"}), content_type="application/json").status_code == 405
    assert client.put(url, json.dumps({"note": "x"}), content_type="application/json").status_code == 405
    assert client.delete(url).status_code == 405
    assert Evidence.objects.get(pk=evidence.pk).note == "Q1 leavers"


# --- review --------------------------------------------------------------------------------


def test_security_approves(personas, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    response = post_json(client_for(personas["security"]), f"/api/v1/evidence/{evidence.pk}/approve/")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["reviewed_by"]) == ("approved", "sam_security")
    assert EvidenceRequest.objects.get(pk=world["hr_request"].pk).status == RequestStatus.APPROVED
    assert ActivityLog.objects.filter(verb="evidence.approved").count() == 1


def test_approving_twice_is_refused(personas, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    security = client_for(personas["security"])
    assert post_json(security, f"/api/v1/evidence/{evidence.pk}/approve/").status_code == 200
    again = post_json(security, f"/api/v1/evidence/{evidence.pk}/approve/")
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": ["This evidence is already approved."]}
    returned = post_json(security, f"/api/v1/evidence/{evidence.pk}/reject/", {"reason": "Too late"})
    assert returned.status_code == 400
    assert ActivityLog.objects.filter(verb="evidence.approved").count() == 1
    assert Evidence.objects.get(pk=evidence.pk).status == EvidenceStatus.APPROVED
    # An approved request takes no more evidence.
    before = stored()
    late = upload(client_for(personas["owner"]), world["hr_request"].pk, SimpleUploadedFile("late.pdf", PDF))
    assert late.status_code == 400
    assert late.json() == {"non_field_errors": [
        "This request is approved; evidence is accepted while it is open or returned."]}
    assert stored() == before


def test_the_uploader_cannot_review_their_own_evidence(security_in_hr, world, client_for):
    """Even a Security member, when they uploaded the file themselves."""
    both = security_in_hr
    response = upload(client_for(both), world["hr_request"].pk, SimpleUploadedFile("mine.pdf", PDF))
    assert response.status_code == 201
    evidence_id = response.json()["id"]
    for action, data in (("approve", {}), ("reject", {"reason": "No"})):
        refused = post_json(client_for(both), f"/api/v1/evidence/{evidence_id}/{action}/", data)
        assert refused.status_code == 403
    assert Evidence.objects.get(pk=evidence_id).status == EvidenceStatus.PENDING
    assert EvidenceRequest.objects.get(pk=world["hr_request"].pk).status == RequestStatus.SUBMITTED


@pytest.mark.parametrize("persona, expected", [
    ("anonymous", 403), ("other_team", 404), ("owner", 403), ("leadership", 403), ("auditor", 403),
])
def test_only_reviewers_review(persona, expected, personas, teams, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    colleague = member_of(teams["hr"], username="hank_hr")  # HR, did not upload, not a reviewer
    for user in (personas[persona], colleague) if persona == "owner" else (personas[persona],):
        client = client_for(user)
        assert post_json(client, f"/api/v1/evidence/{evidence.pk}/approve/").status_code == expected
        assert post_json(client, f"/api/v1/evidence/{evidence.pk}/reject/", {"reason": "x"}).status_code == expected
    assert Evidence.objects.get(pk=evidence.pk).status == EvidenceStatus.PENDING
    assert not ActivityLog.objects.filter(verb__in=["evidence.approved", "evidence.returned"]).exists()


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}])
def test_reject_needs_a_reason(data, personas, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    response = post_json(client_for(personas["security"]), f"/api/v1/evidence/{evidence.pk}/reject/", data)
    assert response.status_code == 400
    assert response.json() == {"reason": ["Give a reason, so the team knows what to fix."]}
    assert Evidence.objects.get(pk=evidence.pk).status == EvidenceStatus.PENDING


def test_reject_returns_the_request_and_the_team_submits_again(personas, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    response = post_json(client_for(personas["security"]), f"/api/v1/evidence/{evidence.pk}/reject/",
                         {"reason": "Covers January only."})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["review_reason"]) == ("returned", "Covers January only.")
    assert EvidenceRequest.objects.get(pk=world["hr_request"].pk).status == RequestStatus.RETURNED
    log = ActivityLog.objects.get(verb="evidence.returned")
    assert log.message == "Covers January only."
    again = hr_submits(personas, client_for, world)
    assert again.pk != evidence.pk
    summary = client_for(personas["owner"]).get(f"/api/v1/evidence-requests/{world['hr_request'].pk}/").json()
    assert summary["submissions"] == {**summary["submissions"], "count": 2, "pending": 1, "latest_id": again.pk}


# --- downloads -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_download_matrix(persona, personas, world, client_for):
    evidence = hr_submits(personas, client_for, world)
    evidence_file = evidence.files.get()
    response = client_for(personas[persona]).get(f"/api/v1/evidence-files/{evidence_file.pk}/download/")
    downloads = ActivityLog.objects.filter(verb="evidence.downloaded")
    if persona not in SEES_HR:
        assert response.status_code == (403 if persona in REFUSED else 404)
        assert not downloads.exists()
        return
    assert response.status_code == 200
    assert download_bytes(response) == PDF
    assert response["Content-Disposition"] == 'attachment; filename="leavers-q1.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    log = downloads.get()
    assert (log.actor, log.after["file"], log.after["sha256"]) == (
        personas[persona], evidence_file.pk, hashlib.sha256(PDF).hexdigest())


def test_download_url_in_the_listing_works(personas, world, client_for):
    hr_submits(personas, client_for, world)
    client = client_for(personas["security"])
    url = client.get("/api/v1/evidence/").json()["results"][0]["files"][0]["download_url"]
    assert download_bytes(client.get(url)) == PDF


def test_unknown_file_is_404(personas, world, client_for):
    assert client_for(personas["security"]).get("/api/v1/evidence-files/999999/download/").status_code == 404


# --- query counts ----------------------------------------------------------------------------


def _grow_requests(template: EvidenceTemplate, total: int, submitter) -> None:
    """Requests for ``total`` monthly periods of ``template``; every third has a submission."""
    start = EvidenceRequest.objects.filter(template=template).count()
    made = EvidenceRequest.objects.bulk_create([
        EvidenceRequest(
            template=template, control=template.control, owner_team=template.owner_team, title=template.title,
            period_start=dt.date(2000 + i // 12, i % 12 + 1, 1), period_end=dt.date(2000 + i // 12, i % 12 + 1, 28),
            period_label=f"{2000 + i // 12}-{i % 12 + 1:02d}", opens_on=dt.date(2000 + i // 12, i % 12 + 1, 28),
            due_on=dt.date(2000 + i // 12, i % 12 + 1, 28), status=RequestStatus.SUBMITTED if i % 3 else "open",
        )
        for i in range(start, total)
    ])
    Evidence.objects.bulk_create([Evidence(request=r, submitted_by=submitter) for r in made if r.status != "open"])


@pytest.mark.parametrize("persona", ["owner", "security"])
@pytest.mark.parametrize("url", ["/api/v1/evidence-requests/", "/api/v1/evidence-requests/?team=hr&state=overdue",
                                 "/api/v1/evidence/", "/api/v1/evidence-templates/"])
def test_lists_stay_flat_as_requests_grow(persona, url, personas, world, client_for):
    client = client_for(personas[persona])
    template = world["hr_template"]
    counts = []
    for total in (10, 200):
        _grow_requests(template, total, personas["owner"])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        assert response.json()["count"] > 0
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
