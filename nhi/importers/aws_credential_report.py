"""The AWS IAM credential report (``format=aws-credential-report``).

``aws iam generate-credential-report`` then ``aws iam get-credential-report`` give a CSV with
one row per IAM user. Timestamps are ISO 8601 with an offset (read as a local date);
``N/A``, ``no_information`` and ``not_supported`` mean "no value". Columns beyond the ones
read here are ignored, so a report with columns AWS adds later still imports.

What becomes an identity:

* **Each access key that exists** — ``access_key_N_active`` true or false, i.e. its
  ``last_rotated`` has a value — becomes one ``access_key``: external id
  ``<arn>#access_key_<N>``, name ``<user> access key N``, provider AWS, status active or
  disabled from the active flag, last rotated from ``access_key_N_last_rotated`` (AWS keys are
  never rotated in place, so that is when the key was made), last used from
  ``access_key_N_last_used_date`` (none if never used or unknown), created on the user's
  creation date, fingerprint ``key N of <user>`` (the report has no key id).
* **Each X.509 signing certificate that exists** (``cert_N_active`` / ``cert_N_last_rotated``)
  becomes a ``certificate`` the same way: ``<arn>#cert_<N>``, ``<user> signing certificate N``.
  The report says nothing about certificate use, so last used is left alone.
* **The root account** (``<root_account>``) with an access key: imported with admin access,
  tagged NHI5:2025 (overprivileged) and NHI7:2025 (long-lived secret), and a purpose that says
  to delete it. Without keys it is skipped: root's console sign-in is a person's.
* **Console-only users** (a password and no keys or certificates) are people, not non-human
  identities: skipped and counted as skipped, not as errors. Users with neither are skipped too.

The report is the truth about a key: an identity revoked in soc2hub whose key still appears
in the report previews as updated (its status back to active or disabled), since the key was
never deleted in AWS.

Users who have a console password *and* access keys are imported, with a purpose noting a
person may be using the key. The report carries no owner, environment, scopes or purpose:
new identities get the import's default environment and the kind's rotation policy, and a
re-import never overwrites what people recorded for those. Admin access is unknown (false for
new identities, untouched for existing ones), except for root.
"""

from collections.abc import Iterator

from nhi.importers.base import (
    ImportContext,
    ParsedRow,
    RowError,
    RowProblem,
    Skipped,
    check_header,
    count_csv_records,
    csv_records,
    date_problems,
    is_missing,
    parse_timestamp,
    row_limit,
    unique_keys,
)
from nhi.models import DEFAULT_ROTATION_DAYS, NhiKind, NhiStatus

source = "aws-credential-report"
FIRST_LINE = 2
ROOT = "<root_account>"
REQUIRED = (
    "user", "arn", "user_creation_time", "password_enabled",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
)
ROOT_PURPOSE = ("WARNING: an access key on the AWS root account has unrestricted access to the whole account and "
                "cannot be limited by IAM policies. Delete it and use IAM roles instead.")


def _flag(values: dict, column: str) -> bool | None:
    word = values.get(column, "").strip().lower()
    if word == "true":
        return True
    if word == "false":
        return False
    if is_missing(word):
        return None
    raise RowProblem(column, f"“{word[:20]}” is not true or false.")


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _credentials(values: dict, context: ImportContext, line: int) -> Iterator[ParsedRow | RowError]:
    user, arn = values["user"].strip(), values["arn"].strip()
    is_root = user == ROOT
    created_on = parse_timestamp(values["user_creation_time"], "user_creation_time")
    if created_on is None:
        raise RowProblem("user_creation_time", "is missing.")
    console = _flag(values, "password_enabled") is True
    owner = f"the root account ({_account(arn)})" if is_root else user
    specs = [(n, "access_key", NhiKind.ACCESS_KEY, "access key", "key") for n in (1, 2)]
    specs += [(n, "cert", NhiKind.CERTIFICATE, "signing certificate", "certificate") for n in (1, 2)]
    for n, prefix, kind, noun, short in specs:
        external_id = f"{arn}#{prefix}_{n}"
        active_column, rotated_column = f"{prefix}_{n}_active", f"{prefix}_{n}_last_rotated"
        if active_column not in values:
            continue  # certificate columns are optional
        try:
            active = _flag(values, active_column)
            rotated = parse_timestamp(values.get(rotated_column, ""), rotated_column)
            if rotated is None and active is not True:
                continue  # no such key
            fields = {
                "name": f"{'root account' if is_root else user} {noun} {n}",
                "kind": kind,
                "provider": "AWS",
                "status": NhiStatus.ACTIVE if active else NhiStatus.DISABLED,
                "created_on": created_on,
                "last_rotated_on": rotated,
                "credential_fingerprint": f"{short} {n} of {owner}",
            }
            labels = {"created_on": "user_creation_time", "last_rotated_on": rotated_column}
            if kind == NhiKind.ACCESS_KEY:
                used_column = f"access_key_{n}_last_used_date"
                fields["last_used_on"] = parse_timestamp(values.get(used_column, ""), used_column)
                labels["last_used_on"] = used_column
            problems = date_problems(fields, context.today, label=lambda name, labels=labels: labels.get(name, name))
            if problems:
                raise RowProblem(*problems[0])
        except RowProblem as problem:
            yield RowError(line, external_id, str(problem))
            continue
        defaults = {
            "environment": context.default_environment,
            "rotation_interval_days": DEFAULT_ROTATION_DAYS.get(kind),
            "purpose": f"{noun.capitalize()} {n} of IAM user {user} ({arn}).",
        }
        tags: tuple[str, ...] = ()
        if is_root:
            fields["has_admin_access"] = True
            fields["purpose"] = ROOT_PURPOSE
            tags = ("NHI5:2025", "NHI7:2025")
        elif console:
            defaults["purpose"] += (" The user also signs in to the console: check whether a person, rather "
                                    "than a workload, uses this credential.")
        yield ParsedRow(line, source, external_id, fields, defaults, tags)


def _records(binary_stream, context: ImportContext) -> Iterator[ParsedRow | RowError | Skipped]:
    header = None
    for line, header_cells, cells in row_limit(csv_records(binary_stream, what="an AWS IAM credential report")):
        if header is None:
            check_header(header_cells, required=REQUIRED, known=None, fmt="an AWS IAM credential report",
                         hint=" Get it with “aws iam get-credential-report”.")
            header = header_cells
            continue
        values = dict(zip(header, cells))
        arn = values.get("arn", "").strip()
        if len(cells) != len(header):
            yield RowError(line, arn, f"the row has {len(cells)} cells but the header has {len(header)} columns; "
                                      "the line may be cut short.")
            continue
        if not values["user"].strip() or not arn.startswith("arn:"):
            yield RowError(line, arn, "user or arn is missing; every row of a credential report has both.")
            continue
        produced = False
        try:
            for item in _credentials(values, context, line):
                produced = True
                yield item
        except RowProblem as problem:
            yield RowError(line, arn, str(problem))
            continue
        if not produced:
            yield Skipped(line, arn, _skip_reason(values))


def _skip_reason(values: dict) -> str:
    if values["user"].strip() == ROOT:
        return "the root account has no access keys (its console sign-in belongs to a person)."
    if values.get("password_enabled", "").strip().lower() == "true":
        return "console-only user: a person, not a non-human identity."
    return "no access keys or signing certificates."


def parse(binary_stream, context: ImportContext | None = None) -> Iterator[ParsedRow | RowError | Skipped]:
    """Stream the identities in an AWS IAM credential report (see the module docstring)."""
    return unique_keys(_records(binary_stream, context or ImportContext()))


def count_rows(binary_stream) -> int:
    return count_csv_records(binary_stream)
