"""Building blocks for evidence tests: templates, requests, submissions and hostile files.

Plain functions rather than factory classes: each test says which template, period and
status it needs, and these fill in the rest the way the daily job and the services would.
"""

import datetime as dt
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence import services
from evidence.models import Cadence, EvidenceRequest, EvidenceTemplate, RequestStatus
from evidence.periods import period_containing
from tests.factories import ControlFactory

# --- templates and requests ------------------------------------------------------------------


def unsaved_template(cadence=Cadence.QUARTERLY, *, starts_on=dt.date(2026, 1, 1), opens=0, due=14,
                     one_off_period_end=None) -> EvidenceTemplate:
    """A template for period arithmetic only: never saved, so no database is needed
    (``reviewer_group_id`` is given so its default does not query the Group table)."""
    return EvidenceTemplate(cadence=cadence, starts_on=starts_on, opens_days_after_period_end=opens,
                            due_days_after_period_end=due, one_off_period_end=one_off_period_end,
                            reviewer_group_id=None)


def make_template(team, *, control=None, cadence=Cadence.QUARTERLY, starts_on=dt.date(2026, 1, 1), opens=0,
                  due=14, title=None, **fields) -> EvidenceTemplate:
    """A saved evidence standard for ``team`` (written straight to the table, as seed data would be)."""
    control = control or ControlFactory(evidence_owner=team, control_owner=team, business_owner=team)
    return EvidenceTemplate.objects.create(
        control=control, owner_team=team, cadence=cadence, starts_on=starts_on,
        title=title or f"{team.name} {cadence} evidence",
        instructions="Export the list from the system of record.",
        acceptance_criteria="Covers the whole period; shows who approved each entry.",
        opens_days_after_period_end=opens, due_days_after_period_end=due, **fields,
    )


def make_request(template, *, due_on, period_start=None, status=RequestStatus.OPEN, opens_on=None,
                 label=None) -> EvidenceRequest:
    """One period's request with the due date the test needs. The period is the template's
    period containing ``period_start`` (by default the day ``due_on`` implies for the period end)."""
    nominal_end = due_on - dt.timedelta(days=template.due_days_after_period_end)
    cadence = "monthly" if template.cadence == Cadence.ONE_OFF else template.cadence
    period = period_containing(cadence, period_start or nominal_end)
    return EvidenceRequest.objects.create(
        template=template, control=template.control, owner_team=template.owner_team, title=template.title,
        period_start=period.start, period_end=period.end, period_label=label or period.label,
        opens_on=opens_on or nominal_end + dt.timedelta(days=template.opens_days_after_period_end),
        due_on=due_on, status=status,
    )


def submit(request, user, *files, note="", link=""):
    """Submit through the service, the way the page and the API do."""
    return services.evidence_submit(request=request, actor=user, files=list(files), note=note, link=link)


# --- files -----------------------------------------------------------------------------------

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode.\r\n"
LINUX_ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 40


def png_bytes() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def zip_bytes(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


CONTENT_TYPES_XML = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def xlsx_bytes() -> bytes:
    return zip_bytes({
        "[Content_Types].xml": CONTENT_TYPES_XML,
        "_rels/.rels": "<Relationships/>",
        "xl/workbook.xml": "<workbook><sheets><sheet name='Leavers'/></sheets></workbook>",
        "xl/worksheets/sheet1.xml": "<worksheet/>",
    })


def docx_bytes() -> bytes:
    return zip_bytes({
        "[Content_Types].xml": CONTENT_TYPES_XML,
        "_rels/.rels": "<Relationships/>",
        "word/document.xml": "<document><body><p>Termination checklist</p></body></document>",
    })


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    """A file as the browser would send it; ``content_type`` is the client's claim, never trusted."""
    return SimpleUploadedFile(name, content, content_type=content_type)


def pdf(name="termination-tickets.pdf", content=MINIMAL_PDF) -> SimpleUploadedFile:
    return upload(name, content, "application/pdf")


# --- what is stored --------------------------------------------------------------------------


def stored_files() -> set[str]:
    """Every file under MEDIA_ROOT, relative to it (directories do not count)."""
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return set()
    return {os.path.relpath(os.path.join(here, name), root) for here, _dirs, names in os.walk(root) for name in names}
