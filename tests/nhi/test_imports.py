"""Imports end to end: upload, the dry run, apply. Nothing is written before apply; applying
is all or nothing, once, and importing the same file again changes nothing."""

import csv
import datetime as dt
import hashlib
import threading
import time
import tracemalloc

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from nhi import imports, tasks
from nhi.importers.csv_format import COLUMNS
from nhi.models import ImportStatus, NhiImport, NonHumanIdentity
from soc2hub.models import ActivityLog
from tests.factories import TeamFactory
from tests.nhi.conftest import csv_bytes, identity_row

pytestmark = pytest.mark.usefixtures("fast_hashing")

ARN = "arn:aws:iam::111122223333:user"


def logs(verb: str) -> list[ActivityLog]:
    return list(ActivityLog.objects.filter(verb=verb).order_by("pk"))


# --- upload and permission ---------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["anonymous", "owner", "other_team", "leadership", "auditor"])
def test_only_security_imports(personas, persona):
    with pytest.raises(PermissionDenied):
        imports.import_create(actor=personas[persona], format="csv",
                              upload=SimpleUploadedFile("a.csv", csv_bytes([identity_row(1)])))
    assert not NhiImport.objects.exists()


def test_only_security_applies(personas, run_import, teams):
    imp = run_import(csv_bytes([identity_row(1)]))
    with pytest.raises(PermissionDenied):
        imports.import_apply(imp=imp, actor=personas["owner"])
    imp.refresh_from_db()
    assert imp.status == ImportStatus.PREVIEWED and not NonHumanIdentity.objects.exists()


def test_upload_is_stored_with_its_sha256_and_logged(personas, teams, django_capture_on_commit_callbacks):
    content = csv_bytes([identity_row(1)])
    with django_capture_on_commit_callbacks() as callbacks:
        imp = imports.import_create(actor=personas["security"], format="csv", default_team=teams["hr"],
                                    default_environment="staging", upload=SimpleUploadedFile("../../Keys Q4.csv", content))
    assert len(callbacks) == 1  # the check is queued after commit
    assert imp.status == ImportStatus.QUEUED
    assert imp.sha256 == hashlib.sha256(content).hexdigest()
    assert imp.original_name == "Keys_Q4.csv"
    with imp.file.open("rb") as handle:
        assert handle.read() == content
    [entry] = logs("nhi_import.uploaded")
    assert entry.actor == personas["security"]
    assert entry.after["sha256"] == imp.sha256 and entry.after["default_team"] == "hr"
    assert imp.preview["options"] == {"default_environment": "staging"}


@pytest.mark.parametrize("kwargs, content, message", [
    ({"format": "xlsx"}, b"a,b\n", "Choose one of"),
    ({"default_environment": "moon"}, b"a,b\n", "Choose one of"),
    ({}, b"", "is empty"),
    ({}, b"%PDF-1.4\n\x00\x01\x02\xff\xfe", "not UTF-8 text"),
    ({}, b"external_id\x00,name\n", "binary data"),
])
def test_uploads_refused_before_anything_is_stored(personas, kwargs, content, message):
    kwargs = {"format": "csv", **kwargs}
    with pytest.raises(ValidationError, match=message):
        imports.import_create(actor=personas["security"], upload=SimpleUploadedFile("f.csv", content), **kwargs)
    assert not NhiImport.objects.exists() and not ActivityLog.objects.filter(verb__startswith="nhi_import").exists()


def test_upload_size_limit(settings, personas):
    settings.NHI_IMPORT_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="an import may be at most 100 bytes"):
        imports.import_create(actor=personas["security"], format="csv",
                              upload=SimpleUploadedFile("f.csv", b"x" * 101))


# --- the dry run ---------------------------------------------------------------------------------

def test_aws_sample_preview_writes_nothing_then_apply_writes_everything(run_import, apply_import, sample, teams,
                                                                       personas):
    imp = run_import(sample("aws-credential-report.csv"), "aws-credential-report", default_team=teams["engineering"])
    assert imp.status == ImportStatus.PREVIEWED, imp.message
    assert (imp.new_count, imp.updated_count, imp.unchanged_count, imp.error_count) == (5, 0, 0, 0)
    assert (imp.total_rows, imp.processed_rows) == (5, 5)
    assert imp.preview["skipped_count"] == 1
    assert imp.preview["skipped"][0]["external_id"] == "arn:aws:iam::111122223333:root"
    assert imp.preview["new"][0]["external_id"] == f"{ARN}/svc/svc-ci-deploy#access_key_1"
    assert "5 new, 0 updated, 0 unchanged, 1 skipped" in imp.message
    assert not NonHumanIdentity.objects.exists()

    imp = apply_import(imp)
    assert imp.status == ImportStatus.APPLIED and imp.applied_at is not None
    assert NonHumanIdentity.objects.count() == 5
    key = NonHumanIdentity.objects.get(external_id=f"{ARN}/alice.admin#access_key_1")
    assert key.source == "aws-credential-report" and key.owner_team == teams["engineering"]
    assert key.rotation_interval_days == 90
    assert key.rotation_due_on == dt.date(2026, 2, 1) + dt.timedelta(days=90)  # computed although bulk-written
    assert key.created_at is not None and key.environment == "production"
    [entry] = logs("nhi_import.applied")
    assert entry.actor == personas["security"]
    assert entry.after | {"changed_fields": None} == {
        "format": "aws-credential-report", "file": "import.csv", "sha256": imp.sha256, "new": 5, "updated": 0,
        "unchanged": 0, "skipped": 1, "changed_fields": None}
    assert not ActivityLog.objects.filter(verb="nhi.created").exists()  # one entry, not one per row


def test_importing_twice_changes_nothing(run_import, apply_import, sample, teams):
    first = apply_import(run_import(sample("aws-credential-report.csv"), "aws-credential-report",
                                    default_team=teams["engineering"]))
    before = {n.pk: (n.external_id, n.updated_at) for n in NonHumanIdentity.objects.all()}

    second = run_import(sample("aws-credential-report.csv"), "aws-credential-report", default_team=teams["hr"])
    assert (second.new_count, second.updated_count, second.unchanged_count) == (0, 0, 5)
    second = apply_import(second)
    assert second.status == ImportStatus.APPLIED and first.pk != second.pk
    assert {n.pk: (n.external_id, n.updated_at) for n in NonHumanIdentity.objects.all()} == before
    assert set(NonHumanIdentity.objects.values_list("owner_team__slug", flat=True)) == {"engineering"}
    assert [e.after["unchanged"] for e in logs("nhi_import.applied")] == [0, 5]


def test_a_newer_report_updates_only_what_changed(run_import, apply_import, sample, teams):
    apply_import(run_import(sample("aws-credential-report.csv"), "aws-credential-report",
                            default_team=teams["engineering"]))
    key = NonHumanIdentity.objects.get(external_id=f"{ARN}/svc/svc-ci-deploy#access_key_1")
    # People recorded what the report does not carry; a re-import must keep it.
    NonHumanIdentity.objects.filter(pk=key.pk).update(purpose="Deploys the web app", has_admin_access=True,
                                                      environment="staging", owner_team=teams["hr"],
                                                      owasp_tags=["NHI5:2025"])
    newer = sample("aws-credential-report.csv").replace(b"2026-11-20T14:02:11+00:00", b"2026-11-26T09:00:00+00:00")
    imp = run_import(newer, "aws-credential-report")
    assert (imp.new_count, imp.updated_count, imp.unchanged_count) == (0, 1, 4)
    [example] = imp.preview["updated"]
    assert example["changes"] == {"last_used_on": ["2026-11-20", "2026-11-26"]}
    assert imp.preview["changed_fields"] == {"last_used_on": 1}
    apply_import(imp)
    key.refresh_from_db()
    assert key.last_used_on == dt.date(2026, 11, 26)
    assert (key.purpose, key.has_admin_access, key.environment, key.owner_team, key.owasp_tags) == (
        "Deploys the web app", True, "staging", teams["hr"], ["NHI5:2025"])


def test_owner_team_rules(run_import, apply_import, teams, make_csv, row):
    apply_import(run_import(make_csv([row(1), row(2), row(3)])))
    NonHumanIdentity.objects.filter(external_id="key-3").update(owner_team=None)  # left orphaned
    imp = run_import(make_csv([row(1, owner_team=""), row(2, owner_team="legal"), row(3, owner_team="")]),
                     default_team=teams["engineering"])
    assert imp.preview["changed_fields"] == {"owner_team": 2}
    assert {e["external_id"]: e["changes"] for e in imp.preview["updated"]} == {
        "key-2": {"owner_team": ["hr", "legal"]}, "key-3": {"owner_team": [None, "engineering"]}}
    apply_import(imp)
    assert dict(NonHumanIdentity.objects.values_list("external_id", "owner_team__slug")) == {
        "key-1": "hr", "key-2": "legal", "key-3": "engineering"}


def test_an_update_recomputes_the_rotation_due_date(run_import, apply_import, teams, make_csv, row, personas):
    apply_import(run_import(make_csv([row(1, last_rotated_on="2025-01-01", rotation_interval_days="90")])))
    before = NonHumanIdentity.objects.get()
    assert before.rotation_due_on == dt.date(2025, 4, 1)
    imp = apply_import(run_import(make_csv([row(1, last_rotated_on="2025-06-01", rotation_interval_days="30",
                                                technical_owner="harriet_hr", scopes="a;b",
                                                owasp_tags="NHI7:2025")])))
    assert imp.preview["changed_fields"] == {"last_rotated_on": 1, "rotation_interval_days": 1,
                                             "technical_owner": 1, "scopes": 1, "owasp_tags": 1}
    after = NonHumanIdentity.objects.get()
    assert (after.last_rotated_on, after.rotation_interval_days, after.rotation_due_on) == (
        dt.date(2025, 6, 1), 30, dt.date(2025, 7, 1))
    assert (after.technical_owner, after.scopes, after.owasp_tags) == (personas["owner"], "a\nb", ["NHI7:2025"])
    assert after.updated_at > before.updated_at and after.created_at == before.created_at


def test_a_new_active_identity_needs_an_owner_team(run_import, teams, make_csv, row):
    imp = run_import(make_csv([row(1, owner_team=""), row(2, owner_team="", status="revoked")]))
    assert imp.error_count == 1
    assert imp.preview["errors"] == [{"line": 2, "external_id": "key-1", "message": (
        "owner_team: a new active identity needs an owner team; name one in the file or choose a default team "
        "for the import.")}]
    assert run_import(make_csv([row(1, owner_team="")]), default_team=teams["hr"]).error_count == 0


def test_a_new_identity_needs_a_provider(run_import, teams, make_csv, row):
    imp = run_import(make_csv([row(1, provider="")]))
    assert imp.preview["errors"][0]["message"].startswith("provider:")


def test_dates_are_checked_against_what_soc2hub_already_knows(run_import, apply_import, teams, make_csv):
    apply_import(run_import(make_csv([identity_row(1, created_on="2024-06-01", last_rotated_on="2024-06-01")])))
    only_rotation = ("external_id", "name", "kind", "owner_team", "last_rotated_on")
    imp = run_import(make_csv([identity_row(1, last_rotated_on="2024-01-01")], columns=only_rotation))
    [error] = imp.preview["errors"]
    assert error["message"].startswith("last_rotated_on: 2024-01-01 is before it was created (2024-06-01)")


def test_hostile_rows_are_reported_with_their_lines(run_import, teams, make_csv, row):
    imp = run_import(make_csv([row(1), row(2, owner_team="nope"), row(3, created_on="2999-01-01"), row(1),
                               row(4, last_rotated_on="2023-01-01")]))
    assert imp.status == ImportStatus.PREVIEWED
    assert (imp.new_count, imp.error_count) == (1, 4)
    assert [(e["line"], e["external_id"], e["message"].split(":")[0]) for e in imp.preview["errors"]] == [
        (3, "key-2", "owner_team"), (4, "key-3", "created_on"), (5, "key-1", "external_id"),
        (6, "key-4", "last_rotated_on")]
    assert "4 rows with errors: Fix the errors and upload again" in imp.message
    assert not NonHumanIdentity.objects.exists()


@pytest.mark.parametrize("fmt, content_of, message", [
    ("k8s-serviceaccounts", lambda s: s("k8s-serviceaccounts.json")[:300], "truncated"),
    ("k8s-serviceaccounts", lambda s: s("aws-credential-report.csv"), "looks like an AWS IAM credential report"),
    ("aws-credential-report", lambda s: s("k8s-serviceaccounts.json"), "not an AWS IAM credential report"),
    ("csv", lambda s: s("aws-credential-report.csv"), "looks like an AWS IAM credential report"),
])
def test_a_file_of_the_wrong_format_fails_with_a_clear_message(run_import, sample, fmt, content_of, message):
    imp = run_import(content_of(sample), fmt)
    assert imp.status == ImportStatus.FAILED
    assert message in imp.message
    assert not NonHumanIdentity.objects.exists()


def test_too_many_rows_fail_before_the_rows_are_checked(settings, run_import, teams, make_csv, row):
    settings.NHI_IMPORT_MAX_ROWS = 5
    imp = run_import(make_csv([row(n) for n in range(6)]))
    assert imp.status == ImportStatus.FAILED
    assert imp.message == "The file has 6 rows; one import takes at most 5. Split it into several files."


def test_a_file_holding_secrets_is_deleted(run_import, teams, make_csv, row):
    imp = run_import(make_csv([row(1), row(2, credential_fingerprint="AKIAIOSFODNN7EXAMPLE")]))
    assert imp.error_count == 1 and "deleted from soc2hub's storage" in imp.message
    assert imp.file.name == "" and imp.sha256
    assert "AKIAIOSFODNN7EXAMPLE" not in str(imp.preview) and "AKIAIOSFODNN7EXAMPLE" not in imp.message


def test_a_changed_file_is_refused(run_import, teams, make_csv, row, settings):
    imp = run_import(make_csv([row(1)]))
    with open(imp.file.path, "ab") as handle:
        handle.write(b"key-9,csv,Sneaked in,access_key,active,hr\n")
    imp.status = ImportStatus.QUEUED
    imp.save(update_fields=["status"])
    imp = imports.import_check(imp.pk)
    assert imp.status == ImportStatus.FAILED and "no longer matches the SHA-256" in imp.message


def test_the_check_can_run_again_harmlessly(run_import, teams, make_csv, row):
    imp = run_import(make_csv([row(1), row(2)]))
    preview = imp.preview
    assert imports.import_check(imp.pk).preview == preview  # finished: left as it is
    NhiImport.objects.filter(pk=imp.pk).update(status=ImportStatus.RUNNING, new_count=0)  # a live worker on it
    assert imports.import_check(imp.pk).status == ImportStatus.RUNNING  # a duplicate delivery leaves it be
    NhiImport.objects.filter(pk=imp.pk).update(heartbeat_at=None)  # its worker died before beating
    again = imports.import_check(imp.pk)
    assert (again.status, again.new_count, again.preview) == (ImportStatus.PREVIEWED, 2, preview)


def test_tasks_return_quietly_when_the_import_is_gone(db):
    assert tasks.import_check.delay(987654).get() is None
    assert tasks.import_apply.delay(987654, None).get() is None


def test_progress_moves_while_checking(monkeypatch, run_import, teams, make_csv, row):
    seen = []
    record = imports._record_progress

    def spy(import_id, done):
        seen.append((done, NhiImport.objects.get(pk=import_id).total_rows))
        return record(import_id, done)

    monkeypatch.setattr(imports, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(imports, "_record_progress", spy)
    imp = run_import(make_csv([row(n) for n in range(35)]))
    assert seen == [(10, 35), (20, 35), (30, 35)]
    assert (imp.processed_rows, imp.total_rows, imp.progress_percent) == (35, 35, 100)


def test_the_check_looks_up_keys_in_batches_not_per_row(monkeypatch, run_import, apply_import, teams, make_csv, row,
                                                        personas):
    monkeypatch.setattr(imports, "LOOKUP_BATCH", 50)
    apply_import(run_import(make_csv([row(n) for n in range(0, 200, 2)])))  # half of them exist

    def queries_for(count: int) -> int:
        imp = imports.import_create(actor=personas["security"], format="csv",
                                    upload=SimpleUploadedFile("f.csv", make_csv([row(n) for n in range(count)])))
        with CaptureQueriesContext(connection) as ctx:
            imports.import_check(imp.pk)
        imp.refresh_from_db()
        assert imp.error_count == 0
        lookups = [q for q in ctx.captured_queries if 'FROM "nhi_nonhumanidentity"' in q["sql"]]
        assert len(lookups) == -(-count // 50)
        return len(ctx.captured_queries) - len(lookups)

    assert queries_for(50) == queries_for(200)  # everything but the batched lookups is constant


# --- applying ------------------------------------------------------------------------------------

def test_an_error_in_the_last_row_means_nothing_is_applied(run_import, teams, make_csv, row, personas):
    imp = run_import(make_csv([row(n) for n in range(20)] + [row(99, kind="robot")]))
    assert (imp.new_count, imp.error_count) == (20, 1)
    with pytest.raises(ValidationError, match="fix the errors and upload again; nothing was written"):
        imports.import_apply(imp=imp, actor=personas["security"])
    imp.refresh_from_db()
    assert imp.status == ImportStatus.PREVIEWED
    assert not NonHumanIdentity.objects.exists() and not logs("nhi_import.applied")


@pytest.mark.parametrize("status, message", [
    (ImportStatus.QUEUED, "still being checked"),
    (ImportStatus.RUNNING, "still being checked"),
    (ImportStatus.APPLIED, "already been applied"),
    (ImportStatus.FAILED, "fix the errors and upload again; nothing was written"),
])
def test_apply_is_refused_unless_a_clean_preview(run_import, teams, make_csv, row, personas, status, message):
    imp = run_import(make_csv([row(1)]))
    NhiImport.objects.filter(pk=imp.pk).update(status=status)
    with pytest.raises(ValidationError, match=message):
        imports.import_apply(imp=imp, actor=personas["security"])


def test_an_exception_mid_apply_writes_nothing(monkeypatch, run_import, apply_import, teams, make_csv, row):
    apply_import(run_import(make_csv([row(1, name="Old name")])))
    monkeypatch.setattr(imports, "LOOKUP_BATCH", 3)
    write = imports._write
    batches = []

    def failing_write(outcomes):
        batches.append(len(outcomes))
        write(outcomes)  # the first batch really reaches the database
        if len(batches) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "_write", failing_write)
    imp = apply_import(run_import(make_csv([row(1, name="New name")] + [row(n) for n in range(2, 10)])))
    assert batches == [3, 3]
    assert imp.status == ImportStatus.FAILED
    assert "Applying stopped unexpectedly (RuntimeError); everything was rolled back" in imp.message
    assert list(NonHumanIdentity.objects.values_list("external_id", "name")) == [("key-1", "Old name")]
    assert len(logs("nhi_import.applied")) == 1  # the first import's only


def test_apply_rechecks_the_file_and_writes_nothing_if_it_no_longer_checks(run_import, apply_import, make_csv, row,
                                                                        personas):
    TeamFactory(name="Growth", slug="growth")
    imp = run_import(make_csv([row(1, owner_team="growth"), row(2, owner_team="growth")]))
    assert imp.error_count == 0
    imp.default_team = None
    from soc2hub.models import Team

    Team.objects.filter(slug="growth").delete()  # between the preview and the apply
    imp = apply_import(imp)
    assert imp.status == ImportStatus.FAILED
    assert imp.message.startswith("The file no longer checks cleanly (line 2: owner_team: no team has the slug")
    assert imp.message.endswith("fix the errors and upload again; nothing was written.")
    assert not NonHumanIdentity.objects.exists()


def test_two_clicks_apply_once(run_import, teams, make_csv, row, personas, django_capture_on_commit_callbacks):
    imp = run_import(make_csv([row(1), row(2)]))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        imports.import_apply(imp=imp, actor=personas["security"])
        with pytest.raises(ValidationError, match="already being applied"):
            imports.import_apply(imp=imp, actor=personas["security"])
    assert len(callbacks) == 1
    # A redelivered task finds the import applied and returns.
    assert imports.import_apply_now(imp.pk, personas["security"].pk).status == ImportStatus.APPLIED
    assert NonHumanIdentity.objects.count() == 2 and len(logs("nhi_import.applied")) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_at_once_apply_once(require_postgres, fast_hashing, teams, personas):
    NonHumanIdentity.objects.bulk_create([
        NonHumanIdentity(source="csv", external_id=f"key-{n}", name=f"Key {n}", kind="access_key", provider="AWS",
                         owner_team=teams["hr"]) for n in range(300)])
    renamed = [identity_row(n, name=f"Renamed {n}") for n in range(300)]
    imp = imports.import_create(actor=personas["security"], format="csv",
                                upload=SimpleUploadedFile("f.csv", csv_bytes(renamed)))
    imp.refresh_from_db()
    assert (imp.status, imp.updated_count) == (ImportStatus.PREVIEWED, 300)  # checked on commit
    # Claimed, and the task delivered twice: two workers start it at the same moment.
    NhiImport.objects.filter(pk=imp.pk).update(status=ImportStatus.APPLYING)

    results, start = [], threading.Barrier(2)

    def worker():
        try:
            start.wait()
            results.append(imports.import_apply_now(imp.pk, personas["security"].pk).status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [ImportStatus.APPLIED, ImportStatus.APPLIED]
    assert NonHumanIdentity.objects.count() == 300
    assert NonHumanIdentity.objects.filter(name__startswith="Renamed").count() == 300
    assert ActivityLog.objects.filter(verb="nhi_import.applied").count() == 1


def test_kubernetes_sample_end_to_end(run_import, apply_import, sample, teams):
    imp = apply_import(run_import(sample("k8s-serviceaccounts.json"), "k8s-serviceaccounts",
                                  default_team=teams["security"], default_environment="staging"))
    assert imp.status == ImportStatus.APPLIED, imp.message
    rows = {n.external_id: n for n in NonHumanIdentity.objects.select_related("owner_team")}
    assert rows["k8s:payments/payments-api"].owner_team == teams["engineering"]  # its team label
    assert rows["k8s:payments/default"].owner_team == teams["security"]  # the default team
    assert rows["k8s:payments/default"].owasp_tags == ["NHI9:2025"]
    assert rows["k8s:payments/default"].rotation_interval_days is None
    assert {n.environment for n in rows.values()} == {"staging"}
    assert rows["k8s:argocd/argocd-application-controller"].rotation_due_on is None  # never rotated
    # Tags people add survive a re-import; the importer only adds its own.
    NonHumanIdentity.objects.filter(external_id="k8s:payments/default").update(owasp_tags=["NHI5:2025"])
    again = run_import(sample("k8s-serviceaccounts.json"), "k8s-serviceaccounts")
    assert (again.updated_count, again.unchanged_count) == (1, 2)
    apply_import(again)
    assert NonHumanIdentity.objects.get(external_id="k8s:payments/default").owasp_tags == ["NHI5:2025", "NHI9:2025"]


# --- 200,000 rows ----------------------------------------------------------------------------------

def test_two_hundred_thousand_rows_stream_in_flat_memory(tmp_path, personas, teams):
    path = tmp_path / "big.csv"
    today = timezone.localdate()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(200_000):
            values = identity_row(n, external_id=f"svc-{n:06d}", name=f"Service key {n}",
                                  owner_team=("hr", "legal", "engineering")[n % 3], scopes="s3:GetObject;s3:PutObject",
                                  credential_fingerprint=f"AKIA…{n % 10000:04d}", last_used_on=today.isoformat(),
                                  owasp_tags="NHI7:2025")
            writer.writerow([values.get(c, "") for c in COLUMNS])
    with open(path, "rb") as handle:
        imp = imports.import_create(actor=personas["security"], format="csv", upload=File(handle, name="big.csv"))

    started = time.perf_counter()
    imp = imports.import_check(imp.pk)
    elapsed = time.perf_counter() - started
    assert imp.status == ImportStatus.PREVIEWED, imp.message
    assert (imp.total_rows, imp.processed_rows, imp.new_count, imp.error_count) == (200_000, 200_000, 200_000, 0)
    assert len(imp.preview["new"]) == 50 and imp.preview["truncated"]["new"] == 199_950
    assert elapsed < 60

    # Memory, measured on a second run (tracemalloc slows Python several times over): a check
    # interrupted and run again starts over, which is also what a redelivered task does.
    NhiImport.objects.filter(pk=imp.pk).update(status=ImportStatus.RUNNING, heartbeat_at=None, new_count=0)
    tracemalloc.start()
    try:
        imp = imports.import_check(imp.pk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\n200,000-row check: {elapsed:.1f} s; peak {peak / 2**20:.1f} MB traced")
    assert imp.new_count == 200_000
    assert peak < 100 * 2**20


def test_api_dry_run_false_applies_a_clean_file_at_once(db, teams, personas, client_for,
                                                         django_capture_on_commit_callbacks):
    """The API's dry_run=false: the check runs and, finding no error, the import is applied."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from nhi.models import ImportStatus, NhiImport, NonHumanIdentity

    body = (b"external_id,name,kind,owner_team,provider\n"
            b"gh:deploy-bot,deploy bot,bot,hr,GitHub\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas["security"]).post(
            "/api/v1/nhi-imports/", {"format": "csv", "dry_run": "false",
                                     "file": SimpleUploadedFile("bots.csv", body, content_type="text/csv")})
    assert response.status_code == 201, response.content
    imp = NhiImport.objects.get(pk=response.json()["id"])
    assert imp.apply_when_clean, imp.message
    assert imp.status == ImportStatus.APPLIED, (imp.status, imp.message, imp.error_count)
    assert NonHumanIdentity.objects.filter(external_id="gh:deploy-bot", owner_team=teams["hr"]).exists()


def test_api_dry_run_only_previews(db, teams, personas, client_for, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from nhi.models import ImportStatus, NhiImport, NonHumanIdentity

    body = b"external_id,name,kind,owner_team,provider\ngh:deploy-bot,deploy bot,bot,hr,GitHub\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas["security"]).post(
            "/api/v1/nhi-imports/", {"format": "csv", "file": SimpleUploadedFile("bots.csv", body)})
    assert response.status_code == 201
    assert NhiImport.objects.get(pk=response.json()["id"]).status == ImportStatus.PREVIEWED
    assert not NonHumanIdentity.objects.exists()
    refused = client_for(personas["owner"]).post("/api/v1/nhi-imports/", {"format": "csv",
                                                                         "file": SimpleUploadedFile("b.csv", body)})
    assert refused.status_code == 403
