"""The three importers on their own, against the real sample files and hostile variants:
what each row becomes, which rows are refused and why, and which files are refused whole."""

import datetime as dt
import io
import json

import pytest

from nhi.importers import IMPORTERS, ImportContext, ImportFormatError, ParsedRow, RowError, Skipped
from nhi.importers.csv_format import COLUMNS
from nhi.models import Environment, NhiKind, NhiStatus
from tests.nhi.conftest import DATA, csv_bytes, identity_row

TODAY = dt.date(2026, 11, 26)  # the samples' "now": keys used yesterday must not be in the future
AWS = IMPORTERS["aws-credential-report"]
K8S = IMPORTERS["k8s-serviceaccounts"]
CSV = IMPORTERS["csv"]


def parse(importer, content: bytes, **context):
    context.setdefault("today", TODAY)
    return list(importer.parse(io.BytesIO(content), ImportContext(**context)))


def rows(items):
    return [i for i in items if isinstance(i, ParsedRow)]


def errors(items):
    return [i for i in items if isinstance(i, RowError)]


def by_id(items) -> dict:
    return {i.external_id: i for i in rows(items)}


def aws_report(*lines: str) -> bytes:
    header = (DATA / "aws-credential-report.csv").read_text().splitlines()[0]
    return "\n".join([header, *lines]).encode()


NO_KEYS = "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A"
NO_CERTS = "false,N/A,false,N/A"


def k8s_list(*items, kind="List") -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": kind, "items": list(items), "metadata": {}}).encode()


def service_account(name="api", namespace="payments", **extra) -> dict:
    metadata = {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                "creationTimestamp": "2024-02-01T10:00:00Z", **extra.pop("metadata", {})}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, **extra}


# --- AWS IAM credential report ---------------------------------------------------------------

def test_aws_sample_each_existing_key_becomes_an_identity(sample):
    items = parse(AWS, sample("aws-credential-report.csv"))
    arn = "arn:aws:iam::111122223333:user"
    assert set(by_id(items)) == {
        f"{arn}/svc/svc-ci-deploy#access_key_1",
        f"{arn}/svc/svc-backup#access_key_1",
        f"{arn}/svc/svc-backup#access_key_2",
        f"{arn}/alice.admin#access_key_1",
        f"{arn}/legacy-reporting#access_key_1",
    }
    assert errors(items) == []
    ci = by_id(items)[f"{arn}/svc/svc-ci-deploy#access_key_1"]
    assert ci.line == 3 and ci.source == "aws-credential-report"
    assert ci.fields == {
        "name": "svc-ci-deploy access key 1", "kind": NhiKind.ACCESS_KEY, "provider": "AWS",
        "status": NhiStatus.ACTIVE, "created_on": dt.date(2023, 1, 10), "last_rotated_on": dt.date(2025, 6, 1),
        "last_used_on": dt.date(2026, 11, 20), "credential_fingerprint": "key 1 of svc-ci-deploy",
    }
    # What the report does not carry applies to new identities only, never overwriting.
    assert ci.defaults["environment"] == "production" and ci.defaults["rotation_interval_days"] == 90
    assert "has_admin_access" not in ci.fields and "owner_team" not in ci.fields


def test_aws_missing_values_and_inactive_keys(sample):
    items = by_id(parse(AWS, sample("aws-credential-report.csv")))
    never_used = items["arn:aws:iam::111122223333:user/svc/svc-backup#access_key_2"]
    assert never_used.fields["last_used_on"] is None  # N/A
    assert never_used.fields["last_rotated_on"] == dt.date(2024, 1, 5)
    inactive = items["arn:aws:iam::111122223333:user/legacy-reporting#access_key_1"]
    assert inactive.fields["status"] == NhiStatus.DISABLED
    person_key = items["arn:aws:iam::111122223333:user/alice.admin#access_key_1"]
    assert "console" in person_key.defaults["purpose"]  # a person may be using it


def test_aws_root_without_keys_and_console_only_users_are_skipped_not_errors(sample):
    console_only = f"jane,arn:aws:iam::111122223333:user/jane,2024-01-01T00:00:00+00:00,true,N/A,N/A,N/A,true," \
                   f"{NO_KEYS},{NO_CERTS}"
    items = parse(AWS, sample("aws-credential-report.csv").rstrip() + b"\n" + console_only.encode())
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [(s.line, s.external_id) for s in skipped] == [
        (2, "arn:aws:iam::111122223333:root"), (7, "arn:aws:iam::111122223333:user/jane")]
    assert "root account has no access keys" in skipped[0].reason
    assert "console-only user" in skipped[1].reason
    assert errors(items) == []


def test_aws_root_access_key_is_flagged_admin_and_tagged():
    root = ("<root_account>,arn:aws:iam::111122223333:root,2019-03-01T10:00:00+00:00,not_supported,"
            "2026-10-01T08:12:44+00:00,not_supported,not_supported,true,"
            "true,2020-01-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,us-east-1,iam,"
            f"false,N/A,N/A,N/A,N/A,{NO_CERTS}")
    [key] = rows(parse(AWS, aws_report(root)))
    assert key.external_id == "arn:aws:iam::111122223333:root#access_key_1"
    assert key.fields["has_admin_access"] is True
    assert key.add_tags == ("NHI5:2025", "NHI7:2025")
    assert key.fields["purpose"].startswith("WARNING")
    assert key.fields["credential_fingerprint"] == "key 1 of the root account (111122223333)"


def test_aws_signing_certificates_become_certificates():
    line = (f"signer,arn:aws:iam::111122223333:user/signer,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,"
            f"{NO_KEYS},true,2025-03-01T00:00:00+00:00,false,N/A")
    [cert] = rows(parse(AWS, aws_report(line)))
    assert cert.external_id == "arn:aws:iam::111122223333:user/signer#cert_1"
    assert cert.fields["kind"] == NhiKind.CERTIFICATE
    assert cert.fields["last_rotated_on"] == dt.date(2025, 3, 1)
    assert "last_used_on" not in cert.fields  # the report says nothing about certificate use
    assert cert.defaults["rotation_interval_days"] == 365


@pytest.mark.parametrize("creation, rotated, used, column", [
    ("2027-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "N/A", "user_creation_time"),  # created in the future
    ("2024-01-01T00:00:00+00:00", "2023-01-01T00:00:00+00:00", "N/A", "access_key_1_last_rotated"),
    ("2024-01-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00", "2030-01-01T00:00:00+00:00",
     "access_key_1_last_used_date"),
    ("2024-01-01T00:00:00+00:00", "yesterday", "N/A", "access_key_1_last_rotated"),
])
def test_aws_impossible_dates_are_row_errors_naming_the_column(creation, rotated, used, column):
    line = (f"svc,arn:aws:iam::111122223333:user/svc,{creation},false,N/A,N/A,N/A,false,"
            f"true,{rotated},{used},us-east-1,s3,false,N/A,N/A,N/A,N/A,{NO_CERTS}")
    [error] = errors(parse(AWS, aws_report(line)))
    assert error.line == 2
    assert error.message.startswith(f"{column}:")


def test_aws_truncated_row_is_a_row_error():
    items = parse(AWS, aws_report("svc,arn:aws:iam::111122223333:user/svc,2024-01-01T00:00:00+00:00,false"))
    [error] = errors(items)
    assert "cells but the header has 22" in error.message


def test_aws_importer_refuses_a_soc2hub_csv():
    with pytest.raises(ImportFormatError, match="not an AWS IAM credential report.*looks like a soc2hub CSV"):
        parse(AWS, csv_bytes([identity_row(1)]))


def test_aws_importer_refuses_the_kubernetes_json(sample):
    with pytest.raises(ImportFormatError, match="not an AWS IAM credential report"):
        parse(AWS, sample("k8s-serviceaccounts.json"))


# --- Kubernetes service accounts -------------------------------------------------------------

def test_k8s_sample(sample, teams):
    items = by_id(parse(K8S, sample("k8s-serviceaccounts.json"), default_environment="staging"))
    assert set(items) == {"k8s:payments/default", "k8s:payments/payments-api", "k8s:argocd/argocd-application-controller"}

    default = items["k8s:payments/default"]
    assert default.line == 1
    assert default.fields["name"] == "payments/default"
    assert default.fields["provider"] == "Kubernetes" and default.fields["kind"] == NhiKind.SERVICE_ACCOUNT
    assert default.fields["created_on"] == dt.date(2024, 2, 1)
    assert default.fields["secret_location"] == "uid 7f0c1c2e-1111-4a5b-9c3d-000000000001"
    assert default.add_tags == ("NHI9:2025",)  # token automounted into every pod naming no account
    assert default.defaults["environment"] == "staging"
    assert default.defaults["rotation_interval_days"] is None  # kubelet-rotated tokens

    api = items["k8s:payments/payments-api"]
    assert api.fields["owner_team"] == teams["engineering"]  # "team: engineering" label matches a team
    assert api.fields["scopes"] == "AWS IAM role arn:aws:iam::111122223333:role/payments-s3-writer"
    assert api.defaults["has_production_access"] is False and "has_production_access" not in api.fields  # staging by default
    assert api.add_tags == ()  # automountServiceAccountToken: false

    argocd = items["k8s:argocd/argocd-application-controller"]
    assert argocd.fields["secret_location"].endswith("token Secrets argocd/argocd-application-controller-token-x7k2p")
    assert argocd.add_tags == ("NHI7:2025",)  # a long-lived token Secret
    assert argocd.defaults["rotation_interval_days"] == 180


def test_k8s_environment_and_owner_from_labels_and_annotations(teams):
    items = by_id(parse(K8S, k8s_list(
        service_account("a", metadata={"labels": {"env": "prod", "team": "not-a-soc2hub-team"},
                                       "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}}),
        service_account("b", metadata={"annotations": {"soc2hub.io/environment": "development",
                                                       "soc2hub.io/owner-team": "hr"}}),
    ), default_environment="staging"))
    assert items["k8s:payments/a"].fields["environment"] == Environment.PRODUCTION
    assert items["k8s:payments/a"].fields["has_production_access"] is True
    assert "owner_team" not in items["k8s:payments/a"].fields  # unknown label values are not soc2hub's
    assert items["k8s:payments/b"].fields["environment"] == Environment.DEVELOPMENT
    assert items["k8s:payments/b"].fields["owner_team"] == teams["hr"]


def test_k8s_bad_annotations_and_timestamps_are_row_errors(teams):
    items = parse(K8S, k8s_list(
        service_account("a", metadata={"annotations": {"soc2hub.io/owner-team": "nobody"}}),
        service_account("b", metadata={"annotations": {"soc2hub.io/environment": "moon"}}),
        service_account("c", metadata={"creationTimestamp": "2031-01-01T00:00:00Z"}),
        service_account("d", metadata={"creationTimestamp": "last tuesday"}),
        {"kind": "ServiceAccount", "metadata": {"name": "nameless-namespace"}},
        service_account("ok"),
    ))
    assert [(e.line, e.message.split(":")[0]) for e in errors(items)] == [
        (1, "soc2hub.io/owner-team"), (2, "soc2hub.io/environment"), (3, "metadata.creationTimestamp"),
        (4, "metadata.creationTimestamp"), (5, "metadata")]
    assert [r.external_id for r in rows(items)] == ["k8s:payments/ok"]


def test_k8s_duplicate_service_account_is_refused_on_its_second_occurrence():
    items = parse(K8S, k8s_list(service_account("a"), service_account("b"), service_account("a")))
    [error] = errors(items)
    assert (error.line, error.external_id) == (3, "k8s:payments/a")
    assert "first on line 1" in error.message


def test_k8s_truncated_json(sample):
    content = sample("k8s-serviceaccounts.json")
    with pytest.raises(ImportFormatError, match="truncated"):
        parse(K8S, content[: len(content) // 2])


@pytest.mark.parametrize("content, message", [
    (json.dumps(service_account()).encode(), "found kind “ServiceAccount”. It holds a single service account"),
    (json.dumps({"kind": "List", "items": [{"kind": "Pod", "metadata": {}}]}).encode(), "Item 1 is a Pod"),
    (json.dumps({"kind": "List"}).encode(), "no “items” array"),
    (json.dumps({"kind": "List", "items": {"a": 1}}).encode(), "no “items” array"),
    (json.dumps([service_account()]).encode(), "found a JSON list"),
    (b"", "empty"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"{\"kind\": \"List\", \"items\": [}", "malformed at line 1"),
])
def test_k8s_refuses_what_is_not_a_service_account_list(content, message):
    with pytest.raises(ImportFormatError, match=message):
        parse(K8S, content)


def test_k8s_importer_refuses_the_aws_report(sample):
    with pytest.raises(ImportFormatError, match="not JSON.*looks like an AWS IAM credential report"):
        parse(K8S, sample("aws-credential-report.csv"))


def test_k8s_json_is_capped_in_size(settings, sample):
    settings.NHI_IMPORT_MAX_JSON_BYTES = 1000
    with pytest.raises(ImportFormatError, match="over 1000 bytes"):
        parse(K8S, sample("k8s-serviceaccounts.json"))


def test_k8s_service_account_list_from_the_api_is_accepted():
    item = service_account()
    del item["kind"]  # the API's ServiceAccountList leaves kind off its items
    [row] = rows(parse(K8S, k8s_list(item, kind="ServiceAccountList")))
    assert row.external_id == "k8s:payments/api"


# --- the soc2hub CSV -------------------------------------------------------------------------

def test_the_documented_sample_csv_imports_cleanly(teams):
    from django.conf import settings

    content = (settings.BASE_DIR / "docs" / "nhi-import-sample.csv").read_bytes()
    items = parse(CSV, content)
    assert errors(items) == [] and len(rows(items)) == 6
    bot = by_id(items)["github-app:payments-deployer"]
    assert bot.fields["owner_team"] == teams["engineering"]
    assert bot.fields["scopes"] == "contents:write\npull_requests:write"
    assert bot.fields["owasp_tags"] == ["NHI7:2025"]
    assert by_id(items)["tls:api.example.com"].fields["rotation_interval_days"] is None  # "none"


def test_csv_values_are_converted(teams, personas):
    [parsed] = rows(parse(CSV, csv_bytes([identity_row(
        1, kind="API key / access key", technical_owner="harriet_hr", has_admin_access="yes",
        has_production_access="0", scopes=" s3:GetObject ; s3:PutObject ;", owasp_tags="nhi7:2025;NHI1:2025;NHI7:2025",
        rotation_interval_days="", credential_fingerprint="AKIA…7QXZ", expires_on="2027-01-01")])))
    fields = parsed.fields
    assert parsed.source == "csv" and parsed.line == 2
    assert fields["kind"] == NhiKind.ACCESS_KEY
    assert fields["owner_team"] == teams["hr"] and fields["technical_owner"] == personas["owner"]
    assert (fields["has_admin_access"], fields["has_production_access"]) == (True, False)
    assert fields["scopes"] == "s3:GetObject\ns3:PutObject"
    assert fields["owasp_tags"] == ["NHI7:2025", "NHI1:2025"]
    assert fields["rotation_interval_days"] == 90  # the policy for access keys
    assert fields["expires_on"] == dt.date(2027, 1, 1)


def test_csv_columns_left_out_are_not_in_fields(teams):
    [parsed] = rows(parse(CSV, csv_bytes([identity_row(1, owner_team="")],
                                         columns=("external_id", "name", "kind", "owner_team"))))
    assert parsed.fields == {"name": "Key 1", "kind": "access_key"}  # blank team: keep or default


def test_csv_header_is_checked():
    with pytest.raises(ImportFormatError, match="lacks owner_team"):
        parse(CSV, b"external_id,name,kind\nk,K,other\n")
    with pytest.raises(ImportFormatError, match="Unknown column: last_rotated\\b"):
        parse(CSV, b"external_id,name,kind,owner_team,last_rotated\nk,K,other,hr,2024-01-01\n")
    with pytest.raises(ImportFormatError, match="names kind more than once"):
        parse(CSV, b"external_id,name,kind,owner_team,kind\n")


def test_csv_importer_refuses_the_aws_report(sample):
    with pytest.raises(ImportFormatError, match="not a soc2hub CSV.*looks like an AWS IAM credential report"):
        parse(CSV, sample("aws-credential-report.csv"))


def test_csv_importer_refuses_json(sample):
    with pytest.raises(ImportFormatError, match="not a soc2hub CSV"):
        parse(CSV, sample("k8s-serviceaccounts.json"))


def test_csv_duplicate_keys_in_one_file(teams):
    items = parse(CSV, csv_bytes([identity_row(1), identity_row(2), identity_row(1, name="Again"),
                                  identity_row(1, source="manual")]))
    [error] = errors(items)
    assert (error.line, error.external_id) == (4, "key-1")
    assert "appears twice in the file (first on line 2)" in error.message
    assert len(rows(items)) == 3  # the same id from another source is another identity


def test_csv_unknown_owner_team_and_person(teams):
    items = parse(CSV, csv_bytes([identity_row(1, owner_team="growth-hackers"),
                                  identity_row(2, technical_owner="ghost")]))
    assert [(e.line, e.message.split(":")[0]) for e in errors(items)] == [(2, "owner_team"), (3, "technical_owner")]
    assert "no team has the slug “growth-hackers”" in errors(items)[0].message


@pytest.mark.parametrize("values, column, words", [
    ({"created_on": "2026-11-27"}, "created_on", "in the future"),
    ({"last_used_on": "2027-01-01"}, "last_used_on", "in the future"),
    ({"last_rotated_on": "2023-12-31"}, "last_rotated_on", "before it was created"),
    ({"last_used_on": "2023-06-01"}, "last_used_on", "before it was created"),
    ({"expires_on": "2023-06-01"}, "expires_on", "before it was created"),
    ({"created_on": "2026-02-30"}, "created_on", "not a real date"),
    ({"last_rotated_on": "01/02/2025"}, "last_rotated_on", "write it as YYYY-MM-DD"),
    ({"last_used_on": "20250101"}, "last_used_on", "write it as YYYY-MM-DD"),
])
def test_csv_impossible_dates(teams, values, column, words):
    [error] = errors(parse(CSV, csv_bytes([identity_row(1, **values)])))
    assert error.message.startswith(f"{column}:") and words in error.message


@pytest.mark.parametrize("values, column", [
    ({"kind": "robot"}, "kind"),
    ({"status": "deleted"}, "status"),
    ({"environment": "prod-eu"}, "environment"),
    ({"has_admin_access": "maybe"}, "has_admin_access"),
    ({"rotation_interval_days": "-5"}, "rotation_interval_days"),
    ({"owasp_tags": "NHI11:2025"}, "owasp_tags"),
    ({"owasp_tags": "NHI-03"}, "owasp_tags"),
    ({"name": ""}, "name"),
    ({"external_id": ""}, "external_id"),
    ({"name": "x" * 301}, "name"),
    ({"source": "Not A Source"}, "source"),
])
def test_csv_bad_values(teams, values, column):
    [error] = errors(parse(CSV, csv_bytes([identity_row(1, **values)])))
    assert error.message.startswith(f"{column}:")


@pytest.mark.parametrize("column, value", [
    ("credential_fingerprint", "AKIAIOSFODNN7EXAMPLE"),
    ("credential_fingerprint", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("credential_fingerprint", "Zx8kQ2mN7pLr4TvW9yBc3HdF6gJs"),
    ("purpose", "token is ghp_" + "a1B2" * 9),
    ("secret_location", "-----BEGIN OPENSSH PRIVATE KEY-----"),
    ("scopes", "read;xoxb-123456789012-abcdefghij"),
    ("name", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("created_on", "ghp_" + "Zz9Y" * 9),  # never quoted back as "not a date"
    ("owner_team", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"),  # nor as "no team has the slug"
])
def test_csv_refuses_rows_holding_a_secret_without_echoing_it(teams, column, value):
    [error] = errors(parse(CSV, csv_bytes([identity_row(1, **{column: value})])))
    assert error.secret and error.message.startswith(f"{column}:")
    assert value not in error.message and value[-12:] not in error.message


@pytest.mark.parametrize("value", ["AKIA…7QXZ", "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
                                   "key 1 of svc-payments-reconciliation-prod", "ab:cd:" * 7 + "ab:cd:ef:01",
                                   "****************wxyz"])
def test_csv_accepts_masked_fingerprints(teams, value):
    [parsed] = rows(parse(CSV, csv_bytes([identity_row(1, credential_fingerprint=value)])))
    assert parsed.fields["credential_fingerprint"] == value


def test_csv_rows_of_the_wrong_width_and_blank_lines(teams):
    header = ",".join(COLUMNS)
    good = csv_bytes([identity_row(1)]).decode().splitlines()[1]
    content = "\n".join([header, "", good, "key-2,csv,Key 2", good.replace("key-1", "key-3") + ",extra", ""]).encode()
    items = parse(CSV, content)
    assert [r.external_id for r in rows(items)] == ["key-1"]
    assert [(e.line, e.external_id) for e in errors(items)] == [(4, "key-2"), (5, "key-3")]
    assert "the row has 3 cells but the header has 22 columns" in errors(items)[0].message


def test_csv_reads_the_quote_the_export_puts_before_formulas(teams):
    [parsed] = rows(parse(CSV, csv_bytes([identity_row(1, name="'=HYPERLINK(\"http://x\")", purpose="'-1",
                                                       vendor="'Quoted on purpose")])))
    assert parsed.fields["name"] == '=HYPERLINK("http://x")'
    assert parsed.fields["purpose"] == "-1"
    assert parsed.fields["vendor"] == "'Quoted on purpose"


def test_csv_with_a_byte_order_mark_and_crlf(teams):
    content = "\ufeff".encode() + csv_bytes([identity_row(1)]).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert [r.external_id for r in rows(parse(CSV, content))] == ["key-1"]


@pytest.mark.parametrize("content, message", [
    (b"external_id,name,kind,owner_team\nk,\xff\xfe,other,hr\n", "not UTF-8"),
    (b'external_id,name,kind,owner_team\nk,"unterminated,other,hr\n', "malformed"),
    (b"external_id,name,kind,owner_team\nk,a\x00b,other,hr\n", "binary data"),
])
def test_csv_files_that_cannot_be_read(content, message):
    with pytest.raises(ImportFormatError, match=message):
        parse(CSV, content)


def test_csv_row_limit(settings, teams):
    settings.NHI_IMPORT_MAX_ROWS = 3
    assert len(rows(parse(CSV, csv_bytes([identity_row(n) for n in range(3)])))) == 3
    with pytest.raises(ImportFormatError, match="more than 3 rows"):
        parse(CSV, csv_bytes([identity_row(n) for n in range(4)]))


def test_counts_for_progress(sample):
    assert AWS.count_rows(io.BytesIO(sample("aws-credential-report.csv"))) == 5
    assert K8S.count_rows(io.BytesIO(sample("k8s-serviceaccounts.json"))) == 3
    assert CSV.count_rows(io.BytesIO(csv_bytes([identity_row(n) for n in range(7)]) + b"\n\n")) == 7


def test_team_slugs_are_resolved_with_one_query(teams, django_assert_num_queries):
    content = csv_bytes([identity_row(n, owner_team=("hr", "legal", "engineering")[n % 3]) for n in range(60)])
    with django_assert_num_queries(1):
        assert len(rows(parse(CSV, content))) == 60
