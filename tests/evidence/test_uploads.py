"""Uploads and reviews with hostile input: a clear error, nothing stored, nothing changed.

"Nothing stored" means no new Evidence or EvidenceFile rows and no new file anywhere under
MEDIA_ROOT, even when the bad file is the second of three.
"""

import hashlib
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import TemporaryUploadedFile

from evidence import services
from evidence.models import (
    Evidence,
    EvidenceFile,
    EvidenceRequest,
    EvidenceStatus,
    ImmutableEvidenceError,
    RequestStatus,
)
from evidence.storage import inspect_upload, safe_filename, sha256_of_storage_file
from soc2hub.models import ActivityLog
from tests.concurrency import race
from tests.evidence.factories import (
    LINUX_ELF,
    MINIMAL_PDF,
    WINDOWS_EXE,
    docx_bytes,
    pdf,
    png_bytes,
    stored_files,
    submit,
    upload,
    xlsx_bytes,
    zip_bytes,
)
from tests.factories import Role, member_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- inspect_upload: what is accepted --------------------------------------------------------

@pytest.mark.parametrize("name, content, content_type", [
    ("leavers.pdf", MINIMAL_PDF, "application/pdf"),
    ("screenshot.png", png_bytes(), "image/png"),
    ("leavers.csv", "name,left_on\nAda,2026-03-02\nZoë,2026-03-30\n".encode(), "text/csv"),
    ("notes.txt", "Access removed within 24 h — see ticket HR-1234.\n".encode(), "text/plain"),
    ("export.json", b'{"leavers": 2}\n', "application/json"),
    ("leavers.xlsx", xlsx_bytes(), XLSX),
    ("checklist.docx", docx_bytes(), DOCX),
    ("bundle.zip", zip_bytes({"a.txt": "a"}), "application/zip"),
    ("LEAVERS.PDF", MINIMAL_PDF, "application/pdf"),  # stored as LEAVERS.pdf
])
def test_accepted_files(name, content, content_type):
    # The client claims every file is an executable: the type comes from the bytes.
    info = inspect_upload(upload(name, content, "application/x-msdownload"))
    assert info.content_type == content_type
    assert info.size == len(content)
    assert info.sha256 == hashlib.sha256(content).hexdigest()
    assert info.name == name.replace(".PDF", ".pdf")


# --- inspect_upload: what is refused, and why ------------------------------------------------

@pytest.mark.parametrize("name, content, message", [
    ("empty.pdf", b"", "“empty.pdf” is empty"),
    ("empty.txt", b"", "“empty.txt” is empty"),
    ("setup.pdf", WINDOWS_EXE, "“setup.pdf” looks like application/x-msdownload, not a .pdf file"),
    ("payload.pdf", LINUX_ELF, "“payload.pdf” looks like application/x-executable, not a .pdf file"),
    ("photo.pdf", png_bytes(), "“photo.pdf” looks like image/png, not a .pdf file"),
    ("random.pdf", b"just some text, not a PDF at all", "looks like unknown binary data, not a .pdf file"),
    ("report.png", MINIMAL_PDF, "looks like application/pdf, not a .png file"),
    ("leavers.csv", b"name,left_on\nAda,2026-03-02\x00\n", "“leavers.csv” contains binary data"),
    ("latin1.txt", "café crème\n".encode("latin-1"), "“latin1.txt” is not UTF-8 text"),
    ("cut.txt", "price: 10 €".encode()[:-1], "ends in the middle of a character"),
    ("setup.csv", WINDOWS_EXE, "“setup.csv”"),
    ("plain.xlsx", zip_bytes({"a.txt": "a", "[Content_Types].xml": "<Types/>"}), "is a ZIP archive but not a .xlsx"),
    ("plain.docx", zip_bytes({"a.txt": "a"}), "is a ZIP archive but not a .docx"),
    ("sheet.docx", xlsx_bytes(), "is a ZIP archive but not a .docx"),
    ("setup.xlsx", WINDOWS_EXE, "looks like application/x-msdownload, not a .xlsx file"),
    ("setup.exe", WINDOWS_EXE, ".exe is not accepted"),
    ("script.sh", b"#!/bin/sh\nrm -rf /\n", ".sh is not accepted"),
    ("page.html", b"<script>alert(1)</script>", ".html is not accepted"),
    ("README", b"hello", "files without an extension is not accepted"),
    ("...", MINIMAL_PDF, "file name is empty or unusable"),
    ("\x00\x01\x1f", MINIMAL_PDF, "file name is empty or unusable"),
])
def test_refused_files(name, content, message):
    with pytest.raises(ValidationError) as caught:
        inspect_upload(upload(name, content, "application/pdf"))
    assert message in " ".join(caught.value.messages)


@pytest.mark.parametrize("name, content", [
    ("health.csv", b"BMI,team\n21.5,HR\n"),
    ("remedy.txt", b"BMC Remedy export of leaver tickets\n"),
    ("tickets.csv", b"CWS ticket,closed_on\nCWS-1,2026-09-30\n"),
    ("tracks.csv", b"ID3,title\n1,Leavers\n"),
])
def test_plain_text_that_happens_to_start_like_a_binary_format_is_accepted(name, content):
    assert inspect_upload(upload(name, content)).size == len(content)


def test_over_the_limit_is_refused(settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1024
    inspect_upload(pdf(content=MINIMAL_PDF + b"%" * (1024 - len(MINIMAL_PDF))))  # exactly the limit is fine
    with pytest.raises(ValidationError, match="limit"):
        inspect_upload(pdf(content=MINIMAL_PDF + b"%" * 1024))


def test_a_file_that_lies_about_its_size_is_measured_while_read(settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1024
    liar = pdf(content=MINIMAL_PDF + b"%" * 4096)
    liar.size = 10
    with pytest.raises(ValidationError, match="over the 0 MB limit|over the .* limit"):
        inspect_upload(liar)


def test_allowed_types_come_from_settings(settings):
    settings.EVIDENCE_ALLOWED_TYPES = ["pdf"]
    with pytest.raises(ValidationError, match=r"\.zip is not accepted\. Accepted: \.pdf\."):
        inspect_upload(upload("bundle.zip", zip_bytes({"a.txt": "a"})))


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\win.ini.txt", "win.ini.txt"),
    ("/var/www/../secret.pdf", "secret.pdf"),
    ("C:\\Users\\hr\\leavers.pdf", "leavers.pdf"),
    ("leav\x00ers\r\n.pdf", "leavers.pdf"),
    ("evil\u202egpj.pdf", "evilgpj.pdf"),  # right-to-left override: shown as "evilfdp.jpg"
    ("  spaced   name .pdf", "spaced_name_.pdf"),
    (".hidden.pdf", "hidden.pdf"),
    ("Überprüfung 2026 Q1.pdf", "Überprüfung_2026_Q1.pdf"),
    ("ｌｅａｖｅｒｓ.pdf", "leavers.pdf"),  # full-width letters folded by NFKC
    ("quote\"s;<b>.pdf", "quotesb.pdf"),
    ("x" * 300 + ".PDF", "x" * 150 + ".pdf"),
])
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


@pytest.mark.parametrize("raw", ["", "...", "..", "/", "\\\\", "\x00", "\u202e", "   "])
def test_safe_filename_refuses_names_that_end_up_empty(raw):
    with pytest.raises(ValidationError, match="empty or unusable"):
        safe_filename(raw)


# --- evidence_submit: nothing stored when anything is wrong -------------------------------------

def snapshot():
    return {
        "evidence": list(Evidence.objects.values_list("pk", flat=True)),
        "files": list(EvidenceFile.objects.values_list("pk", flat=True)),
        "stored": stored_files(),
        "requests": list(EvidenceRequest.objects.values_list("pk", "status")),
        "log": ActivityLog.objects.count(),
    }


def test_a_good_submission_stores_each_file_with_its_facts(hr_request, personas):
    files = [pdf("leavers.pdf"), upload("leavers.xlsx", xlsx_bytes(), "text/plain"),
             upload("../../etc/passwd.txt", b"root:x:0:0\n")]
    evidence = submit(hr_request, personas["owner"], *files, note="  Q3 leavers  ")

    assert evidence.note == "Q3 leavers"
    assert evidence.status == EvidenceStatus.PENDING
    stored = list(evidence.files.order_by("pk"))
    assert [(f.original_name, f.content_type) for f in stored] == [
        ("leavers.pdf", "application/pdf"), ("leavers.xlsx", XLSX), ("passwd.txt", "text/plain")]
    root = Path(settings.MEDIA_ROOT).resolve()
    for record, sent in zip(stored, [MINIMAL_PDF, xlsx_bytes(), b"root:x:0:0\n"]):
        path = Path(record.file.path).resolve()
        assert path.is_relative_to(root / "evidence" / str(hr_request.pk))
        assert ".." not in Path(record.file.name).parts
        assert path.read_bytes() == sent
        assert record.size == len(sent)
        assert record.sha256 == hashlib.sha256(sent).hexdigest() == sha256_of_storage_file(record.file)
        assert record.uploaded_by == personas["owner"]
    assert len(stored_files()) == 3
    hr_request.refresh_from_db()
    assert hr_request.status == RequestStatus.SUBMITTED
    log = ActivityLog.objects.get(verb="evidence.submitted")
    assert [f["sha256"] for f in log.after["files"]] == [f.sha256 for f in stored]


def test_two_uploads_with_the_same_name_are_both_kept(hr_request, personas):
    evidence = submit(hr_request, personas["owner"], pdf("same.pdf"), pdf("same.pdf", MINIMAL_PDF + b"%2\n"))
    names = [f.file.name for f in evidence.files.all()]
    assert len(set(names)) == 2
    assert len(stored_files()) == 2


@pytest.mark.parametrize("bad", [
    upload("empty.pdf", b""),
    upload("setup.pdf", WINDOWS_EXE),
    upload("payload.pdf", LINUX_ELF),
    upload("photo.pdf", png_bytes()),
    upload("nul.csv", b"a,b\n\x00\n"),
    upload("latin1.txt", "café".encode("latin-1")),
    upload("plain.xlsx", zip_bytes({"a.txt": "a"})),
    upload("...", MINIMAL_PDF),
], ids=["empty", "exe", "elf", "png-as-pdf", "nul-csv", "latin1-txt", "zip-as-xlsx", "only-dots"])
def test_one_bad_file_of_three_stores_nothing(hr_request, personas, bad):
    before = snapshot()
    with pytest.raises(ValidationError):
        submit(hr_request, personas["owner"], pdf("first.pdf"), bad, upload("third.csv", b"a,b\n1,2\n"))
    assert snapshot() == before


def test_over_the_limit_stores_nothing(hr_request, personas, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 512
    before = snapshot()
    with pytest.raises(ValidationError, match="limit"):
        submit(hr_request, personas["owner"], pdf("small.pdf"), pdf("big.pdf", MINIMAL_PDF + b"%" * 1024))
    assert snapshot() == before


def test_a_failure_after_files_were_written_removes_them(hr_request, personas, monkeypatch):
    """Files are written before the request moves to submitted; if that fails, the stored
    files are deleted again along with the rolled-back rows."""
    def fail(*args, **kwargs):
        raise ValidationError("the request moved under us")

    monkeypatch.setattr(services, "_move_request", fail)
    before = snapshot()
    with pytest.raises(ValidationError, match="moved under us"):
        submit(hr_request, personas["owner"], pdf("a.pdf"), pdf("b.pdf"))
    assert snapshot() == before


def test_nothing_to_submit_is_refused(hr_request, personas):
    before = snapshot()
    with pytest.raises(ValidationError, match="at least one file"):
        submit(hr_request, personas["owner"], note="forgot the file", link="   ")
    assert snapshot() == before


def test_another_teams_request_is_refused_and_nothing_stored(hr_request, personas):
    before = snapshot()
    for person in ("other_team", "security", "leadership", "auditor"):
        with pytest.raises(PermissionDenied, match="Only members of the team"):
            submit(hr_request, personas[person], pdf())
    assert snapshot() == before


@pytest.mark.parametrize("status", [RequestStatus.SUBMITTED, RequestStatus.APPROVED])
def test_submitting_to_a_request_that_is_not_open_is_refused(hr_request, personas, status):
    EvidenceRequest.objects.filter(pk=hr_request.pk).update(status=status)
    before = snapshot()
    with pytest.raises(ValidationError, match=f"This request is {status.label.lower()}"):
        submit(hr_request, personas["owner"], pdf())
    assert snapshot() == before


def test_a_returned_request_takes_a_new_submission(hr_request, personas):
    first = submit(hr_request, personas["owner"], pdf())
    services.evidence_return(evidence=first, reviewer=personas["security"], reason="Covers Q2, not Q3.")
    second = submit(hr_request, personas["owner"], pdf("q3.pdf"))
    assert second.pk != first.pk
    assert EvidenceRequest.objects.get(pk=hr_request.pk).status == RequestStatus.SUBMITTED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_submits_once_and_stores_one_file(require_postgres, hr_request, personas):
    """Two submissions of the same request at once (a double click, or the page and the API):
    the request row is locked, the second sees it submitted and stores nothing."""
    outcomes = race(2, lambda n: submit(EvidenceRequest.objects.get(pk=hr_request.pk), personas["owner"],
                                        pdf(f"click-{n}.pdf")), expected=(ValidationError,))

    assert sorted(type(o).__name__ for o in outcomes) == ["Evidence", "ValidationError"]
    assert "This request is submitted" in str(next(o for o in outcomes if isinstance(o, ValidationError)))
    assert Evidence.objects.count() == 1 and EvidenceFile.objects.count() == 1
    assert len(stored_files()) == 1
    assert ActivityLog.objects.filter(verb="evidence.submitted").count() == 1


def test_a_large_upload_is_streamed_and_hashed(hr_request, personas):
    content = MINIMAL_PDF + os.urandom(5 * 1024 * 1024)
    big = TemporaryUploadedFile("big-export.pdf", "application/pdf", len(content), None)
    big.write(content)
    big.seek(0)
    try:
        evidence = submit(hr_request, personas["owner"], big)
    finally:
        big.close()
    record = evidence.files.get()
    assert record.size == len(content)
    assert record.sha256 == hashlib.sha256(content).hexdigest()
    assert sha256_of_storage_file(record.file) == record.sha256
    assert Path(record.file.path).stat().st_size == len(content)


# --- review: approval is final, and never by the uploader ---------------------------------------

@pytest.fixture
def approved(hr_request, personas):
    evidence = submit(hr_request, personas["owner"], pdf())
    return services.evidence_approve(evidence=evidence, reviewer=personas["security"])


def test_approving_moves_the_request_and_records_the_hashes(approved, hr_request, personas):
    approved.refresh_from_db()
    assert (approved.status, approved.reviewed_by) == (EvidenceStatus.APPROVED, personas["security"])
    assert EvidenceRequest.objects.get(pk=hr_request.pk).status == RequestStatus.APPROVED
    log = ActivityLog.objects.get(verb="evidence.approved")
    assert log.actor == personas["security"]
    assert log.after["hashes"] == [approved.files.get().sha256]


def test_approved_evidence_cannot_be_changed_or_deleted(approved):
    evidence = Evidence.objects.get(pk=approved.pk)
    evidence.note = "edited after approval"
    with pytest.raises(ImmutableEvidenceError):
        evidence.save()
    with pytest.raises(ImmutableEvidenceError):
        evidence.delete()
    evidence_file = evidence.files.get()
    evidence_file.original_name = "renamed.pdf"
    with pytest.raises(ImmutableEvidenceError):
        evidence_file.save()
    with pytest.raises(ImmutableEvidenceError):
        evidence_file.delete()
    fresh = Evidence.objects.get(pk=approved.pk)
    assert (fresh.note, fresh.status) == ("", EvidenceStatus.APPROVED)
    assert EvidenceFile.objects.get(pk=evidence_file.pk).original_name == "termination-tickets.pdf"
    assert Path(evidence_file.file.path).exists()


def test_uploaded_files_never_change_even_before_approval(hr_request, personas):
    record = submit(hr_request, personas["owner"], pdf()).files.get()
    with pytest.raises(ImmutableEvidenceError):
        record.save()
    with pytest.raises(ImmutableEvidenceError):
        record.delete()


def test_the_uploader_cannot_approve_their_own_evidence_even_in_security(hr_request, security_in_hr, personas):
    evidence = submit(hr_request, security_in_hr, pdf())
    for review in (lambda: services.evidence_approve(evidence=evidence, reviewer=security_in_hr),
                   lambda: services.evidence_return(evidence=evidence, reviewer=security_in_hr, reason="Mine")):
        with pytest.raises(PermissionDenied, match="You are in HR, the team that owns this evidence request; "
                                                   "someone independent must review it."):
            review()
    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.PENDING
    assert not ActivityLog.objects.filter(verb__in=["evidence.approved", "evidence_request.approved"]).exists()
    services.evidence_approve(evidence=evidence, reviewer=personas["security"])  # someone else may


@pytest.mark.parametrize("person", ["owner", "other_team", "leadership", "auditor"])
def test_only_the_reviewing_group_approves(hr_request, personas, person):
    evidence = submit(hr_request, personas["owner"], pdf())
    with pytest.raises(PermissionDenied):
        services.evidence_approve(evidence=evidence, reviewer=personas[person])
    assert Evidence.objects.get(pk=evidence.pk).status == EvidenceStatus.PENDING


def test_approving_twice_is_refused(approved, personas, teams):
    second_reviewer = member_of(teams["security"], username="sol_security", roles=[Role.SECURITY])
    log_before = ActivityLog.objects.count()
    for reviewer in (personas["security"], second_reviewer):
        with pytest.raises(ValidationError, match="already approved"):
            services.evidence_approve(evidence=approved, reviewer=reviewer)
        with pytest.raises(ValidationError, match="already approved"):
            services.evidence_return(evidence=approved, reviewer=reviewer, reason="Changed my mind")
    assert ActivityLog.objects.count() == log_before
    assert Evidence.objects.get(pk=approved.pk).reviewed_by == personas["security"]


@pytest.mark.parametrize("reason", ["", "   \n\t", None])
def test_returning_needs_a_reason(hr_request, personas, reason):
    evidence = submit(hr_request, personas["owner"], pdf())
    with pytest.raises(ValidationError) as caught:
        services.evidence_return(evidence=evidence, reviewer=personas["security"], reason=reason)
    assert caught.value.message_dict == {"reason": ["Say what is missing or wrong, so the team can fix it."]}
    assert Evidence.objects.get(pk=evidence.pk).status == EvidenceStatus.PENDING
    assert EvidenceRequest.objects.get(pk=hr_request.pk).status == RequestStatus.SUBMITTED


def test_returning_reopens_the_request_and_tells_the_team(hr_request, personas):
    evidence = submit(hr_request, personas["owner"], pdf())
    services.evidence_return(evidence=evidence, reviewer=personas["security"], reason="  Wrong quarter.  ")
    evidence.refresh_from_db()
    assert (evidence.status, evidence.review_reason) == (EvidenceStatus.RETURNED, "Wrong quarter.")
    assert EvidenceRequest.objects.get(pk=hr_request.pk).status == RequestStatus.RETURNED
    assert personas["owner"].notifications.filter(kind="evidence.returned").count() == 1
