"""Exceptions to policy and controls: requested by owners, reviewed by Security, signed by
Leadership (and Finance for access), and expiring for real."""

import hashlib
import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from controls.models import Control, Criterion
from soc2hub.models import Team


class ExceptionType(models.TextChoices):
    ACCESS = "access", "Access"
    POLICY = "policy", "Policy"
    CONTROL_DEVIATION = "control_deviation", "Control deviation"
    VENDOR = "vendor", "Vendor"


class ExceptionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Awaiting signatures"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    CLOSED = "closed", "Closed (remediated)"


ACTIVE_STATUSES = (ExceptionStatus.SUBMITTED, ExceptionStatus.UNDER_REVIEW, ExceptionStatus.APPROVED)
EDITABLE_STATUSES = (ExceptionStatus.DRAFT, ExceptionStatus.SUBMITTED, ExceptionStatus.UNDER_REVIEW,
                     ExceptionStatus.APPROVED)


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


def risk_level_for(score: int) -> str:
    """Likelihood × impact on 1–5 scales: 1–4 low, 5–9 medium, 10–16 high, 20–25 critical."""
    if score >= 20:
        return RiskLevel.CRITICAL
    if score >= 10:
        return RiskLevel.HIGH
    if score >= 5:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


class Recommendation(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class SignerRole(models.TextChoices):
    LEADERSHIP = "leadership", "Leadership"
    FINANCE = "finance", "Finance"


class ExceptionRecord(models.Model):
    """One exception. Its signed content is everything a signer reads; changing any of it
    voids the signatures and keeps the signed version in ``versions``."""

    type = models.CharField(max_length=30, choices=ExceptionType.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="What deviates from which policy or control, and for whom.")
    justification = models.TextField("business justification")
    likelihood = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)],
                                                  help_text="1 (rare) to 5 (almost certain)")
    impact = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)],
                                              help_text="1 (negligible) to 5 (severe)")
    compensating_controls = models.TextField(blank=True)
    requesting_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="exceptions_requested")
    business_owner = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="exceptions_owned")
    controls = models.ManyToManyField(Control, related_name="exceptions", blank=True)
    criteria = models.ManyToManyField(Criterion, related_name="exceptions", blank=True)
    nhis = models.ManyToManyField("nhi.NonHumanIdentity", related_name="exceptions", blank=True,
                                  verbose_name="non-human identities")
    expires_on = models.DateField()
    status = models.CharField(max_length=20, choices=ExceptionStatus.choices, default=ExceptionStatus.DRAFT,
                              db_index=True)
    version = models.PositiveIntegerField(default=1)
    recommendation = models.CharField(max_length=10, choices=Recommendation.choices, blank=True)
    recommendation_note = models.TextField(blank=True)
    recommended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    recommended_at = models.DateTimeField(null=True, blank=True)
    closing_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_on", "id"]
        verbose_name = "exception"
        constraints = [
            models.CheckConstraint(condition=Q(likelihood__gte=1, likelihood__lte=5), name="exception_likelihood_1_5"),
            models.CheckConstraint(condition=Q(impact__gte=1, impact__lte=5), name="exception_impact_1_5"),
        ]

    def __str__(self):
        return f"EXC-{self.pk:04d} {self.title}" if self.pk else self.title

    @property
    def reference(self) -> str:
        return f"EXC-{self.pk:04d}"

    def get_absolute_url(self):
        return reverse("exceptions:detail", args=[self.pk])

    @property
    def risk_score(self) -> int:
        return self.likelihood * self.impact

    @property
    def risk_level(self) -> str:
        return risk_level_for(self.risk_score)

    def get_risk_level_display(self) -> str:
        return RiskLevel(self.risk_level).label

    def days_to_expiry(self, today=None) -> int:
        return (self.expires_on - (today or timezone.localdate())).days

    def signed_content(self) -> dict:
        """Exactly what a signer signs. Needs a saved row (controls and criteria)."""
        return {
            "reference": self.reference,
            "version": self.version,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "justification": self.justification,
            "likelihood": self.likelihood,
            "impact": self.impact,
            "risk_level": self.risk_level,
            "compensating_controls": self.compensating_controls,
            "requesting_team": self.requesting_team.slug,
            "business_owner": self.business_owner.slug,
            "controls": sorted(c.ref for c in self.controls.all()),
            "criteria": sorted(c.code for c in self.criteria.all()),
            "non_human_identities": sorted(n.external_id for n in self.nhis.all()),
            "expires_on": self.expires_on.isoformat(),
        }

    def content_sha256(self) -> str:
        return content_hash(self.signed_content())

    @property
    def awaits_signatures(self) -> bool:
        """Not yet decided: a draft, or waiting for Security's review or the signers."""
        return self.status in (ExceptionStatus.DRAFT, ExceptionStatus.SUBMITTED, ExceptionStatus.UNDER_REVIEW)

    def current_signatures(self) -> list["ExceptionSignature"]:
        """This version's signatures that stand (from the prefetched ``signatures`` when there are)."""
        return [s for s in self.signatures.all() if s.version == self.version and s.voided_at is None]

    @property
    def security_recommends_reject(self) -> bool:
        return self.recommendation == Recommendation.REJECT

    @property
    def approved_against_security(self) -> bool:
        """Every required signer approved this version, at least one of them although Security
        recommended rejecting it: the signers accepted the risk against Security's advice."""
        from exceptions.signers import required_signer_roles  # it reads this module's models

        signatures = self.current_signatures()
        approved = {s.role for s in signatures if s.decision == SignatureDecision.APPROVE}
        return any(s.overrides_security for s in signatures) and set(required_signer_roles(self)) <= approved


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ExceptionVersion(models.Model):
    """A version of an exception's content as it stood when it was submitted or changed."""

    exception = models.ForeignKey(ExceptionRecord, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    content = models.JSONField()
    content_sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["exception", "version"], name="exceptionversion_unique")]


class SignatureDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class ExceptionSignature(models.Model):
    """A signer's decision on one version of an exception. Kept after it is voided."""

    exception = models.ForeignKey(ExceptionRecord, on_delete=models.PROTECT, related_name="signatures")
    version = models.PositiveIntegerField()
    role = models.CharField(max_length=20, choices=SignerRole.choices)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    typed_name = models.CharField(max_length=200)
    decision = models.CharField(max_length=10, choices=SignatureDecision.choices)
    comment = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    content_sha256 = models.CharField(max_length=64)
    security_recommendation = models.CharField(
        max_length=10, choices=Recommendation.choices, blank=True,
        help_text="What Security recommended when this was signed (its recommendation is cleared when the "
                  "content changes; this stays with the signature).")
    signed_at = models.DateTimeField(default=timezone.now)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [
            # One signature per role and version: a second click, a replayed request or a
            # second signer for the same role is refused by the database itself.
            models.UniqueConstraint(fields=["exception", "version", "role"], name="exceptionsignature_once"),
        ]

    def __str__(self):
        return f"{self.get_role_display()} {self.decision} by {self.signer} on {self.exception}"

    @property
    def overrides_security(self) -> bool:
        """An approval given although Security recommended rejecting: the signer accepted the risk."""
        return self.decision == SignatureDecision.APPROVE and self.security_recommendation == Recommendation.REJECT


class ExceptionReminder(models.Model):
    """An expiry reminder that was sent (30, 7, 1 days before), once."""

    exception = models.ForeignKey(ExceptionRecord, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.SmallIntegerField()
    expires_on = models.DateField(help_text="The expiry date the reminder was about (an extension reminds anew).")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exception", "expires_on", "days_before"], name="exceptionreminder_once"),
        ]


class SignatureDigest(models.Model):
    """The weekly digest of exceptions awaiting a signer's signature, once per ISO week."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.CharField(max_length=10)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "week"], name="signaturedigest_once_per_week")]
