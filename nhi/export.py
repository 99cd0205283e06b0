"""CSV export of any (filtered) list of non-human identities, in the soc2hub CSV import format,
so an export re-imports cleanly.

Cells a spreadsheet would run as a formula — starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return — get a leading ``'`` (OWASP's advice on CSV injection); the importer drops
that quote again. Rows are read with ``.iterator(chunk_size=2000)``, so a 100,000-row export
streams with flat memory. Use it like::

    response = StreamingHttpResponse(export.csv_rows(queryset), content_type="text/csv")
"""

import csv
from collections.abc import Iterator

from nhi.importers.base import FORMULA_STARTS
from nhi.importers.csv_format import COLUMNS
from nhi.models import NonHumanIdentity

CHUNK = 2_000


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it, never as a formula it runs."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def row_of(nhi: NonHumanIdentity) -> list[str]:
    values = {
        "external_id": nhi.external_id,
        "source": nhi.source,
        "name": nhi.name,
        "kind": nhi.kind,
        "status": nhi.status,
        "owner_team": nhi.owner_team.slug if nhi.owner_team_id else "",
        "technical_owner": nhi.technical_owner.username if nhi.technical_owner_id else "",
        "provider": nhi.provider,
        "environment": nhi.environment,
        "purpose": nhi.purpose,
        "scopes": ";".join(nhi.scope_list()),
        "has_admin_access": "true" if nhi.has_admin_access else "false",
        "has_production_access": "true" if nhi.has_production_access else "false",
        "vendor": nhi.vendor,
        "secret_location": nhi.secret_location,
        "credential_fingerprint": nhi.credential_fingerprint,
        "rotation_interval_days": "none" if nhi.rotation_interval_days is None else str(nhi.rotation_interval_days),
        "owasp_tags": ";".join(nhi.owasp_tags or []),
    }
    for name in ("created_on", "last_used_on", "last_rotated_on", "expires_on"):
        value = getattr(nhi, name)
        values[name] = value.isoformat() if value else ""
    return [safe_cell(values[column] or "") for column in COLUMNS]


def _rows(queryset) -> Iterator[list[str]]:
    yield list(COLUMNS)
    for nhi in queryset.select_related("owner_team", "technical_owner").iterator(chunk_size=CHUNK):
        yield row_of(nhi)


class _Line:
    """A file-like target for ``csv.writer`` that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_rows(queryset, *, byte_order_mark: bool = False) -> Iterator[str]:
    """The export as lines of text (header first), for a ``StreamingHttpResponse``. A byte-order
    mark helps Excel read UTF-8; the importer accepts files with or without one."""
    writer = csv.writer(_Line())
    if byte_order_mark:
        yield "\ufeff"
    for row in _rows(queryset):
        yield writer.writerow(row)


def write_csv(queryset, stream_or_writer) -> int:
    """Write the export to a text stream (opened with ``newline=""``) or a ``csv.writer``;
    returns the number of identities written."""
    writer = stream_or_writer if hasattr(stream_or_writer, "writerow") else csv.writer(stream_or_writer)
    count = -1
    for row in _rows(queryset):
        writer.writerow(row)
        count += 1
    return count
