"""Checking that every stored file is still the one recorded: re-hash it and compare.

A SOC 2 auditor trusts evidence because its SHA-256 was recorded at upload and never changes. This
re-reads every stored file (in chunks, one row at a time, so memory stays flat however many there
are), recomputes the hash and lists each file whose bytes no longer match or that is gone. The
``verify_evidence`` command and the weekly ``evidence.verify`` job both call ``stored_files_verify``.

Other apps add their own hashed files (audit reports) with ``register_source`` from ``ready()``.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from evidence.models import EvidenceFile
from evidence.storage import sha256_of_storage_file
from soc2hub.notifications import notify, security_people
from soc2hub.services import activity_record

logger = logging.getLogger(__name__)

MISMATCH = "mismatch"
MISSING = "missing"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class StoredFile:
    """One file with a recorded hash, and what it belongs to in the product's words."""

    label: str  # "evidence file #12" or "report #3"
    file: object  # a FieldFile
    recorded_sha256: str
    request: str = ""
    control: str = ""
    period: str = ""


@dataclass(frozen=True)
class Problem:
    kind: str  # MISMATCH, MISSING or UNREADABLE
    label: str
    name: str
    request: str
    control: str
    period: str
    recorded_sha256: str
    actual_sha256: str = ""
    error: str = ""

    def describe(self) -> str:
        where = "; ".join(part for part in (
            f"request {self.request}" if self.request else "",
            f"control {self.control}" if self.control else "",
            f"period {self.period}" if self.period else "",
        ) if part)
        head = f"{self.label} {self.name}" + (f" ({where})" if where else "")
        if self.kind == MISMATCH:
            return f"{head}: its content changed. Recorded SHA-256 {self.recorded_sha256}, now {self.actual_sha256}."
        if self.kind == MISSING:
            return f"{head}: the file is missing from storage. Recorded SHA-256 {self.recorded_sha256}."
        return f"{head}: the file could not be read ({self.error}). Recorded SHA-256 {self.recorded_sha256}."


@dataclass
class VerificationResult:
    total: int = 0
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def figures(self) -> dict:
        return {"checked": self.checked, "mismatched": self.count(MISMATCH), "missing": self.count(MISSING),
                "unreadable": self.count(UNREADABLE)}

    def summary(self) -> str:
        figures = self.figures()
        if self.ok:
            return f"{self.checked} stored files checked; every one matches its recorded SHA-256."
        return (f"{self.checked} stored files checked: {figures['mismatched']} changed, {figures['missing']} missing, "
                f"{figures['unreadable']} unreadable.")


# A source returns (how many, the files) for an optional team slug and upload date.
Source = Callable[..., tuple[int, Iterator[StoredFile]]]
_SOURCES: list[Source] = []


def register_source(source: Source) -> Source:
    _SOURCES.append(source)
    return source


@register_source
def evidence_files(*, team: str | None = None, since: dt.date | None = None) -> tuple[int, Iterator[StoredFile]]:
    rows = EvidenceFile.objects.order_by("pk")
    if team:
        rows = rows.filter(evidence__request__owner_team__slug=team)
    if since:
        rows = rows.filter(uploaded_at__date__gte=since)

    def files():
        for record in rows.select_related("evidence__request__control").iterator(chunk_size=500):
            request = record.evidence.request
            yield StoredFile(label=f"evidence file #{record.pk}", file=record.file, recorded_sha256=record.sha256,
                             request=f"#{request.pk} {request.title}",
                             control=request.control.ref if request.control_id else "",
                             period=request.period_label)

    return rows.count(), files()


def _check(item: StoredFile) -> Problem | None:
    problem = {"label": item.label, "name": item.file.name, "request": item.request, "control": item.control,
               "period": item.period, "recorded_sha256": item.recorded_sha256}
    try:
        actual = sha256_of_storage_file(item.file)
    except FileNotFoundError:
        return Problem(kind=MISSING, **problem)
    except Exception as exc:  # object storage reports a missing key in its own way
        try:
            gone = not item.file.storage.exists(item.file.name)
        except Exception:
            gone = False
        if gone:
            return Problem(kind=MISSING, **problem)
        return Problem(kind=UNREADABLE, error=f"{type(exc).__name__}: {exc}", **problem)
    if actual != item.recorded_sha256:
        return Problem(kind=MISMATCH, actual_sha256=actual, **problem)
    return None


def stored_files_verify(*, team: str | None = None, since: dt.date | None = None,
                        progress: Callable[[int, int], None] | None = None) -> VerificationResult:
    """Re-hash every stored file (of ``team``'s requests, uploaded on or after ``since``) and
    compare with the recorded SHA-256. ``progress(checked, total)`` is called after each file."""
    result = VerificationResult()
    batches = [source(team=team, since=since) for source in _SOURCES]
    result.total = sum(count for count, _files in batches)
    for _count, files in batches:
        for item in files:
            problem = _check(item)
            if problem is not None:
                result.problems.append(problem)
                logger.warning("stored file failed verification: %s", problem.describe())
            result.checked += 1
            if progress is not None:
                progress(result.checked, result.total)
    return result


def weekly_verification_run(*, as_of: dt.date) -> dict:
    """The weekly job: on ``EVIDENCE_VERIFY_WEEKDAY`` verify everything, record the outcome in the
    activity log and, when anything is wrong, tell Security once in words."""
    if as_of.weekday() != settings.EVIDENCE_VERIFY_WEEKDAY:
        return {"skipped": "not the verification day"}
    result = stored_files_verify()
    with transaction.atomic():
        activity_record(actor=None, verb="evidence.verified", after=result.figures(), message=result.summary())
        if not result.ok:
            notify(users=security_people(), kind="evidence_integrity",
                   subject=f"Stored evidence failed its integrity check: {result.summary()}",
                   template="evidence_integrity", url=reverse("activity_list"),
                   context={"result": result, "problems": [p.describe() for p in result.problems[:50]],
                            "more": max(0, len(result.problems) - 50), "as_of": as_of})
    return result.figures()
