"""The soc2hub CSV format for non-human identities (``format=csv``).

The same columns come out of the CSV export, so an exported list re-imports cleanly (an
unchanged export previews as all unchanged). Full reference: ``docs/nhi-csv-format.md``;
a sample: ``docs/nhi-import-sample.csv``.

File: UTF-8 (a byte-order mark is fine), comma-separated, first line the header. Column
names are case-insensitive and may come in any order; unknown columns are refused (a typo
would otherwise drop data silently). Blank lines are ignored.

Required columns: ``external_id``, ``name``, ``kind``, ``owner_team``.

=====================  ==========================================================================
column                 value
=====================  ==========================================================================
external_id            required; the identity's id in its own system (≤ 500 characters). With
                       ``source`` it is the natural key: importing again updates, never duplicates.
source                 optional; default ``csv``. The export writes each identity's source
                       (``manual``, ``aws-credential-report``, ``k8s-serviceaccounts``…) so a
                       spreadsheet round trip updates the same identities.
name                   required (≤ 300 characters)
kind                   required: service_account, access_key, oauth_app, cicd_secret, bot,
                       certificate, ssh_key, other
owner_team             the owning team's slug. Blank: an existing identity keeps its team; a new
                       one gets the import's default team. A new *active* identity must end up
                       with one. An unknown slug is an error.
technical_owner        a username; blank clears it; an unknown username is an error
provider               e.g. AWS, GitHub, Kubernetes (≤ 100); required for new identities
environment            production, staging, development, shared; blank: the import's default
                       for new identities, unchanged for existing ones
status                 active, disabled, revoked, decommissioned; blank: active for new
                       identities, unchanged for existing ones
purpose, vendor,       free text (vendor ≤ 200, secret_location ≤ 300); blank clears
secret_location
scopes                 privileges or scopes separated by ``;``
has_admin_access,      true/false, yes/no, 1/0; blank is false
has_production_access
credential_fingerprint a masked value (``AKIA…7QXZ``), a hash (``SHA256:…``) or a short
                       description (≤ 100). Never the secret: a row whose cell (in any column)
                       looks like a whole credential is refused and the uploaded file deleted.
created_on,            dates as YYYY-MM-DD; blank clears. Creation, use and rotation cannot be in
last_used_on,          the future; rotation, use and expiry cannot precede creation.
last_rotated_on,
expires_on
rotation_interval_days whole days; blank: the policy default for the kind (access keys 90…);
                       ``none`` means not rotated on a schedule
owasp_tags             OWASP NHI Top 10 (2025) tags separated by ``;``, e.g. ``NHI7:2025;NHI1:2025``
=====================  ==========================================================================

A column left out of the header is never touched on existing identities. A cell starting
with ``'`` followed by ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read without
the quote (the export adds it so spreadsheets do not run the cell as a formula).
"""

import re
from collections.abc import Iterator

from nhi.importers.base import (
    ImportContext,
    ParsedRow,
    RowError,
    RowProblem,
    cell,
    check_fingerprint,
    check_header,
    check_length,
    check_no_secret,
    count_csv_records,
    csv_records,
    date_problems,
    parse_bool,
    parse_day,
    parse_tags,
    row_limit,
    unique_keys,
)
from nhi.models import DEFAULT_ROTATION_DAYS, Environment, NhiKind, NhiStatus

source = "csv"
FIRST_LINE = 2  # line 1 is the header

COLUMNS = (
    "external_id", "source", "name", "kind", "status", "owner_team", "technical_owner", "provider", "environment",
    "purpose", "scopes", "has_admin_access", "has_production_access", "vendor", "secret_location",
    "credential_fingerprint", "created_on", "last_used_on", "last_rotated_on", "rotation_interval_days",
    "expires_on", "owasp_tags",
)
REQUIRED = ("external_id", "name", "kind", "owner_team")
TEXT_LIMITS = {"purpose": 10_000, "vendor": 200, "secret_location": 300}
DATES = ("created_on", "last_used_on", "last_rotated_on", "expires_on")
SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
NO_INTERVAL = {"none", "never", "no"}


def _spellings(choices) -> dict[str, str]:
    """Each choice by its value and by its label, lowercased (built once: ``.choices`` is slow)."""
    return {spelling.lower(): value for value, label in choices.choices for spelling in (value, label)}


SPELLINGS = {choices: _spellings(choices) for choices in (NhiKind, Environment, NhiStatus)}


def _choice(value: str, choices, column: str) -> str:
    found = SPELLINGS[choices].get(value.strip().lower())
    if found is None:
        allowed = ", ".join(choices.values)
        raise RowProblem(column, f"“{value.strip()[:40]}” is not one of {allowed}.")
    return found


def _interval(value: str, kind: str) -> int | None:
    word = value.strip().lower()
    if not word:
        return DEFAULT_ROTATION_DAYS.get(kind)
    if word in NO_INTERVAL:
        return None
    if not word.isdigit() or not 1 <= int(word) <= 36_500:
        raise RowProblem("rotation_interval_days", f"“{value.strip()[:20]}” is not a number of days "
                                                   "(1 to 36500) or “none”.")
    return int(word)


def convert(values: dict[str, str], context: ImportContext) -> tuple[str, str, dict]:
    """One record (column → raw cell) as (source, external_id, fields)."""
    for column, value in values.items():  # first, so no error message ever quotes a secret
        check_no_secret(value, column)
    external_id = check_length(values["external_id"], "external_id", 500)
    if not external_id:
        raise RowProblem("external_id", "is empty; every identity needs its id from its own system.")
    row_source = values.get("source") or source
    if not SOURCE.match(row_source):
        raise RowProblem("source", f"“{row_source[:40]}” is not a source name (lowercase letters, digits, "
                                   "“-”, “_”, “.”).")
    fields: dict = {}
    fields["name"] = check_length(values["name"], "name", 300)
    if not fields["name"]:
        raise RowProblem("name", "is empty.")
    if not values["kind"]:
        raise RowProblem("kind", "is empty.")
    fields["kind"] = _choice(values["kind"], NhiKind, "kind")
    if values["owner_team"]:
        fields["owner_team"] = context.team(values["owner_team"])
    if "technical_owner" in values:
        fields["technical_owner"] = context.user(values["technical_owner"]) if values["technical_owner"] else None
    if values.get("provider"):
        fields["provider"] = check_length(values["provider"], "provider", 100)
    if values.get("environment"):
        fields["environment"] = _choice(values["environment"], Environment, "environment")
    if values.get("status"):
        fields["status"] = _choice(values["status"], NhiStatus, "status")
    for column, limit in TEXT_LIMITS.items():
        if column in values:
            fields[column] = check_length(values[column], column, limit)
    if "scopes" in values:
        fields["scopes"] = "\n".join(s.strip() for s in values["scopes"].split(";") if s.strip())
    for column in ("has_admin_access", "has_production_access"):
        if column in values:
            fields[column] = parse_bool(values[column], column)
    if "credential_fingerprint" in values:
        fields["credential_fingerprint"] = check_fingerprint(
            check_length(values["credential_fingerprint"], "credential_fingerprint", 100)
        ) if values["credential_fingerprint"] else ""
    for column in DATES:
        if column in values:
            fields[column] = parse_day(values[column], column)
    if "rotation_interval_days" in values:
        fields["rotation_interval_days"] = _interval(values["rotation_interval_days"], fields["kind"])
    if "owasp_tags" in values:
        fields["owasp_tags"] = parse_tags(values["owasp_tags"])
    problems = date_problems(fields, context.today)
    if problems:
        raise RowProblem(*problems[0])
    return row_source, external_id, fields


def _records(binary_stream, context: ImportContext) -> Iterator[ParsedRow | RowError]:
    header = None
    for line, header_cells, cells in row_limit(csv_records(binary_stream, what="a soc2hub CSV")):
        if header is None:
            check_header(header_cells, required=REQUIRED, known=COLUMNS, fmt="a soc2hub CSV",
                         hint=" See docs/nhi-csv-format.md for the columns.")
            header = header_cells
            continue
        raw_id = cell(cells[header.index("external_id")]) if len(cells) > header.index("external_id") else ""
        if len(cells) != len(header):
            yield RowError(line, raw_id[:500], f"the row has {len(cells)} cells but the header has {len(header)} "
                                               "columns; the line may be cut short or hold an unquoted comma.")
            continue
        values = {column: value.strip() for column, value in zip(header, cells)}
        for column, value in values.items():
            if value[:1] == "'":
                values[column] = cell(value)
        try:
            row_source, external_id, fields = convert(values, context)
        except RowProblem as problem:
            yield RowError(line, "" if problem.secret and problem.column == "external_id" else raw_id[:500],
                           str(problem), secret=problem.secret)
            continue
        yield ParsedRow(line, row_source, external_id, fields)


def parse(binary_stream, context: ImportContext | None = None) -> Iterator[ParsedRow | RowError]:
    """Stream the rows of a soc2hub CSV (see the module docstring)."""
    return unique_keys(_records(binary_stream, context or ImportContext()))


def count_rows(binary_stream) -> int:
    return count_csv_records(binary_stream)
