"""Audit engagements: who audits what over which window, their requests (the PBC list),
their samples, the reports generated for them, and every page an auditor opened."""

import datetime as dt
import posixpath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from controls.models import Category, Control, Criterion
from evidence.models import EvidenceRequest, EvidenceTemplate


class AuditType(models.TextChoices):
    TYPE_1 = "type1", "Type I (design at a date)"
    TYPE_2 = "type2", "Type II (operation over a period)"


class AuditStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    FIELDWORK = "fieldwork", "Fieldwork"
    REPORTING = "reporting", "Reporting"
    CLOSED = "closed", "Closed"


# A Type I report is about design at one date; its evidence is the latest of each standard,
# so the window looks back one year: enough for an annual standard to have a period in it.
TYPE_1_LOOKBACK = dt.timedelta(days=365)


class Audit(models.Model):
    """One SOC 2 engagement with one audit firm."""

    name = models.CharField(max_length=200)
    firm = models.CharField("audit firm", max_length=200)
    type = models.CharField(max_length=10, choices=AuditType.choices, default=AuditType.TYPE_2)
    as_of = models.DateField("as-of date", null=True, blank=True, help_text="Type I: the date the report speaks to.")
    period_start = models.DateField("observation period start", null=True, blank=True)
    period_end = models.DateField("observation period end", null=True, blank=True)
    categories = models.JSONField(default=list, help_text="Trust services categories in scope; Security always is.")
    status = models.CharField(max_length=20, choices=AuditStatus.choices, default=AuditStatus.PLANNING,
                              db_index=True)
    auditors = models.ManyToManyField(settings.AUTH_USER_MODEL, through="AuditAuditor",
                                      through_fields=("audit", "user"), related_name="audits")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(type="type1", as_of__isnull=False)
                           | Q(type="type2", period_start__isnull=False, period_end__isnull=False,
                               period_start__lte=models.F("period_end"))),
                name="audit_window_matches_type",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("audits:detail", args=[self.pk])

    def clean(self):
        errors = {}
        if self.type == AuditType.TYPE_1 and not self.as_of:
            errors["as_of"] = "A Type I audit needs the date it speaks to."
        if self.type == AuditType.TYPE_2:
            if not self.period_start:
                errors["period_start"] = "A Type II audit needs the start of its observation period."
            if not self.period_end:
                errors["period_end"] = "A Type II audit needs the end of its observation period."
            if self.period_start and self.period_end and self.period_start > self.period_end:
                errors["period_end"] = "The observation period cannot end before it starts."
            elif self.period_start and self.period_end and (self.period_end - self.period_start).days > 731:
                errors["period_end"] = "An observation period is at most two years."
        unknown = set(self.categories or []) - set(Category.values)
        if unknown:
            errors["categories"] = f"Unknown categories: {', '.join(sorted(unknown))}."
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # Security is always in scope, and the list is kept in the catalog's order.
        chosen = set(self.categories or []) | {Category.SECURITY.value}
        self.categories = [c for c in Category.values if c in chosen]
        if self.type == AuditType.TYPE_1:
            self.period_start = self.period_end = None
        else:
            self.as_of = None
        super().save(*args, **kwargs)

    @property
    def window_start(self) -> dt.date:
        return self.period_start if self.type == AuditType.TYPE_2 else self.as_of - TYPE_1_LOOKBACK

    @property
    def window_end(self) -> dt.date:
        return self.period_end if self.type == AuditType.TYPE_2 else self.as_of

    @property
    def window_label(self) -> str:
        if self.type == AuditType.TYPE_1:
            return f"as of {self.as_of:%d %b %Y}"
        return f"{self.period_start:%d %b %Y} – {self.period_end:%d %b %Y}"

    def criteria(self):
        """The criteria in scope: those of the audit's categories."""
        return Criterion.objects.filter(category__in=self.categories)

    def controls(self):
        """The controls mapped to a criterion in scope."""
        return Control.objects.filter(pk__in=Control.criteria.through.objects.filter(
            criterion__category__in=self.categories).values("control_id"))

    def evidence_request_q(self, prefix: str = "") -> Q:
        """The evidence requests this audit covers, as a filter on ``EvidenceRequest`` (or on a
        model reaching it through ``prefix``, e.g. ``"evidence__request__"``): the recurring
        requests of in-scope controls whose period ends inside the window, and this audit's own
        auditor requests (never another audit's)."""
        recurring = Q(**{
            f"{prefix}template__isnull": False,
            f"{prefix}period_end__gte": self.window_start,
            f"{prefix}period_end__lte": self.window_end,
            f"{prefix}control_id__in": self.controls().values("pk"),
        })
        return recurring | Q(**{f"{prefix}audit_request__audit_id": self.pk})

    def get_categories_display(self) -> list[str]:
        return [Category(c).label for c in self.categories]

    @property
    def is_closed(self) -> bool:
        return self.status == AuditStatus.CLOSED


class AuditAuditor(models.Model):
    """An auditor assigned to an audit, until their access ends (the last day included)."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_assignments")
    access_ends_on = models.DateField(help_text="The last day the auditor can open this audit.")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [models.UniqueConstraint(fields=["audit", "user"], name="auditauditor_once")]

    def __str__(self):
        return f"{self.user} on {self.audit}"

    def is_current(self, today=None) -> bool:
        return self.access_ends_on >= (today or timezone.localdate())


class AuditRequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"


class AuditRequest(models.Model):
    """An auditor's request for evidence (an item on the PBC list). It is answered through an
    ordinary evidence request addressed to the control's evidence owner team: the same upload,
    review by Security and reminders. The auditor then accepts it or returns it."""

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="requests")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="What the auditor needs, for which period or population.")
    control = models.ForeignKey(Control, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    criterion = models.ForeignKey(Criterion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    status = models.CharField(max_length=20, choices=AuditRequestStatus.choices, default=AuditRequestStatus.OPEN)
    evidence_request = models.OneToOneField(EvidenceRequest, on_delete=models.PROTECT, related_name="audit_request")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["audit", "number"]
        constraints = [
            models.UniqueConstraint(fields=["audit", "number"], name="auditrequest_number_per_audit"),
            models.CheckConstraint(condition=Q(control__isnull=False) | Q(criterion__isnull=False),
                                   name="auditrequest_names_control_or_criterion"),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"PBC-{self.number}"

    def get_absolute_url(self):
        return reverse("audits:request_detail", args=[self.audit_id, self.number])

    @property
    def stage(self) -> str:
        """Where the request stands, in the auditor's words."""
        if self.status == AuditRequestStatus.ACCEPTED:
            return "accepted"
        return {"open": "with_team", "returned": "with_team", "submitted": "in_review",
                "approved": "ready"}[self.evidence_request.status]

    def get_stage_display(self) -> str:
        return {"accepted": "Accepted", "with_team": "With the team", "in_review": "In review by Security",
                "ready": "Ready for the auditor"}[self.stage]


class AuditComment(models.Model):
    """A comment on an auditor request. Comments are never edited or deleted."""

    audit_request = models.ForeignKey(AuditRequest, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Comment by {self.author} on {self.audit_request.reference}"

    def save(self, *args, **kwargs):
        if self.pk:
            raise ValidationError("Comments are not edited; add another one.")
        super().save(*args, **kwargs)


class Population(models.TextChoices):
    TEMPLATE_REQUESTS = "template_requests", "Every request of an evidence standard in the window"
    CONTROL_EVIDENCE = "control_evidence", "Every approved evidence file of a control in the window"
    NHIS_REVOKED = "nhis_revoked", "Every non-human identity revoked in the window"
    NHIS_CREATED = "nhis_created", "Every non-human identity created in the window"


class AuditSample(models.Model):
    """A random sample an auditor drew from a population. The population (ids, in order) and
    the seed are kept, so anyone can draw it again and get the same items."""

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="samples")
    population = models.CharField(max_length=30, choices=Population.choices)
    template = models.ForeignKey(EvidenceTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    control = models.ForeignKey(Control, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    population_ids = models.JSONField(default=list)
    size = models.PositiveIntegerField()
    seed = models.CharField(max_length=64)
    selected_ids = models.JSONField(default=list)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Sample of {self.size} from {self.get_population_display().lower()}"

    def get_absolute_url(self):
        return reverse("audits:sample_detail", args=[self.audit_id, self.pk])

    @property
    def population_size(self) -> int:
        return len(self.population_ids)


class ReportKind(models.TextChoices):
    OWNERSHIP_MATRIX = "ownership_matrix", "Ownership matrix"
    EVIDENCE_INDEX = "evidence_index", "Evidence index"
    EXCEPTION_REGISTER = "exception_register", "Exception register"
    NHI_SUMMARY = "nhi_summary", "NHI inventory summary"
    EVIDENCE_PACKAGE = "evidence_package", "Evidence package (ZIP)"


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ReportJob(models.Model):
    """A report generated in Celery for one audit, with its progress and the stored result."""

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="reports")
    kind = models.CharField(max_length=30, choices=ReportKind.choices)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED,
                              db_index=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    file = models.FileField(upload_to="reports/%Y/%m/", blank=True, max_length=500)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was sent to the queue; empty while it waits for the queue (it was down).")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the worker building it.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.audit}"

    def get_absolute_url(self):
        return reverse("audits:report_detail", args=[self.audit_id, self.pk])

    @property
    def progress_percent(self) -> int:
        if self.status == ReportStatus.DONE:
            return 100
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (ReportStatus.DONE, ReportStatus.FAILED)

    @property
    def download_name(self) -> str:
        """The file name a download is offered under: the audit, the kind and the job."""
        extension = posixpath.splitext(self.file.name)[1] or ".bin"
        return f"{slugify(self.audit.name) or 'audit'}-{self.kind.replace('_', '-')}-{self.pk}{extension}"


class AuditorAccessQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValidationError("The auditor access log is append-only.")

    def delete(self):
        raise ValidationError("The auditor access log is append-only.")


class AuditorAccess(models.Model):
    """One request an auditor made: every page, download, API call and refusal. Append-only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    audit = models.ForeignKey(Audit, null=True, blank=True, on_delete=models.PROTECT, related_name="access_log")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField()
    is_download = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditorAccessQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "auditor access log entry"
        verbose_name_plural = "auditor access log"
        indexes = [models.Index(fields=["audit", "-at"])]

    def __str__(self):
        return f"{self.user} {self.method} {self.path} → {self.status_code}"

    @property
    def was_refused(self) -> bool:
        return self.status_code in (401, 403, 404, 405)

    def save(self, *args, **kwargs):
        if self.pk:
            raise ValidationError("The auditor access log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The auditor access log is append-only.")
