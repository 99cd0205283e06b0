from django import forms
from django.contrib.auth.models import Group

from controls.models import Control
from evidence.models import EvidenceTemplate
from evidence.storage import allowed_extensions
from soc2hub import permissions
from soc2hub.pickers import restrict_choices
from soc2hub.widgets import DateInput


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; each is checked by ``evidence.storage.inspect_upload``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(allowed_extensions())}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class EvidenceSubmitForm(forms.Form):
    files = MultipleFileField(required=False, label="Files",
                              help_text="One or more files exported from the system that runs the control.")
    link = forms.URLField(required=False, max_length=1000, label="Or a link to the record",
                          help_text="e.g. the ticket, pull request or report in its own system.",
                          assume_scheme="https")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           label="Note for the reviewer")

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("files") and not data.get("link"):
            raise forms.ValidationError("Attach at least one file or give a link to the record.")
        return data


class EvidenceReturnForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                             label="What is missing or wrong",
                             error_messages={"required": "Give a reason, so the team knows what to fix."})


class EvidenceTemplateForm(forms.ModelForm):
    class Meta:
        model = EvidenceTemplate
        fields = [
            "control", "title", "instructions", "acceptance_criteria", "cadence", "owner_team",
            "opens_days_after_period_end", "due_days_after_period_end", "reviewer_group", "starts_on",
            "one_off_period_end", "is_active",
        ]
        widgets = {
            "instructions": forms.Textarea(attrs={"rows": 4}),
            "acceptance_criteria": forms.Textarea(attrs={"rows": 3}),
            "starts_on": DateInput(),
            "one_off_period_end": DateInput(),
        }
        labels = {
            "opens_days_after_period_end": "Opens (days after period end)",
            "due_days_after_period_end": "Due (days after period end)",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["control"].queryset = Control.objects.order_by("ref")
        self.fields["owner_team"].required = False
        self.fields["owner_team"].help_text = "Leave empty to use the control's evidence owner."
        self.fields["reviewer_group"].queryset = Group.objects.order_by("name")  # role groups: none is hidden
        restrict_choices(self, user, control=permissions.VIEW, owner_team=permissions.VIEW)
