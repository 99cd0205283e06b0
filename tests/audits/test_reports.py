"""Audit reports, rendered for real: the four PDFs (pages counted, text extracted with pypdf and
cross-checked with poppler's pdftotext, each first page rendered to a PNG under
``test-artifacts/screenshots/`` for a person to look at), report jobs end to end through
``services.report_request`` and the eager Celery task, and the evidence package: its manifest
against its members, ``SHA256SUMS``, its scope, and a tampered file refusing the whole package.

On top of the audit estate (tests/audits/conftest.py), ``scene`` adds what the reports show:
CC6.1 owned by HR, CC7.2 owned by Security alone (flagged security-only), CC8.1 unowned (flagged
unassigned); ENG-01's February 2026 evidence (two files both named ``export.csv`` and a text
file); an auditor request about CC7.2 as a whole (PBC-1), answered and approved; an approved
exception raised in the window and one raised after it; and three non-human identities.
"""

import csv
import datetime as dt
import hashlib
import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from pypdf import PdfReader

from audits import reports, services
from audits.models import ReportJob, ReportKind, ReportStatus
from evidence.models import Cadence
from exceptions.models import ExceptionRecord, ExceptionStatus
from soc2hub.models import ActivityLog
from tests.audits.conftest import approve
from tests.evidence.factories import make_request, make_template, stored_files, upload
from tests.exceptions.factories import advance, make_exception
from tests.factories import CriterionFactory, Role, UserFactory, member_of
from tests.nhi.factories import make_nhi

pytestmark = pytest.mark.django_db

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
CSV = b"ticket,closed_on,approved_by\nCHG-1001,2026-02-03,sam\nCHG-1002,2026-02-17,sam\n"


# --- helpers ------------------------------------------------------------------------------------

def pdf_text(content: bytes) -> tuple[int, str]:
    assert content.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(content)).pages
    return len(pages), "\n".join(page.extract_text() for page in pages)


def pdftotext(content: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def flat(text: str) -> str:
    """Text without whitespace: a hash or a long title may wrap over lines."""
    return re.sub(r"\s+", "", text)


def first_page_png(content: bytes, name: str, tmp_path) -> Path:
    """Render page 1 with pdftoppm, for a person to look at (and for the test, to exist)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(content)
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(source),
                    str(SCREENSHOTS / name)], check=True)
    image = SCREENSHOTS / f"{name}.png"
    assert image.stat().st_size > 5_000  # a rendered page, not a blank one
    return image


def run_report(audit, actor, kind, capture) -> ReportJob:
    """Request a report the way the page does; the eager task runs on commit."""
    with capture(execute=True):
        job = services.report_request(audit=audit, actor=actor, kind=kind)
    job.refresh_from_db()
    return job


def stored_bytes(job: ReportJob) -> bytes:
    with job.file.open("rb") as handle:
        return handle.read()


def name_of(user) -> str:
    return user.get_full_name() or user.username


# --- the scene ----------------------------------------------------------------------------------

@pytest.fixture
def scene(estate, teams, personas):
    security, hr = personas["security"], teams["hr"]
    cc61, cc72 = estate["cc61"], estate["cc72"]
    cc61.business_owner = cc61.control_owner = cc61.evidence_owner = hr
    cc61.save()
    cc72.business_owner = cc72.control_owner = cc72.evidence_owner = teams["security"]
    cc72.save()
    cc81 = CriterionFactory(code="CC8.1", category="security", title="Change management")  # no owners

    engineer = member_of(teams["engineering"], username="ed_engineer", first_name="Ed", last_name="Engineer")
    template = make_template(teams["engineering"], control=estate["eng_control"], cadence=Cadence.MONTHLY,
                             starts_on=dt.date(2026, 1, 1), title="Production change approvals")
    february = make_request(template, due_on=dt.date(2026, 3, 14), period_start=dt.date(2026, 2, 1))
    approve(february, engineer, security, upload("export.csv", CSV), upload("export.csv", CSV + b"CHG-1003,,\n"),
            upload("notes.txt", b"Both exports cover February.\n"))

    pbc = services.audit_request_raise(
        audit=estate["audit_a"], actor=estate["auditor_a"], title="Monitoring alerts sample",
        description="Every high-severity alert in the window and its ticket.", criterion=cc72,
        due_on=timezone.localdate() + dt.timedelta(days=10))
    analyst = member_of(teams["security"], username="sid_soc", first_name="Sid", last_name="Analyst")
    # The Security team's own answer is reviewed by someone in the Security group outside that team.
    reviewer = UserFactory(username="ivy_reviewer", first_name="Ivy", last_name="Reviewer", roles=[Role.SECURITY])
    approve(pbc.evidence_request, analyst, reviewer,
            upload("alerts-h1-2026.csv", b"alert,ticket\nA-1,INC-7\n"))

    people = {**personas, "finance": member_of(teams["finance"], username="fran_finance", first_name="Fran",
                                                last_name="Finance")}
    in_window = make_exception(personas["owner"], hr, controls=[estate["hr_control"]], criteria=[cc61],
                               title="Contractor keeps HR system access")
    in_window = advance(in_window, ExceptionStatus.APPROVED, people)
    ExceptionRecord.objects.filter(pk=in_window.pk).update(created_at=timezone.make_aware(dt.datetime(2026, 3, 2)))
    after_window = make_exception(personas["owner"], hr, title="Raised after the window")
    advance(after_window, ExceptionStatus.SUBMITTED, people)

    make_nhi(hr, "payroll-export-key", created_on=dt.date(2025, 11, 1), last_rotated_on=dt.date(2026, 2, 1))
    make_nhi(teams["engineering"], "ci-deployer", kind="cicd_secret", created_on=dt.date(2025, 6, 1),
             revoked_on=dt.date(2026, 4, 1), status="revoked", has_admin_access=True)
    make_nhi(None, "legacy-sftp-key", kind="ssh_key", created_on=dt.date(2024, 1, 1), last_rotated_on=None)
    make_nhi(hr, "created-after-window", created_on=dt.date(2026, 9, 1))

    files = {ef.original_name: ef for ef in february.submissions.get().files.all()}
    return {**estate, "cc81": cc81, "engineer": engineer, "february": february, "pbc": pbc,
            "pbc_file": pbc.evidence_request.submissions.get().files.get(), "feb_files": files,
            "in_window": in_window, "after_window": after_window, "people": people, "security": security}


# --- the PDFs -----------------------------------------------------------------------------------

@pytest.mark.usefixtures("require_pdftools")
def test_the_ownership_matrix_lists_the_audits_criteria_with_owners_and_flags(scene, tmp_path):
    content = reports.ownership_matrix_pdf(scene["audit_a"], requested_by=scene["security"])
    first_page_png(content, "audit-ownership-matrix", tmp_path)  # for a person to look at

    pages, text = pdf_text(content)
    assert pages == 1
    poppler = pdftotext(content, tmp_path)
    for extracted in (text, poppler):
        assert "Ownership matrix" in extracted and "FY26 SOC 2 Type II" in extracted
        assert "Example & Co LLP" in extracted and "01 Jan 2026 – 30 Jun 2026" in extracted
        assert all(code in extracted for code in ("CC6.1", "CC7.2", "CC8.1", "HR-01", "ENG-01"))
        assert "P4.1" not in extracted and "PRV-01" not in extracted  # privacy is B's scope, not A's
    assert "Security-only" in text and "Unassigned" in text
    assert "3 criteria in scope" in text and "1 with an unassigned owner" in text and "1 security-only" in text
    assert f"for {name_of(scene['security'])}" in text
    rows = [re.sub(r"\s+", " ", line).strip() for line in poppler.splitlines()]
    assert "CC6.1 Criterion CC6.1 HR HR HR 1 —" in rows
    assert "CC7.2 Criterion CC7.2 Security Security Security 1 Security-only" in rows
    assert "CC8.1 Change management Unassigned Unassigned Unassigned 0 Unassigned" in rows


@pytest.mark.usefixtures("require_pdftools")
def test_the_evidence_index_lists_each_approved_file_in_the_window_with_its_hash_and_approver(scene, tmp_path):
    q1_file = scene["q1_file"]
    content = reports.evidence_index_pdf(scene["audit_a"], requested_by=scene["security"])
    first_page_png(content, "audit-evidence-index", tmp_path)  # for a person to look at

    pages, text = pdf_text(content)
    poppler = pdftotext(content, tmp_path)
    assert pages >= 1 and f"Page {pages} of {pages}" in text
    files = [q1_file, *scene["feb_files"].values(), scene["pbc_file"]]
    for extracted in (text, poppler):
        assert "Evidence index" in extracted and "5 approved evidence files" in extracted
        for ef in files:
            assert ef.original_name in extracted
            assert ef.sha256 in flat(extracted)
        assert "q1-2026-leavers.pdf" in extracted and "2026-Q1" in extracted and "2026-02" in extracted
        assert "PBC-1" in extracted
        # Outside the window (Q4 2025) and outside the scope (privacy): not listed.
        assert "q4-2025-leavers.pdf" not in extracted and "privacy-review.txt" not in extracted
    assert name_of(scene["security"]) in text  # the approver
    reviewed = timezone.localtime(q1_file.evidence.reviewed_at)
    assert f"{reviewed:%Y-%m-%d %H:%M}" in text
    # The criterion summary: CC6.1 is answered by HR-01, CC7.2 by ENG-01 and the PBC, CC8.1 by nothing.
    assert "HR-01 (1)" in text and "ENG-01 (3)" in text and "CC7.2 (1)" in text
    assert "No approved evidence in the window" in text


def test_a_long_evidence_index_is_laid_out_in_parts_and_numbered_as_one(scene, monkeypatch):
    monkeypatch.setattr(reports, "INDEX_PART_ROWS", 2)  # five files: parts of 2, 2 and 1
    steps = []

    content = reports.evidence_index_pdf(scene["audit_a"], on_progress=lambda *step: steps.append(step))

    reader = PdfReader(io.BytesIO(content))
    texts = [page.extract_text() for page in reader.pages]
    assert len(texts) == 3  # the summary and two files, then two files, then one
    assert [f"Page {n} of 3" in text for n, text in enumerate(texts, 1)] == [True] * 3
    assert all("soc2hub · FY26 SOC 2 Type II · Evidence index" in text for text in texts)
    assert "".join(texts).count("By criterion") == 1 and "".join(texts).count("5 approved evidence files") == 1
    names = [scene["q1_file"].original_name, "export.csv", "notes.txt", "alerts-h1-2026.csv"]
    assert all(name in "".join(texts) for name in names) and "".join(texts).count("export.csv") == 2
    assert steps == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


@pytest.mark.usefixtures("require_pdftools")
def test_the_exception_register_lists_what_was_in_force_during_the_window(scene, tmp_path):
    content = reports.exception_register_pdf(scene["audit_a"], requested_by=scene["security"])
    first_page_png(content, "audit-exception-register", tmp_path)  # for a person to look at

    pages, text = pdf_text(content)
    poppler = pdftotext(content, tmp_path)
    assert pages == 1
    exception = scene["in_window"]
    for extracted in (text, poppler):
        assert exception.reference in extracted
        assert scene["after_window"].reference not in extracted  # raised after the window ended
        assert "1 exception" in extracted and "HR-01" in extracted and "CC6.1" in extracted
    for signer in ("leadership", "finance"):
        assert name_of(scene["people"][signer]) in text
    assert "ContractorkeepsHRsystemaccess" in flat(text) and "Approved" in text


@pytest.mark.usefixtures("require_pdftools")
def test_the_nhi_summary_counts_the_inventory_as_of_the_window(scene, tmp_path):
    content = reports.nhi_summary_pdf(scene["audit_a"], requested_by=scene["security"])
    first_page_png(content, "audit-nhi-summary", tmp_path)  # for a person to look at

    pages, text = pdf_text(content)
    assert pages == 1
    lines = {re.sub(r"\s+", " ", line).strip() for line in pdftotext(content, tmp_path).splitlines()}
    # Three existed during the window (the fourth was created after it); one was revoked in it,
    # two were live at its end, one of them without an owner team.
    assert "Identities that existed during the window 3" in lines
    assert "Revoked in the window 1" in lines
    assert "Live identities 2" in lines
    assert "Without an owner team 1" in lines
    assert "CI/CD secret 1 1 1 1" in lines
    assert "NHI inventory summary" in text and "FY26 SOC 2 Type II" in text


@pytest.mark.usefixtures("require_pdftools")
def test_a_hostile_audit_name_stays_text_in_the_body_and_the_footer(scene, tmp_path):
    audit = scene["audit_a"]
    audit.name = 'Acme\'s "SOC 2" </style><h1>Injected</h1> \\ audit'
    audit.save()

    pages, text = pdf_text(reports.nhi_summary_pdf(audit))
    assert pages == 1
    assert text.count('Acme\'s "SOC 2" </style><h1>Injected</h1> \\ audit') == 2  # the header and the footer
    assert reports.report_filename(audit, "nhi_summary", dt.date(2026, 11, 26)) == \
        "acmes-soc-2-styleh1injectedh1-audit-nhi-summary-2026-11-26.pdf"


# --- report jobs --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [k for k in ReportKind.values if k != ReportKind.EVIDENCE_PACKAGE])
def test_a_requested_pdf_is_generated_stored_and_logged(scene, kind, django_capture_on_commit_callbacks):
    job = run_report(scene["audit_a"], scene["security"], kind, django_capture_on_commit_callbacks)

    assert job.status == ReportStatus.DONE, job.message
    today = timezone.localdate()
    name = f"fy26-soc-2-type-ii-{kind.replace('_', '-')}-{today:%Y-%m-%d}.pdf"
    assert job.file.name == f"reports/{today:%Y/%m}/{name}"
    content = stored_bytes(job)
    assert content.startswith(b"%PDF-")
    assert job.size == len(content) and job.sha256 == hashlib.sha256(content).hexdigest()
    assert job.progress_percent == 100 and job.progress_done == job.progress_total > 0
    assert job.started_at <= job.finished_at and job.message == ""
    generated = ActivityLog.objects.get(verb="report.generated")
    assert generated.object_id == str(job.pk) and generated.after["sha256"] == job.sha256


def test_running_the_task_again_does_nothing(scene, django_capture_on_commit_callbacks):
    job = run_report(scene["audit_a"], scene["security"], ReportKind.NHI_SUMMARY,
                     django_capture_on_commit_callbacks)
    before = (job.status, job.file.name, job.sha256, job.finished_at, ActivityLog.objects.count(), stored_files())

    reports.report_generate(job.pk)  # a redelivered task
    reports.report_generate(job.pk + 1000)  # a job that is gone

    job.refresh_from_db()
    assert (job.status, job.file.name, job.sha256, job.finished_at, ActivityLog.objects.count(),
            stored_files()) == before


def test_a_job_another_worker_claimed_is_left_alone(scene):
    job = ReportJob.objects.create(audit=scene["audit_a"], kind=ReportKind.EVIDENCE_INDEX,
                                   requested_by=scene["security"], status=ReportStatus.RUNNING)
    reports.report_generate(job.pk)
    job.refresh_from_db()
    assert job.status == ReportStatus.RUNNING and not job.file and job.started_at is None


def test_a_requester_who_may_no_longer_see_the_audit_gets_nothing(scene):
    job = ReportJob.objects.create(audit=scene["audit_a"], kind=ReportKind.EVIDENCE_INDEX,
                                   requested_by=scene["expired"])  # their access ended yesterday

    reports.report_generate(job.pk)

    job.refresh_from_db()
    assert job.status == ReportStatus.FAILED and job.message.startswith("Not generated: ")
    assert not job.file and not any(name.startswith("reports/") for name in stored_files())
    assert ActivityLog.objects.get(verb="report.failed").after["refused"] == "permission"


def test_progress_is_published_while_the_package_is_built(scene, monkeypatch, django_capture_on_commit_callbacks):
    seen = []
    write = reports._job_progress

    def spy(job_id):
        inner = write(job_id)

        def record(done, total):
            inner(done, total)
            seen.append(ReportJob.objects.values_list("progress_done", "progress_total").get(pk=job_id))
        return record

    monkeypatch.setattr(reports, "_job_progress", spy)
    job = run_report(scene["audit_a"], scene["security"], ReportKind.EVIDENCE_PACKAGE,
                     django_capture_on_commit_callbacks)

    total = 2 * 5 + len(reports.PDFS)  # five files verified, then copied, and four PDFs
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert job.status == ReportStatus.DONE and (job.progress_done, job.progress_total) == (total, total)


# --- the evidence package -----------------------------------------------------------------------

@pytest.fixture
def package(scene, django_capture_on_commit_callbacks):
    job = run_report(scene["audit_a"], scene["security"], ReportKind.EVIDENCE_PACKAGE,
                     django_capture_on_commit_callbacks)
    assert job.status == ReportStatus.DONE, job.message
    return job


def test_the_package_is_stored_with_its_hash(package):
    content = stored_bytes(package)
    assert package.file.name.endswith(f"fy26-soc-2-type-ii-evidence-package-{timezone.localdate():%Y-%m-%d}.zip")
    assert package.size == len(content) and package.sha256 == hashlib.sha256(content).hexdigest()
    assert zipfile.ZipFile(io.BytesIO(content)).testzip() is None


def test_the_manifest_matches_the_files_in_the_package(scene, package):
    archive = zipfile.ZipFile(io.BytesIO(stored_bytes(package)))
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    members = {name for name in archive.namelist() if name.startswith("evidence/")}

    assert {row["path"] for row in manifest} == members and len(manifest) == len(members) == 5
    for row in manifest:
        content = archive.read(row["path"])
        assert hashlib.sha256(content).hexdigest() == row["sha256"] and len(content) == int(row["size"])
    by_path = {row["path"]: row for row in manifest}
    q1, q1_file = scene["q1"], scene["q1_file"]
    q1_row = by_path[f"evidence/HR-01/2026-Q1/{q1.pk}-q1-2026-leavers.pdf"]
    assert q1_row == {
        "path": f"evidence/HR-01/2026-Q1/{q1.pk}-q1-2026-leavers.pdf", "sha256": q1_file.sha256,
        "size": str(q1_file.size), "request_id": str(q1.pk), "request_title": q1.title, "control": "HR-01",
        "criteria": "CC6.1", "period": "2026-Q1", "approved_by": name_of(scene["security"]),
        "approved_at": timezone.localtime(q1_file.evidence.reviewed_at).isoformat(),
    }
    # Two files named alike in one request both go in, the second renamed.
    february = scene["february"].pk
    assert {f"evidence/ENG-01/2026-02/{february}-export.csv", f"evidence/ENG-01/2026-02/{february}-export-2.csv",
            f"evidence/ENG-01/2026-02/{february}-notes.txt"} <= members
    # The auditor's request about CC7.2 as a whole goes under the criterion.
    pbc_request = scene["pbc"].evidence_request
    pbc_row = by_path[f"evidence/CC7.2/PBC-1/{pbc_request.pk}-alerts-h1-2026.csv"]
    assert pbc_row["control"] == "" and pbc_row["criteria"] == "CC7.2"


def test_the_package_leaves_out_files_outside_the_window_or_the_scope(scene, package):
    archive = zipfile.ZipFile(io.BytesIO(stored_bytes(package)))
    names = "\n".join(archive.namelist())
    for outside in (scene["before_file"], scene["legal_file"]):  # Q4 2025; privacy (audit B's scope)
        assert outside.original_name not in names
        assert f"/{outside.evidence.request_id}-" not in names


@pytest.mark.usefixtures("require_pdftools")
def test_sha256sums_checks_every_member_and_the_pdfs_are_in_it(package, tmp_path):
    archive = zipfile.ZipFile(io.BytesIO(stored_bytes(package)))
    sums = dict(reversed(line.split("  ", 1)) for line in archive.read("SHA256SUMS").decode().splitlines())
    assert set(sums) == set(archive.namelist()) - {"SHA256SUMS"}
    assert all(hashlib.sha256(archive.read(name)).hexdigest() == digest for name, digest in sums.items())
    for name in ("ownership-matrix", "evidence-index", "exception-register", "nhi-summary"):
        pages, text = pdf_text(archive.read(f"reports/{name}.pdf"))
        assert pages >= 1 and "FY26 SOC 2 Type II" in text
    if shutil.which("sha256sum"):  # the tool an auditor would run
        archive.extractall(tmp_path / "unpacked")
        check = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=tmp_path / "unpacked",
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.count(": OK") == len(sums)


def test_a_tampered_evidence_file_refuses_the_package_and_stores_nothing(scene,
                                                                         django_capture_on_commit_callbacks):
    q1_file = scene["q1_file"]
    on_disk = Path(settings.MEDIA_ROOT) / q1_file.file.name
    on_disk.write_bytes(on_disk.read_bytes() + b"% edited after approval\n")
    tampered = hashlib.sha256(on_disk.read_bytes()).hexdigest()
    files_before = stored_files()

    job = run_report(scene["audit_a"], scene["security"], ReportKind.EVIDENCE_PACKAGE,
                     django_capture_on_commit_callbacks)

    assert job.status == ReportStatus.FAILED and job.finished_at is not None
    assert "“q1-2026-leavers.pdf”" in job.message
    assert f"evidence request #{scene['q1'].pk}" in job.message and "2026-Q1" in job.message
    assert q1_file.sha256 in job.message and tampered in job.message
    assert "nothing was stored" in job.message
    assert not job.file and job.size == 0 and job.sha256 == ""
    assert stored_files() == files_before  # no package, no partial file
    refused = ActivityLog.objects.get(verb="report.failed")
    assert refused.object_id == str(job.pk) and refused.message == job.message
    assert refused.after["evidence_file"] == q1_file.pk and refused.after["actual_sha256"] == tampered
    assert refused.after["recorded_sha256"] == q1_file.sha256
    assert not ActivityLog.objects.filter(verb="report.generated").exists()


def test_a_file_changed_between_the_check_and_the_copy_is_caught_too(scene, monkeypatch):
    """The hash is checked again while copying: a file swapped after the first pass stops it."""
    verify = reports.verify_evidence_files

    def verify_then_tamper(files, progress):
        verify(files, progress)
        on_disk = Path(settings.MEDIA_ROOT) / scene["pbc_file"].file.name
        on_disk.write_bytes(b"swapped\n")

    monkeypatch.setattr(reports, "verify_evidence_files", verify_then_tamper)
    with pytest.raises(reports.PackageRefused) as refused, tempfile.TemporaryFile() as target:
        reports.write_evidence_package(scene["audit_a"], target)
    assert "“alerts-h1-2026.csv”" in refused.value.message
    assert hashlib.sha256(b"swapped\n").hexdigest() in refused.value.message


def test_a_missing_evidence_file_refuses_the_package(scene, django_capture_on_commit_callbacks):
    (Path(settings.MEDIA_ROOT) / scene["feb_files"]["notes.txt"].file.name).unlink()

    job = run_report(scene["audit_a"], scene["security"], ReportKind.EVIDENCE_PACKAGE,
                     django_capture_on_commit_callbacks)

    assert job.status == ReportStatus.FAILED
    assert "“notes.txt”" in job.message and "missing from storage" in job.message
    assert ActivityLog.objects.filter(verb="report.failed", object_id=str(job.pk)).exists()


def test_a_job_whose_worker_died_is_claimed_again_a_live_one_is_not(estate, personas):
    import datetime as dt

    from django.utils import timezone

    from audits.models import ReportJob, ReportStatus
    from audits.reports import report_generate

    job = ReportJob.objects.create(audit=estate["audit_a"], kind="nhi_summary", requested_by=personas["security"],
                                   status=ReportStatus.RUNNING, started_at=timezone.now(),
                                   heartbeat_at=timezone.now() - dt.timedelta(minutes=2))
    report_generate(job.pk)  # a duplicate delivery while the first worker still beats
    job.refresh_from_db()
    assert job.status == ReportStatus.RUNNING and not job.file
    ReportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=30))
    report_generate(job.pk)  # redelivered after the worker died
    job.refresh_from_db()
    assert job.status == ReportStatus.DONE and job.file
