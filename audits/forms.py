"""Forms for the audit pages. They read and check input; the services decide (and say why not)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from audits.models import Audit, AuditType, Population, ReportKind
from controls.models import Category
from evidence.models import EvidenceTemplate
from soc2hub.models import Role, User
from soc2hub.widgets import DateInput


class AuditForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="How everyone will refer to it, e.g. “FY26 SOC 2 Type II”.")
    firm = forms.CharField(label="Audit firm", max_length=200)
    type = forms.ChoiceField(choices=AuditType.choices, widget=forms.RadioSelect, initial=AuditType.TYPE_2)
    as_of = forms.DateField(label="As-of date", required=False, widget=DateInput(),
                            help_text="Type I: the date the report speaks to.")
    period_start = forms.DateField(label="Observation period start", required=False, widget=DateInput())
    period_end = forms.DateField(label="Observation period end", required=False, widget=DateInput(),
                                 help_text="Type II: at most two years after the start.")
    categories = forms.MultipleChoiceField(
        choices=Category.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label="Trust services categories in scope", help_text="Security is always in scope.",
    )

    @classmethod
    def for_audit(cls, audit: Audit | None, data=None):
        initial = None
        if audit is not None:
            initial = {name: getattr(audit, name) for name in
                       ("name", "firm", "type", "as_of", "period_start", "period_end", "categories")}
        return cls(data, initial=initial)

    def clean_categories(self):
        chosen = set(self.cleaned_data["categories"]) | {Category.SECURITY.value}
        return [c for c in Category.values if c in chosen]

    def clean(self):
        """The window's rules (``Audit.clean``), so every error shows at once, not after the
        other fields are fixed. The service checks them again when it saves."""
        data = super().clean()
        if data.get("type") in AuditType.values:
            window = {name: data.get(name) for name in ("type", "as_of", "period_start", "period_end")}
            try:
                Audit(**window, categories=data.get("categories") or []).clean()
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    if field in self.fields and field not in self.errors:
                        self.add_error(field, errors)
        return data

    def audit_fields(self) -> dict:
        """The cleaned fields, with only the window of the chosen type (the other is cleared)."""
        data = dict(self.cleaned_data)
        if data["type"] == AuditType.TYPE_1:
            data["period_start"] = data["period_end"] = None
        else:
            data["as_of"] = None
        return data


class AuditStatusForm(forms.Form):
    status = forms.CharField(max_length=20)


class AuditorForm(forms.Form):
    """Give an auditor access, or change the last day of their access."""

    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Auditor", empty_label="— Choose an auditor —",
                                  help_text="People in the Auditors group.")
    access_ends_on = forms.DateField(label="Access ends on", widget=DateInput(),
                                     help_text="The last day they can open this audit.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (User.objects.filter(is_active=True, groups__name=Role.AUDITORS)
                                        .order_by("first_name", "last_name", "username").distinct())
        self.fields["user"].label_from_instance = lambda u: f"{u.get_full_name() or u.username} ({u.username})"


class AuditorEndForm(forms.Form):
    """End an auditor's access: one of this audit's auditors, nobody else."""

    user = forms.ModelChoiceField(queryset=User.objects.none())

    def __init__(self, *args, audit: Audit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(audit_assignments__audit=audit)


class AuditRequestForm(forms.Form):
    """An auditor's request for evidence, limited to the audit's own controls and criteria."""

    control = forms.ModelChoiceField(queryset=None, required=False, empty_label="— No particular control —",
                                     help_text="The team that gives the control's evidence answers.")
    criterion = forms.ModelChoiceField(queryset=None, required=False, empty_label="— No particular criterion —",
                                       help_text="When no single control fits, name the criterion instead.")
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=5000,
                                  help_text="What you need, for which period or population.")
    due_on = forms.DateField(label="Due on", widget=DateInput())

    def __init__(self, *args, audit: Audit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["control"].queryset = audit.controls().order_by("ref")
        self.fields["control"].label_from_instance = lambda c: f"{c.ref} — {c.name}"
        self.fields["criterion"].queryset = audit.criteria().order_by("sort_order", "code")
        self.fields["criterion"].label_from_instance = lambda c: f"{c.code} — {c.title}"
        self.fields["due_on"].help_text = f"Today ({timezone.localdate():%d %b %Y}) or later."

    def clean(self):
        data = super().clean()
        if not data.get("control") and not data.get("criterion") and "control" not in self.errors:
            self.add_error("control", "Name the control (or the criterion) the request is about.")
        return data


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("return", "Return")])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class SampleForm(forms.Form):
    population = forms.ChoiceField(choices=Population.choices, widget=forms.RadioSelect)
    template = forms.ModelChoiceField(queryset=None, required=False, label="Evidence standard",
                                      empty_label="— Choose a standard —",
                                      help_text="For “every request of an evidence standard”.")
    control = forms.ModelChoiceField(queryset=None, required=False, empty_label="— Choose a control —",
                                     help_text="For “every approved evidence file of a control”.")
    size = forms.IntegerField(min_value=1, max_value=1000, label="Sample size")
    seed = forms.CharField(required=False, max_length=64,
                           help_text="Optional. Leave empty for a random seed; it is recorded either way.")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, audit: Audit, **kwargs):
        super().__init__(*args, **kwargs)
        controls = audit.controls()
        self.fields["template"].queryset = (EvidenceTemplate.objects.filter(control__in=controls)
                                            .select_related("control").order_by("control__ref", "title"))
        self.fields["template"].label_from_instance = lambda t: f"{t.control.ref} — {t.title} ({t.get_cadence_display().lower()})"
        self.fields["control"].queryset = controls.order_by("ref")
        self.fields["control"].label_from_instance = lambda c: f"{c.ref} — {c.name}"


class ReportForm(forms.Form):
    kind = forms.ChoiceField(choices=ReportKind.choices)
