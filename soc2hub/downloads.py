"""Stored files sent as attachments no browser renders or sniffs (uploads and reports are
untrusted content). Shared by the pages' downloads and the API's, so both send the same headers."""

import mimetypes

from django.http import FileResponse


def attachment(handle, *, filename: str, content_type: str | None = None) -> FileResponse:
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def file_attachment(evidence_file) -> FileResponse:
    """An uploaded evidence file (``evidence.models.EvidenceFile``)."""
    return attachment(evidence_file.file.open("rb"), filename=evidence_file.original_name,
                      content_type=evidence_file.content_type)


def report_attachment(job, handle) -> FileResponse:
    """A generated report (``audits.models.ReportJob``), from the open ``handle`` of its file."""
    return attachment(handle, filename=job.download_name)
