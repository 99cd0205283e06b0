"""The organisation every app shares: people, teams, role groups and the activity log."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Role(models.TextChoices):
    """Role groups. Team members act as owners; these groups add programme-wide roles."""

    SECURITY = "Security"
    LEADERSHIP = "Leadership"
    AUDITORS = "Auditors"


class User(AbstractUser):
    """A person. People are deactivated when they leave, never deleted: the log points at them."""

    def __str__(self):
        return self.get_full_name() or self.username

    def group_names(self) -> set[str]:
        if not hasattr(self, "_group_names"):
            self._group_names = set(self.groups.values_list("name", flat=True))
        return self._group_names

    @property
    def is_security(self) -> bool:
        return self.is_active and (self.is_superuser or Role.SECURITY in self.group_names())

    @property
    def is_leadership(self) -> bool:
        return self.is_active and Role.LEADERSHIP in self.group_names()

    @property
    def is_auditor(self) -> bool:
        return self.is_active and Role.AUDITORS in self.group_names()

    @property
    def is_external_auditor(self) -> bool:
        """An auditor from the audit firm: in the Auditors group, in no team and no other role.
        They see the programme only through the audits they are assigned to."""
        return self.is_auditor and not self.is_security and not self.is_leadership and not self.team_ids()

    def team_ids(self) -> set[int]:
        if not hasattr(self, "_team_ids"):
            self._team_ids = set(self.memberships.values_list("team_id", flat=True))
        return self._team_ids


class TeamFunction(models.TextChoices):
    SECURITY = "security", "Security"
    LEGAL = "legal", "Legal"
    HR = "hr", "HR"
    ENGINEERING = "engineering", "Engineering"
    FINANCE = "finance", "Finance"
    PROCUREMENT = "procurement", "Procurement"
    LEADERSHIP = "leadership", "Leadership"
    IT = "it", "IT"
    OTHER = "other", "Other"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    function = models.CharField(max_length=20, choices=TeamFunction.choices, default=TeamFunction.OTHER)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="teams_led"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    email = models.EmailField(blank=True, help_text="Shared mailbox; members are e-mailed when empty.")

    class Meta:
        ordering = ["name"]
        permissions = [("manage_team", "Can manage the team's members")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("team_detail", args=[self.slug])

    @property
    def is_security(self) -> bool:
        return self.function == TeamFunction.SECURITY


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]

    def __str__(self):
        return f"{self.user} in {self.team}"


class AppendOnlyError(ValidationError):
    pass


class ActivityLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The activity log is append-only.")

    def delete(self):
        raise AppendOnlyError("The activity log is append-only.")

    def for_object(self, obj):
        return self.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))


class ActivityLog(models.Model):
    """Who did what to which object, and when. Written in the same transaction as the change.

    Rows are never changed or removed: the model refuses it, the admin offers no way to,
    and a database trigger (see migration 0002) rejects UPDATE (and DELETE on PostgreSQL).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verb = models.CharField(max_length=80, db_index=True)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ActivityLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-created_at"])]

    def __str__(self):
        who = self.actor or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M} {who} {self.verb} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("The activity log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The activity log is append-only.")


class EmailStatus(models.TextChoices):
    NONE = "none", "No e-mail"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """An in-app notice for one person; e-mail carries the same text."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=250)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # The e-mail twin, an outbox row: written in the transaction with the notice, sent by a task
    # after commit, retried, and swept up again if its task was lost with the broker.
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.NONE)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            models.Index(fields=["email_status", "created_at"], name="notification_email_outbox",
                         condition=models.Q(email_status__in=["queued", "sending"])),
        ]

    def __str__(self):
        return self.title


class JobRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class JobRun(models.Model):
    """One daily job for one day: claimed by inserting the row (unique per job and day), so two
    beats or two workers never run the same job twice; a failure is kept with its error."""

    job = models.CharField(max_length=80)
    day = models.DateField()
    status = models.CharField(max_length=10, choices=JobRunStatus.choices, default=JobRunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=1)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "job"]
        constraints = [models.UniqueConstraint(fields=["job", "day"], name="one_run_per_job_and_day")]
        indexes = [models.Index(fields=["job", "-day"])]

    def __str__(self):
        return f"{self.job} for {self.day:%Y-%m-%d}: {self.get_status_display().lower()}"

    @property
    def is_failed(self) -> bool:
        return self.status == JobRunStatus.FAILED

    @property
    def badge(self) -> str:
        """The Bootstrap badge colour of its status."""
        return {JobRunStatus.DONE: "text-bg-success", JobRunStatus.FAILED: "text-bg-danger"}.get(
            self.status, "text-bg-info")

    @property
    def seconds(self) -> float | None:
        """How long the last attempt took, once it finished."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @property
    def figures(self) -> dict:
        """What the job reported, without its timing."""
        return {k: v for k, v in (self.result or {}).items() if k != "seconds"}

    @property
    def error_summary(self) -> str:
        """The error's first line: the exception's type and message."""
        return self.error.split("\n", 1)[0]
