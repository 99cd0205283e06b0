"""SOC 2 criteria, crosswalk references and the organisation's own controls, each with three owners."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import BooleanField, Case, Q, Value, When
from django.urls import reverse

from soc2hub.models import Team, TeamFunction


class Category(models.TextChoices):
    SECURITY = "security", "Security"
    AVAILABILITY = "availability", "Availability"
    CONFIDENTIALITY = "confidentiality", "Confidentiality"
    PROCESSING_INTEGRITY = "processing_integrity", "Processing Integrity"
    PRIVACY = "privacy", "Privacy"


OWNER_ROLES = ("business_owner", "control_owner", "evidence_owner")
OWNER_ROLE_LABELS = (
    ("business_owner", "Business owner"),
    ("control_owner", "Control owner"),
    ("evidence_owner", "Evidence owner"),
)


def _security_or_unassigned(role: str) -> Q:
    return Q(**{f"{role}__isnull": True}) | Q(**{f"{role}__function": TeamFunction.SECURITY})


class OwnedQuerySet(models.QuerySet):
    """Rows with a business, a control and an evidence owner."""

    def with_ownership_flags(self):
        """Annotate ``is_unassigned`` (any owner missing) and ``is_security_only``
        (every assigned owner is a security team), in SQL so lists can filter and count."""
        any_missing = Q()
        all_security = Q()
        any_assigned = Q()
        for role in OWNER_ROLES:
            any_missing |= Q(**{f"{role}__isnull": True})
            all_security &= _security_or_unassigned(role)
            any_assigned |= Q(**{f"{role}__isnull": False})
        return self.annotate(
            is_unassigned=Case(When(any_missing, then=Value(True)), default=Value(False), output_field=BooleanField()),
            is_security_only=Case(
                When(all_security & any_assigned, then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
        )

    def owned_by(self, team):
        q = Q()
        for role in OWNER_ROLES:
            q |= Q(**{role: team})
        return self.filter(q)

    def with_owners(self):
        return self.select_related(*OWNER_ROLES)


class OwnedByTeams(models.Model):
    business_owner = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The team accountable for the outcome.",
    )
    control_owner = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The team that operates the control day to day.",
    )
    evidence_owner = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The team that produces the evidence.",
    )

    class Meta:
        abstract = True

    def owners(self) -> dict:
        return {role: getattr(self, role) for role in OWNER_ROLES}


class Criterion(OwnedByTeams):
    """One of the 61 AICPA Trust Services Criteria (2017, points of focus revised 2022)."""

    code = models.CharField(max_length=10, unique=True)
    category = models.CharField(max_length=30, choices=Category.choices)
    series = models.CharField(max_length=10, help_text="e.g. CC6, A1, P4")
    series_name = models.CharField(max_length=100)
    title = models.CharField(max_length=200)
    summary = models.TextField()
    sort_order = models.PositiveIntegerField(default=0)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name_plural = "criteria"

    def __str__(self):
        return f"{self.code} {self.title}"

    def get_absolute_url(self):
        return reverse("criterion_detail", args=[self.code])


class Framework(models.TextChoices):
    NIST_CSF = "nist_csf_2", "NIST CSF 2.0"
    OWASP_NHI = "owasp_nhi_2025", "OWASP Non-Human Identities Top 10 (2025)"
    NIST_AI_RMF = "nist_ai_rmf", "NIST AI RMF"


class CrosswalkReference(models.Model):
    """An entry of another framework a control can map to (e.g. NHI7:2025, GV.RR-02)."""

    framework = models.CharField(max_length=30, choices=Framework.choices)
    code = models.CharField(max_length=30)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["framework", "sort_order", "code"]
        constraints = [models.UniqueConstraint(fields=["framework", "code"], name="crosswalk_unique_code")]

    def __str__(self):
        return f"{self.code} {self.title}"


class Frequency(models.TextChoices):
    CONTINUOUS = "continuous", "Continuous"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMI_ANNUAL = "semi_annual", "Semi-annual"
    ANNUAL = "annual", "Annual"
    EVENT_DRIVEN = "event_driven", "Event-driven"


class Automation(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTOMATED = "automated", "Automated"


class ControlStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IMPLEMENTED = "implemented", "Implemented"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    RETIRED = "retired", "Retired"


control_ref_validator = RegexValidator(
    r"^[A-Z][A-Z0-9]{1,7}-\d{2,4}$", "Use an uppercase prefix, a hyphen and a number, e.g. HR-03."
)


class Control(OwnedByTeams):
    """A control the organisation runs, mapped to the criteria it addresses."""

    ref = models.CharField("reference", max_length=20, unique=True, validators=[control_ref_validator])
    name = models.CharField(max_length=200)
    description = models.TextField()
    criteria = models.ManyToManyField(Criterion, related_name="controls", blank=True)
    frequency = models.CharField(max_length=20, choices=Frequency.choices, default=Frequency.QUARTERLY)
    automation = models.CharField(max_length=20, choices=Automation.choices, default=Automation.MANUAL)
    status = models.CharField(max_length=20, choices=ControlStatus.choices, default=ControlStatus.IMPLEMENTED)
    crosswalk = models.ManyToManyField(CrosswalkReference, related_name="controls", blank=True)
    evidence_standard = models.TextField(
        blank=True, help_text="What good evidence for this control looks like, written by Security."
    )
    exception_lapsed_on = models.DateField(
        null=True, blank=True,
        help_text="Set when an approved exception covering this control expired: the control needs a look.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["ref"]

    def __str__(self):
        return f"{self.ref} {self.name}"

    def get_absolute_url(self):
        return reverse("control_detail", args=[self.ref])
