"""Audit reports keep the SHA-256 of the file they produced; the evidence check re-hashes them too."""

import datetime as dt

from audits.models import ReportJob, ReportStatus
from evidence.verification import StoredFile


def report_files(*, team: str | None = None, since: dt.date | None = None):
    """Every finished report with a recorded hash. Reports belong to an audit, not a team, so a
    check of one team's evidence leaves them out."""
    if team:
        return 0, iter(())
    rows = ReportJob.objects.filter(status=ReportStatus.DONE).exclude(sha256="").exclude(file="").order_by("pk")
    if since:
        rows = rows.filter(created_at__date__gte=since)

    def files():
        for report in rows.select_related("audit").iterator(chunk_size=500):
            yield StoredFile(label=f"report #{report.pk}", file=report.file, recorded_sha256=report.sha256,
                             request=f"{report.get_kind_display()} for {report.audit}")

    return rows.count(), files()
