"""Recurring evidence: the standard (template), each period's request, and what teams submit."""

import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from controls.models import Control
from soc2hub.models import Team


class Cadence(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMI_ANNUAL = "semi_annual", "Semi-annual"
    ANNUAL = "annual", "Annual"
    ONE_OFF = "one_off", "One-off"


def default_reviewer_group():
    return Group.objects.get_or_create(name="Security")[0].pk


class EvidenceTemplate(models.Model):
    """The standard for one recurring piece of evidence, written by Security: what is needed,
    from which system, for which period, in what form, from which team, by when."""

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="evidence_templates")
    title = models.CharField(max_length=200)
    instructions = models.TextField(help_text="What to provide, from which system, covering which period.")
    acceptance_criteria = models.TextField(help_text="What Security checks before approving.")
    cadence = models.CharField(max_length=20, choices=Cadence.choices, default=Cadence.QUARTERLY)
    owner_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="evidence_templates",
        help_text="The team that provides the evidence. Defaults to the control's evidence owner.",
    )
    opens_days_after_period_end = models.SmallIntegerField(
        default=0, help_text="When the request opens, in days after the period ends (negative: before it ends)."
    )
    due_days_after_period_end = models.PositiveSmallIntegerField(
        default=14, help_text="When the evidence is due, in days after the period ends."
    )
    reviewer_group = models.ForeignKey(Group, on_delete=models.PROTECT, default=default_reviewer_group,
                                       related_name="+")
    starts_on = models.DateField(
        default=timezone.localdate, help_text="Requests are opened for periods ending on or after this date."
    )
    one_off_period_end = models.DateField(null=True, blank=True,
                                          help_text="For one-off evidence: the date it is measured at.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["control__ref", "title"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(cadence="one_off") | Q(one_off_period_end__isnull=False),
                name="evidencetemplate_one_off_has_date",
            ),
            models.CheckConstraint(
                condition=Q(due_days_after_period_end__gte=models.F("opens_days_after_period_end")),
                name="evidencetemplate_due_not_before_open",
            ),
        ]

    def __str__(self):
        return f"{self.control.ref} · {self.title}"

    def get_absolute_url(self):
        return reverse("evidence:template_detail", args=[self.pk])

    def clean(self):
        if self.cadence == Cadence.ONE_OFF and not self.one_off_period_end:
            raise ValidationError({"one_off_period_end": "A one-off request needs the date it is measured at."})
        if self.due_days_after_period_end < self.opens_days_after_period_end:
            raise ValidationError({"due_days_after_period_end": "The due date cannot come before the request opens."})


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    SUBMITTED = "submitted", "Submitted"
    RETURNED = "returned", "Returned"
    APPROVED = "approved", "Approved"


AWAITING_TEAM = (RequestStatus.OPEN, RequestStatus.RETURNED)


class EvidenceRequestQuerySet(models.QuerySet):
    def awaiting_team(self):
        return self.filter(status__in=AWAITING_TEAM)

    def overdue(self, today=None):
        return self.awaiting_team().filter(due_on__lt=today or timezone.localdate())

    def due_soon(self, today=None, days: int = 7):
        today = today or timezone.localdate()
        return self.awaiting_team().filter(due_on__gte=today, due_on__lte=today + timezone.timedelta(days=days))


class EvidenceRequest(models.Model):
    """One period's request for one template's evidence, addressed to the owning team."""

    template = models.ForeignKey(EvidenceTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="requests",
                                 help_text="Empty for a one-off request raised by an auditor (see audits).")
    control = models.ForeignKey(Control, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="evidence_requests",
                                help_text="Empty only for an auditor's request about a criterion as a whole.")
    owner_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="evidence_requests")
    title = models.CharField(max_length=250)
    period_start = models.DateField()
    period_end = models.DateField()
    period_label = models.CharField(max_length=20)
    opens_on = models.DateField()
    due_on = models.DateField(db_index=True)
    status = models.CharField(max_length=20, choices=RequestStatus.choices, default=RequestStatus.OPEN,
                              db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EvidenceRequestQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            # Exactly one request per template and period, whatever runs the scheduler.
            models.UniqueConstraint(fields=["template", "period_start"], name="evidencerequest_one_per_period"),
        ]
        indexes = [models.Index(fields=["owner_team", "status", "due_on"])]

    def __str__(self):
        return f"{self.title} ({self.period_label})"

    def get_absolute_url(self):
        return reverse("evidence:request_detail", args=[self.pk])

    @property
    def reviewer_group_id(self) -> int:
        """Who reviews the evidence: the standard's reviewing group; Security for an auditor's request."""
        if self.template_id:
            return self.template.reviewer_group_id
        return default_reviewer_group()

    @property
    def is_audit_request(self) -> bool:
        return self.template_id is None

    @property
    def instructions(self) -> str:
        if self.template_id:
            return self.template.instructions
        audit_request = self.audit_request
        return f"Requested by the auditors of {audit_request.audit}: {audit_request.description}"

    @property
    def acceptance_criteria(self) -> str:
        if self.template_id:
            return self.template.acceptance_criteria
        return "It answers the auditor's request in full; the auditor accepts it or returns it after Security approves."

    @property
    def cadence(self) -> str:
        return self.template.cadence if self.template_id else Cadence.ONE_OFF

    def is_overdue(self, today=None) -> bool:
        return self.status in AWAITING_TEAM and self.due_on < (today or timezone.localdate())

    def days_until_due(self, today=None) -> int:
        return (self.due_on - (today or timezone.localdate())).days


class EvidenceStatus(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    APPROVED = "approved", "Approved"
    RETURNED = "returned", "Returned"


class ImmutableEvidenceError(ValidationError):
    pass


class ImmutableQuerySet(models.QuerySet):
    """Bulk writes would step around the model's own refusals, so they are refused too."""

    def update(self, **kwargs):
        if self.filter(**self.model.IMMUTABLE_WHEN).exists():
            raise ImmutableEvidenceError("Approved evidence cannot change; submit new evidence instead.")
        return super().update(**kwargs)

    def delete(self):
        raise ImmutableEvidenceError("Evidence is never deleted.")


class Evidence(models.Model):
    """One submission to a request: files and/or a link to a system record, with a note.
    Once approved it never changes; a correction is a new submission."""

    request = models.ForeignKey(EvidenceRequest, on_delete=models.PROTECT, related_name="submissions")
    note = models.TextField(blank=True)
    link = models.URLField(max_length=1000, blank=True, help_text="A link to the record in its system.")
    status = models.CharField(max_length=20, choices=EvidenceStatus.choices, default=EvidenceStatus.PENDING,
                              db_index=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(blank=True)

    IMMUTABLE_WHEN = {"status": EvidenceStatus.APPROVED}
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name_plural = "evidence"

    def __str__(self):
        return f"Evidence #{self.pk} for {self.request}"

    def get_absolute_url(self):
        return self.request.get_absolute_url() + f"#evidence-{self.pk}"

    def save(self, *args, **kwargs):
        if self.pk and Evidence.objects.filter(pk=self.pk, status=EvidenceStatus.APPROVED).exists():
            raise ImmutableEvidenceError("Approved evidence cannot change; submit new evidence instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableEvidenceError("Evidence is never deleted; a returned submission stays in the history.")


def evidence_upload_to(instance, filename):
    request_id = instance.evidence.request_id
    return f"evidence/{request_id}/{uuid.uuid4().hex}/{filename}"


class EvidenceFile(models.Model):
    """A file within a submission, with the facts needed to trust it later."""

    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="files")
    file = models.FileField(upload_to=evidence_upload_to, max_length=500)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    content_type = models.CharField(max_length=120)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    IMMUTABLE_WHEN = {}  # every stored file, approved or not
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.original_name

    def get_download_url(self):
        return reverse("evidence:file_download", args=[self.pk])

    def save(self, *args, **kwargs):
        if self.pk:
            raise ImmutableEvidenceError("An uploaded file never changes; upload a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableEvidenceError("Uploaded files are kept with their hash.")


class ReminderKind(models.TextChoices):
    BEFORE_DUE = "before_due", "Reminder before the due date"
    DUE_TODAY = "due_today", "Due today"
    ESCALATION = "escalation", "Overdue escalation"


class EvidenceReminder(models.Model):
    """A reminder that was sent. The unique key makes every reminder go out once, however
    often the daily job runs: ``key`` is the days before due, or the week of lateness."""

    request = models.ForeignKey(EvidenceRequest, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    key = models.SmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.TextField(blank=True)

    class Meta:
        ordering = ["sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "kind", "key"], name="evidencereminder_once"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.key}) for {self.request}"


class TeamDigest(models.Model):
    """The weekly digest sent to a team, once per ISO week."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="digests")
    week = models.CharField(max_length=10, help_text="ISO week, e.g. 2026-W48")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "week"], name="teamdigest_once_per_week")]


def new_calendar_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A team's iCal feed of due dates, behind a secret URL that can be revoked."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="calendar_feeds")
    token = models.CharField(max_length=64, unique=True, default=new_calendar_token)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Calendar feed for {self.team}"

    def get_absolute_url(self):
        return reverse("evidence:calendar_feed", args=[self.token])
