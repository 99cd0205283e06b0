"""Type II coverage: for every criterion in scope and every control mapped to it, the periods
the window expects (from each evidence standard's cadence) against the periods with approved
evidence.

A period belongs to the window when it *ends* inside it: a quarter that ends on the window's
first day is tested, one that ends the day after the window is not. A Type I audit expects,
of each standard, the latest period ending on or before its as-of date.

Five queries whatever the size of the audit: criteria, the control mapping, controls,
standards, and the requests of the window.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from audits.models import Audit, AuditType
from controls.models import Control
from evidence.models import EvidenceRequest, EvidenceTemplate, RequestStatus
from evidence.periods import Period
from evidence.services import template_periods

APPROVED = "approved"
IN_PROGRESS = "in_progress"  # requested, not yet approved, still within its due date
GAP = "gap"  # due date passed without approved evidence (or never requested)

STATE_LABELS = {APPROVED: "Approved evidence", IN_PROGRESS: "Not yet due or in review", GAP: "Gap"}


@dataclass
class Cell:
    period: Period
    due_on: dt.date
    state: str
    request_id: int | None = None
    request_status: str = ""

    @property
    def label(self) -> str:
        return self.period.label

    def as_dict(self) -> dict:
        return {"period": self.period.label, "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(), "due_on": self.due_on.isoformat(), "state": self.state,
                "request": self.request_id, "request_status": self.request_status or None}


@dataclass
class StandardRow:
    template: EvidenceTemplate
    cells: list[Cell]

    @property
    def expected(self) -> int:
        return len(self.cells)

    @property
    def approved(self) -> int:
        return sum(c.state == APPROVED for c in self.cells)

    @property
    def gaps(self) -> int:
        return sum(c.state == GAP for c in self.cells)


class _Totals:
    """``expected``, ``approved`` and ``gaps`` of a row: the sums over the rows below it."""

    def _below(self) -> list:
        raise NotImplementedError

    @property
    def expected(self) -> int:
        return sum(row.expected for row in self._below())

    @property
    def approved(self) -> int:
        return sum(row.approved for row in self._below())

    @property
    def gaps(self) -> int:
        return sum(row.gaps for row in self._below())


@dataclass
class ControlRow(_Totals):
    control: Control
    standards: list[StandardRow] = field(default_factory=list)

    def _below(self):
        return self.standards

    @property
    def has_standard(self) -> bool:
        return bool(self.standards)

    @property
    def has_gap(self) -> bool:
        return not self.has_standard or self.gaps > 0


@dataclass
class CriterionRow(_Totals):
    criterion: object
    controls: list[ControlRow]

    def _below(self):
        return self.controls

    @property
    def has_gap(self) -> bool:
        return not self.controls or any(c.has_gap for c in self.controls)


@dataclass
class Coverage(_Totals):
    audit: Audit
    today: dt.date
    criteria: list[CriterionRow]
    controls: list[ControlRow]

    def _below(self):
        return self.controls  # each control once, however many criteria it answers

    @property
    def in_progress(self) -> int:
        return self.expected - self.approved - self.gaps

    @property
    def percent(self) -> int:
        return round(100 * self.approved / self.expected) if self.expected else 0

    @property
    def controls_without_standard(self) -> list[ControlRow]:
        return [c for c in self.controls if not c.has_standard]

    @property
    def criteria_without_controls(self) -> list[CriterionRow]:
        return [c for c in self.criteria if not c.controls]

    def as_dict(self) -> dict:
        def control(row: ControlRow) -> dict:
            return {
                "ref": row.control.ref, "name": row.control.name, "expected": row.expected,
                "approved": row.approved, "gaps": row.gaps, "has_standard": row.has_standard,
                "standards": [{"id": s.template.pk, "title": s.template.title, "cadence": s.template.cadence,
                               "expected": s.expected, "approved": s.approved, "gaps": s.gaps,
                               "periods": [c.as_dict() for c in s.cells]} for s in row.standards],
            }

        return {
            "audit": self.audit.pk, "window_start": self.audit.window_start.isoformat(),
            "window_end": self.audit.window_end.isoformat(), "as_of": self.today.isoformat(),
            "expected": self.expected, "approved": self.approved, "gaps": self.gaps,
            "in_progress": self.in_progress, "percent": self.percent,
            "criteria": [{"code": row.criterion.code, "title": row.criterion.title, "expected": row.expected,
                          "approved": row.approved, "gaps": row.gaps,
                          "controls": [control(c) for c in row.controls]} for row in self.criteria],
        }


def expected_periods(template: EvidenceTemplate, audit: Audit) -> list[tuple[Period, dt.date]]:
    """The periods of ``template`` the audit expects evidence for, each with its due date."""
    start, end = audit.window_start, audit.window_end
    until = end + dt.timedelta(days=template.opens_days_after_period_end)  # every period ending by ``end``
    periods = [(period, due_on) for period, _opens, due_on in template_periods(template, until=until, since=start)
               if start <= period.end <= end]
    if audit.type == AuditType.TYPE_1:
        return periods[-1:]
    return periods


def _state(request: dict | None, due_on: dt.date, today: dt.date) -> str:
    if request and request["status"] == RequestStatus.APPROVED:
        return APPROVED
    if request and request["status"] == RequestStatus.SUBMITTED:
        return IN_PROGRESS  # submitted: with Security, whatever the date
    due = request["due_on"] if request else due_on
    return GAP if due < today else IN_PROGRESS


def _cell(period: Period, due_on: dt.date, request: dict | None, today: dt.date) -> Cell:
    return Cell(period, request["due_on"] if request else due_on, _state(request, due_on, today),
                request["pk"] if request else None, request["status"] if request else "")


def audit_coverage(audit: Audit, *, today: dt.date | None = None) -> Coverage:
    today = today or timezone.localdate()
    criteria = list(audit.criteria().order_by("sort_order", "code"))
    mapping = defaultdict(list)
    for criterion_id, control_id in (Control.criteria.through.objects.filter(criterion__in=[c.pk for c in criteria])
                                     .values_list("criterion_id", "control_id")):
        mapping[criterion_id].append(control_id)
    controls = {c.pk: ControlRow(c) for c in audit.controls().select_related(
        "business_owner", "control_owner", "evidence_owner").order_by("ref")}
    in_window = Q(requests__period_end__gte=audit.window_start, requests__period_end__lte=audit.window_end)
    templates = list(
        EvidenceTemplate.objects.filter(control_id__in=controls.keys())
        .filter(Q(is_active=True, starts_on__lte=audit.window_end) | in_window).distinct()
        .order_by("control__ref", "title")
    )
    requests = defaultdict(dict)
    for r in (EvidenceRequest.objects.filter(template__in=templates, period_end__gte=audit.window_start,
                                             period_end__lte=audit.window_end)
              .values("pk", "template_id", "period_start", "period_end", "period_label", "status", "due_on")):
        requests[r["template_id"]][r["period_start"]] = r
    for template in templates:
        opened = dict(requests[template.pk])
        cells = [_cell(period, due_on, opened.pop(period.start, None), today)
                 for period, due_on in expected_periods(template, audit)]
        if audit.type == AuditType.TYPE_2:
            # Periods requested under an earlier cadence (a standard's cadence changed during
            # the window) stay in the record: what was asked for and approved then still counts.
            cells += [_cell(Period(r["period_start"], r["period_end"], r["period_label"]), r["due_on"], r, today)
                      for r in opened.values()]
            cells.sort(key=lambda c: (c.period.end, c.period.start))
        if cells:
            controls[template.control_id].standards.append(StandardRow(template, cells))
    criterion_rows = [
        CriterionRow(c, [controls[pk] for pk in sorted(mapping[c.pk], key=lambda pk: controls[pk].control.ref)])
        for c in criteria
    ]
    return Coverage(audit, today, criterion_rows, list(controls.values()))
