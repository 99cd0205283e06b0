"""What happens to an import's uploaded file. It is kept while the import may still be applied,
and after it was (the record of what was imported); every refusal removes it, once the state
that refuses it is committed, and an upload that cannot be recorded leaves nothing behind.

Files are real, under the test MEDIA_ROOT (tests/conftest.py); ``stored()`` lists them all.
"""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from nhi import imports
from nhi.models import ImportStatus, NhiImport, NonHumanIdentity
from soc2hub.jobs import run_daily_jobs
from soc2hub.models import ActivityLog
from tests.nhi.conftest import csv_bytes, identity_row

pytestmark = pytest.mark.usefixtures("fast_hashing")


def stored() -> list[str]:
    """Every file under MEDIA_ROOT, relative to it."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def clean_csv(*numbers) -> bytes:
    return csv_bytes([identity_row(n) for n in numbers or (1, 2)])


@pytest.fixture
def previewed(run_import, teams):
    """A clean preview, its file on disk."""
    imp = run_import(clean_csv())
    assert imp.status == ImportStatus.PREVIEWED and stored() == [imp.file.name]
    return imp


def assert_gone(imp: NhiImport, status: str) -> None:
    imp.refresh_from_db()
    assert imp.status == status, imp.message
    assert imp.file.name == "" and imp.sha256  # the hash of what was refused stays on record
    assert stored() == []
    assert not NonHumanIdentity.objects.exists()


# --- kept -----------------------------------------------------------------------------------------

def test_a_preview_keeps_its_file_under_a_name_of_its_own(previewed):
    assert previewed.original_name == "import.csv"
    assert previewed.file.name.startswith("nhi/imports/") and previewed.file.name.endswith("-import.csv")
    with previewed.file.open("rb") as handle:
        assert handle.read() == clean_csv()


def test_an_applied_import_keeps_its_file_as_the_record_of_what_was_imported(previewed, apply_import):
    imp = apply_import(previewed)
    assert imp.status == ImportStatus.APPLIED
    assert stored() == [imp.file.name]
    assert ActivityLog.objects.get(verb="nhi_import.applied").after["sha256"] == imp.sha256


# --- refused by the check --------------------------------------------------------------------------

@pytest.mark.parametrize("content, fmt", [
    (b"\xef\xbb\xbfgarbage;;;\n" + b"x" * 5000 + b"\n", "aws-credential-report"),  # not the format
    (b'{"items": [', "k8s-serviceaccounts"),  # truncated JSON
    (b"name,owner_team\nKey,hr\n", "csv"),  # header without the natural key
])
def test_a_file_the_check_cannot_read_is_removed(run_import, teams, content, fmt):
    imp = run_import(content, fmt)
    assert_gone(imp, ImportStatus.FAILED)


def test_too_many_rows_remove_the_file(settings, run_import, teams):
    settings.NHI_IMPORT_MAX_ROWS = 1
    imp = run_import(clean_csv(1, 2))
    assert_gone(imp, ImportStatus.FAILED)


def test_a_preview_with_row_errors_can_never_be_applied_so_its_file_goes(run_import, teams, personas):
    imp = run_import(csv_bytes([identity_row(1), identity_row(2, kind="rocket")]))
    assert_gone(imp, ImportStatus.PREVIEWED)
    assert imp.error_count == 1 and "The file has been removed" in imp.message
    with pytest.raises(ValidationError, match="fix the errors and upload again"):
        imports.import_apply(imp=imp, actor=personas["security"])


def test_a_file_holding_secrets_is_removed(run_import, teams):
    imp = run_import(csv_bytes([identity_row(1, credential_fingerprint="AKIAIOSFODNN7EXAMPLE")]))
    assert_gone(imp, ImportStatus.PREVIEWED)
    assert "deleted from soc2hub's storage" in imp.message


def test_a_dry_run_false_upload_with_errors_is_removed(run_import, teams):
    imp = run_import(csv_bytes([identity_row(1, kind="rocket")]), apply_when_clean=True)
    assert_gone(imp, ImportStatus.PREVIEWED)


def test_a_file_changed_after_upload_is_removed(previewed, django_capture_on_commit_callbacks):
    with open(previewed.file.path, "ab") as handle:
        handle.write(b"key-9,csv,Sneaked in,access_key,active,hr\n")
    NhiImport.objects.filter(pk=previewed.pk).update(status=ImportStatus.QUEUED)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_check(previewed.pk)
    assert_gone(previewed, ImportStatus.FAILED)


def test_a_check_that_crashes_removes_the_file(monkeypatch, run_import, teams):
    def crash(*args, **kwargs):
        raise RuntimeError("worker lost its disk")

    monkeypatch.setattr(imports, "_walk", crash)
    imp = run_import(clean_csv())
    assert_gone(imp, ImportStatus.FAILED)
    assert "stopped unexpectedly (RuntimeError)" in imp.message


# --- refused by the apply ----------------------------------------------------------------------------

def test_an_apply_that_fails_removes_the_file(monkeypatch, previewed, apply_import):
    def failing_write(outcomes):
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "_write", failing_write)
    imp = apply_import(previewed)
    assert_gone(imp, ImportStatus.FAILED)
    assert "everything was rolled back" in imp.message


def test_an_apply_whose_file_no_longer_checks_removes_it(previewed, apply_import, teams):
    teams["hr"].nhis.all().delete()
    NhiImport.objects.filter(pk=previewed.pk).update(default_team=None)
    teams["hr"].slug = "people"
    teams["hr"].save()  # the file's owner_team "hr" is gone between the preview and the apply
    imp = apply_import(previewed)
    assert_gone(imp, ImportStatus.FAILED)
    assert imp.message.startswith("The file no longer checks cleanly")


# --- discarded ---------------------------------------------------------------------------------

def test_security_discards_a_preview(previewed, personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        imp = imports.import_discard(imp=previewed, actor=personas["security"])
    assert_gone(imp, ImportStatus.DISCARDED)
    assert ActivityLog.objects.get(verb="nhi_import.discarded").actor == personas["security"]
    with pytest.raises(ValidationError, match="already discarded"):
        imports.import_discard(imp=imp, actor=personas["security"])
    with pytest.raises(ValidationError, match="was discarded and its file removed"):
        imports.import_apply(imp=imp, actor=personas["security"])


@pytest.mark.parametrize("persona", ["owner", "other_team", "leadership", "auditor"])
def test_only_security_discards(previewed, personas, persona):
    with pytest.raises(PermissionDenied):
        imports.import_discard(imp=previewed, actor=personas[persona])
    previewed.refresh_from_db()
    assert previewed.status == ImportStatus.PREVIEWED and stored() == [previewed.file.name]


@pytest.mark.parametrize("status", [ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.APPLYING,
                                    ImportStatus.APPLIED])
def test_only_a_preview_is_discarded(previewed, personas, status):
    NhiImport.objects.filter(pk=previewed.pk).update(status=status)
    with pytest.raises(ValidationError):
        imports.import_discard(imp=previewed, actor=personas["security"])
    assert stored() == [previewed.file.name]


def test_discard_from_the_page(previewed, personas, client_for, django_capture_on_commit_callbacks):
    client = client_for(personas["security"])
    assert b'data-testid="import-discard"' in client.get(previewed.get_absolute_url()).content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/nhi/imports/{previewed.pk}/discard/", follow=True)
    assert response.status_code == 200 and b'data-testid="import-discarded"' in response.content
    assert_gone(previewed, ImportStatus.DISCARDED)


def test_discard_through_the_api(previewed, personas, client_for, django_capture_on_commit_callbacks):
    refused = client_for(personas["owner"]).post(f"/api/v1/nhi-imports/{previewed.pk}/discard/")
    assert refused.status_code == 403 and stored() == [previewed.file.name]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas["security"]).post(f"/api/v1/nhi-imports/{previewed.pk}/discard/")
    assert response.status_code == 200 and response.json()["status"] == "discarded"
    assert_gone(previewed, ImportStatus.DISCARDED)
    again = client_for(personas["security"]).post(f"/api/v1/nhi-imports/{previewed.pk}/discard/")
    assert again.status_code == 400


def test_the_daily_job_discards_previews_nobody_applied(run_import, apply_import, teams, settings,
                                                        django_capture_on_commit_callbacks):
    settings.NHI_IMPORT_PREVIEW_DAYS = 7
    forgotten = run_import(clean_csv(1))
    recent = run_import(clean_csv(2))
    applied = apply_import(run_import(clean_csv(3)))
    stuck = run_import(clean_csv(4))
    NhiImport.objects.filter(pk=stuck.pk).update(status=ImportStatus.RUNNING)
    long_ago = timezone.now() - dt.timedelta(days=8)
    NhiImport.objects.filter(pk__in=[forgotten.pk, applied.pk, stuck.pk]).update(created_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        result = run_daily_jobs(timezone.localdate(), only=["nhi.imports_expire"])["nhi.imports_expire"]
    assert (result["discarded"], result["failed"]) == (1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        again = run_daily_jobs(timezone.localdate(), only=["nhi.imports_expire"], force=True)["nhi.imports_expire"]
    assert (again["discarded"], again["failed"]) == (0, 0)

    statuses = dict(NhiImport.objects.values_list("pk", "status"))
    assert statuses == {forgotten.pk: ImportStatus.DISCARDED, recent.pk: ImportStatus.PREVIEWED,
                        applied.pk: ImportStatus.APPLIED, stuck.pk: ImportStatus.FAILED}
    recent.refresh_from_db()
    applied.refresh_from_db()
    assert stored() == sorted([recent.file.name, applied.file.name])
    assert "Not applied within 7 days" in NhiImport.objects.get(pk=forgotten.pk).message


# --- atomic with the state change ------------------------------------------------------------

def test_the_file_goes_only_if_the_refusal_commits(previewed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            imports._fail(previewed.pk, ImportStatus.PREVIEWED, "refused")
            raise RuntimeError("the transaction that refused it rolled back")
    previewed.refresh_from_db()
    assert previewed.status == ImportStatus.PREVIEWED
    assert stored() == [previewed.file.name]


# --- uploads that are never recorded --------------------------------------------------------------

def test_a_row_that_cannot_be_written_leaves_no_file(monkeypatch, personas, teams):
    def broken_log(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(imports, "activity_record", broken_log)
    with pytest.raises(RuntimeError):
        imports.import_create(actor=personas["security"], format="csv",
                              upload=SimpleUploadedFile("keys.csv", clean_csv()))
    assert not NhiImport.objects.exists() and stored() == []


class HalfWrittenUpload(SimpleUploadedFile):
    """Reads whole for the checks, then fails half-way while storage writes it (a full disk)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passes = 0

    def chunks(self, chunk_size=None):
        self.passes += 1
        content = self.file.getvalue()
        for n, start in enumerate(range(0, len(content), 64)):
            if self.passes > 1 and n == 2:
                raise OSError(28, "No space left on device")
            yield content[start:start + 64]


def test_a_write_that_fails_half_way_leaves_no_partial_file(personas, teams):
    upload = HalfWrittenUpload("keys.csv", clean_csv(*range(1, 20)))
    with pytest.raises(OSError):
        imports.import_create(actor=personas["security"], format="csv", upload=upload)
    assert upload.passes == 2  # the storage really started writing it
    assert not NhiImport.objects.exists() and stored() == []


@pytest.mark.parametrize("url, refused_status", [("/nhi/imports/new/", 400), ("/api/v1/nhi-imports/", 413)])
def test_an_upload_over_the_limit_is_stopped_and_nothing_stays_on_disk(settings, tmp_path, personas, client_for,
                                                                        url, refused_status):
    settings.NHI_IMPORT_MAX_BYTES = 10_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100  # stream to a temporary file, as a large upload does
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()

    response = client_for(personas["security"]).post(url, {
        "format": "csv", "file": SimpleUploadedFile("big.csv", b"x," * 20_000, content_type="text/csv")})

    assert response.status_code == refused_status
    assert not NhiImport.objects.exists() and stored() == []
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()) == []


@pytest.mark.parametrize("url", ["/nhi/imports/new/", "/api/v1/nhi-imports/"])
def test_garbage_under_the_limit_is_stored_then_removed_when_the_check_fails(personas, teams, client_for, url,
                                                                             django_capture_on_commit_callbacks):
    garbage = b"\xef\xbb\xbf" + b"lorem ipsum;" * 5_000 + b"\n"  # the 104 MB CSV of the report, in small
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas["security"]).post(url, {
            "format": "aws-credential-report", "default_environment": "production",
            "file": SimpleUploadedFile("garbage.csv", garbage)})
    assert response.status_code in (201, 302), response.content
    assert_gone(NhiImport.objects.get(), ImportStatus.FAILED)
