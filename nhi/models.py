"""Non-human identities: service accounts, keys, OAuth apps, CI/CD secrets, bots and agents,
each with an accountable team, a rotation policy and a lifecycle."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, Case, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from controls.models import Control
from evidence.models import EvidenceRequest
from soc2hub.models import Team


class NhiKind(models.TextChoices):
    SERVICE_ACCOUNT = "service_account", "Service account"
    ACCESS_KEY = "access_key", "API key / access key"
    OAUTH_APP = "oauth_app", "OAuth app / third-party integration"
    CICD_SECRET = "cicd_secret", "CI/CD secret"
    BOT = "bot", "Bot or AI agent"
    CERTIFICATE = "certificate", "Certificate"
    SSH_KEY = "ssh_key", "SSH key"
    OTHER = "other", "Other"


class Environment(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    DEVELOPMENT = "development", "Development"
    SHARED = "shared", "Shared"


class NhiStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"
    REVOKED = "revoked", "Revoked"
    DECOMMISSIONED = "decommissioned", "Decommissioned"


LIVE_STATUSES = (NhiStatus.ACTIVE, NhiStatus.DISABLED)

# OWASP Non-Human Identities Top 10 (2025). Rotation and expiry are NHI7; offboarding is NHI1.
OWASP_NHI_TAGS = [
    ("NHI1:2025", "Improper Offboarding"),
    ("NHI2:2025", "Secret Leakage"),
    ("NHI3:2025", "Vulnerable Third-Party NHI"),
    ("NHI4:2025", "Insecure Authentication"),
    ("NHI5:2025", "Overprivileged NHI"),
    ("NHI6:2025", "Insecure Cloud Deployment Configurations"),
    ("NHI7:2025", "Long-Lived Secrets"),
    ("NHI8:2025", "Environment Isolation"),
    ("NHI9:2025", "NHI Reuse"),
    ("NHI10:2025", "Human Use of NHI"),
]

# Rotation policy by kind, in days (None: not rotated on a schedule). Access keys follow the
# 90-day default of AWS Config's access-keys-rotated rule and the CIS AWS benchmark.
DEFAULT_ROTATION_DAYS = {
    NhiKind.SERVICE_ACCOUNT: 180,
    NhiKind.ACCESS_KEY: 90,
    NhiKind.OAUTH_APP: 365,
    NhiKind.CICD_SECRET: 90,
    NhiKind.BOT: 180,
    NhiKind.CERTIFICATE: 365,
    NhiKind.SSH_KEY: 365,
    NhiKind.OTHER: None,
}


class NhiQuerySet(models.QuerySet):
    def with_state(self, today: dt.date | None = None):
        """Derived state in SQL, so lists can filter, sort and count on it:
        ``is_never_rotated``, ``is_rotation_overdue``, ``is_expiring_soon``, ``is_stale``, ``is_orphaned``.
        Only live identities (active or disabled) carry a state; revoked ones are done."""
        today = today or timezone.localdate()
        return self.annotate(**{name: _flag(condition) for name, condition in state_conditions(today).items()})

    def live(self):
        return self.filter(status__in=LIVE_STATUSES)


def state_conditions(today: dt.date) -> dict[str, Q]:
    stale_before = today - dt.timedelta(days=settings.NHI_STALE_DAYS)
    live = Q(status__in=LIVE_STATUSES)
    return {
        "is_never_rotated": live & Q(last_rotated_on__isnull=True),
        # A rotation asked for by a transfer or offboarding is owed whatever the schedule: the
        # previous holder may still know the secret, even for a kind with no interval.
        "is_rotation_overdue": live & (Q(rotation_required=True) | (Q(rotation_interval_days__isnull=False) & (
            Q(last_rotated_on__isnull=True) | Q(rotation_due_on__lt=today)
        ))),
        "is_expiring_soon": live & Q(expires_on__isnull=False,
                                     expires_on__lte=today + dt.timedelta(days=settings.NHI_EXPIRING_DAYS)),
        "is_stale": live & (Q(last_used_on__lt=stale_before) | Q(last_used_on__isnull=True, created_on__lt=stale_before)),
        "is_orphaned": Q(status=NhiStatus.ACTIVE) & (
            Q(owner_team__isnull=True) | Q(technical_owner__isnull=False, technical_owner__is_active=False)
            | Q(transfer_required=True)
        ),
    }


def _flag(condition: Q):
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


class NonHumanIdentity(models.Model):
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=30, choices=NhiKind.choices)
    provider = models.CharField(max_length=100, help_text="Provider or system, e.g. AWS, GitHub, Kubernetes.")
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.PRODUCTION)
    source = models.CharField(max_length=40, default="manual",
                              help_text="Where the record came from: manual, csv, aws-credential-report, "
                                        "k8s-serviceaccounts.")
    external_id = models.CharField(max_length=500, help_text="The identity's natural key in its source system.")
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="nhis")
    technical_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="nhis_owned")
    purpose = models.TextField(blank=True)
    scopes = models.TextField(blank=True, help_text="Privileges or scopes, one per line.")
    has_admin_access = models.BooleanField(default=False)
    has_production_access = models.BooleanField(default=False)
    vendor = models.CharField(max_length=200, blank=True, help_text="Third-party vendor behind it, if any.")
    secret_location = models.CharField(max_length=300, blank=True,
                                       help_text="Where its secret is kept, e.g. Vault path, GitHub secret name.")
    credential_fingerprint = models.CharField(
        max_length=100, blank=True,
        help_text="A masked value or fingerprint, never the secret itself (e.g. AKIA…7QXZ).",
    )
    created_on = models.DateField(null=True, blank=True)
    last_used_on = models.DateField(null=True, blank=True)
    last_rotated_on = models.DateField(null=True, blank=True)
    rotation_interval_days = models.PositiveIntegerField(null=True, blank=True)
    rotation_due_on = models.DateField(null=True, blank=True, editable=False,
                                       help_text="Last rotation plus the interval; kept by save() and the importers.")
    rotation_required = models.BooleanField(
        default=False, help_text="Set by a transfer or offboarding: rotate before the next use."
    )
    transfer_required = models.BooleanField(default=False,
                                            help_text="Set when its technical owner left: transfer or decommission.")
    expires_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=NhiStatus.choices, default=NhiStatus.ACTIVE, db_index=True)
    revoked_on = models.DateField(null=True, blank=True, editable=False,
                                  help_text="When it was revoked or decommissioned (auditors sample these).")
    controls = models.ManyToManyField(Control, related_name="nhis", blank=True)
    owasp_tags = models.JSONField(default=list, blank=True, help_text="OWASP NHI Top 10 (2025) identifiers.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NhiQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "non-human identity"
        verbose_name_plural = "non-human identities"
        constraints = [
            # The natural key: re-importing the same source never duplicates an identity.
            models.UniqueConstraint(fields=["source", "external_id"], name="nhi_unique_natural_key"),
        ]
        indexes = [
            models.Index(fields=["name", "id"]),  # the inventory's default order: no sort of the whole table
            models.Index(fields=["owner_team", "status"]),
            models.Index(fields=["kind", "status"]),
            models.Index(fields=["environment"]),
            models.Index(fields=["last_rotated_on"]),
            models.Index(fields=["last_used_on"]),
            models.Index(fields=["expires_on"]),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("nhi:detail", args=[self.pk])

    def save(self, *args, **kwargs):
        self.rotation_due_on = rotation_due(self.last_rotated_on, self.rotation_interval_days)
        if self.status in LIVE_STATUSES:
            self.revoked_on = None
        elif self.revoked_on is None:
            self.revoked_on = timezone.localdate()
        super().save(*args, **kwargs)

    def scope_list(self) -> list[str]:
        return [line.strip() for line in self.scopes.splitlines() if line.strip()]


def rotation_due(last_rotated_on: dt.date | None, interval_days: int | None) -> dt.date | None:
    if last_rotated_on is None or interval_days is None:
        return None
    return last_rotated_on + dt.timedelta(days=interval_days)


class RotationRecord(models.Model):
    nhi = models.ForeignKey(NonHumanIdentity, on_delete=models.CASCADE, related_name="rotations")
    rotated_on = models.DateField()
    rotated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    evidence_link = models.URLField(max_length=1000, blank=True)
    evidence_file = models.FileField(upload_to="nhi/rotations/%Y/%m/", blank=True, max_length=500)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    new_fingerprint = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-rotated_on", "-id"]


class NhiAlert(models.Model):
    """A notice the daily job sent about an identity's state, keyed so it is sent once per state:
    e.g. ``rotation_overdue`` keyed by the date rotation fell due."""

    nhi = models.ForeignKey(NonHumanIdentity, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=30)
    key = models.CharField(max_length=40)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["nhi", "kind", "key"], name="nhialert_once")]


class CampaignStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class AttestationCampaign(models.Model):
    """Security asks every owner team to confirm each of its identities is still needed."""

    name = models.CharField(max_length=200)
    kinds = models.JSONField(default=list, blank=True, help_text="Empty: every kind.")
    teams = models.ManyToManyField(Team, blank=True, related_name="+", help_text="Empty: every team.")
    environments = models.JSONField(default=list, blank=True, help_text="Empty: every environment.")
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.OPEN)
    evidence_request = models.ForeignKey(EvidenceRequest, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+",
                                         help_text="Where the results go as evidence when the campaign closes.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    result_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("nhi:campaign_detail", args=[self.pk])


class AttestationDecision(models.TextChoices):
    PENDING = "pending", "Not yet confirmed"
    KEEP = "keep", "Still needed"
    REVOKE = "revoke", "Revoke it"


class AttestationItem(models.Model):
    campaign = models.ForeignKey(AttestationCampaign, on_delete=models.CASCADE, related_name="items")
    nhi = models.ForeignKey(NonHumanIdentity, on_delete=models.PROTECT, related_name="attestations")
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=AttestationDecision.choices,
                                default=AttestationDecision.PENDING)
    scopes_confirmed = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["nhi__name"]
        constraints = [models.UniqueConstraint(fields=["campaign", "nhi"], name="attestationitem_once")]


class CampaignReminder(models.Model):
    campaign = models.ForeignKey(AttestationCampaign, on_delete=models.CASCADE, related_name="reminders")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    key = models.SmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "team", "kind", "key"],
                                               name="campaignreminder_once")]


class ImportFormat(models.TextChoices):
    CSV = "csv", "soc2hub CSV"
    AWS = "aws-credential-report", "AWS IAM credential report (CSV)"
    K8S = "k8s-serviceaccounts", "Kubernetes service accounts (kubectl … -o json)"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Checking"
    PREVIEWED = "previewed", "Ready to apply"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    DISCARDED = "discarded", "Discarded"


class NhiImport(models.Model):
    """One uploaded file, checked in full (the dry run) before anything is written; applying it
    is all or nothing. Both steps run in Celery and report progress here.

    Only an import that may still be applied, or that was applied, keeps its file: a failed,
    refused or discarded one loses it (``file`` is then empty; ``sha256`` stays)."""

    format = models.CharField(max_length=30, choices=ImportFormat.choices)
    file = models.FileField(upload_to="nhi/imports/%Y/%m/", max_length=500)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    new_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    preview = models.JSONField(default=dict, blank=True, help_text="The first rows of each outcome, for the page.")
    message = models.TextField(blank=True)
    default_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     help_text="Owner team for imported identities that name none.")
    apply_when_clean = models.BooleanField(
        default=False, help_text="Apply straight after the check if it finds no error (the API's dry_run=false)."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", help_text="Who asked to apply it (kept for a re-queued apply).")
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its current task was sent to the queue; empty while it waits for the queue (it was down).")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the worker on it.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_format_display()} import of {self.original_name}"

    def get_absolute_url(self):
        return reverse("nhi:import_detail", args=[self.pk])

    @property
    def progress_percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
