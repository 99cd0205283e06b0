from django import forms

from controls.models import OWNER_ROLES, Control, CrosswalkReference, Criterion
from soc2hub import permissions
from soc2hub.models import Team
from soc2hub.pickers import restrict_choices


class OwnerChangeForm(forms.Form):
    """One owner of one criterion or control, as changed inline in the matrix."""

    role = forms.ChoiceField(choices=[(r, r.replace("_", " ")) for r in OWNER_ROLES])
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="Unassigned",
        error_messages={"invalid_choice": "Choose an existing team, or Unassigned."},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        restrict_choices(self, user, team=permissions.VIEW)


class ControlForm(forms.ModelForm):
    criteria = forms.ModelMultipleChoiceField(
        queryset=Criterion.objects.all(), required=True, widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text="Hold Ctrl (or Cmd) to choose several.",
    )
    crosswalk = forms.ModelMultipleChoiceField(
        queryset=CrosswalkReference.objects.all(), required=False, widget=forms.SelectMultiple(attrs={"size": 6}),
        label="Crosswalk references",
    )

    class Meta:
        model = Control
        fields = [
            "ref", "name", "description", "criteria", "business_owner", "control_owner", "evidence_owner",
            "frequency", "automation", "status", "crosswalk", "evidence_standard",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "evidence_standard": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, user, can_change_owners: bool, **kwargs):
        super().__init__(*args, **kwargs)
        # Crosswalk references are the frameworks' public catalogue: no row of it is hidden.
        restrict_choices(self, user, criteria=permissions.VIEW,
                         **dict.fromkeys(OWNER_ROLES, permissions.VIEW))
        if not can_change_owners:
            for role in OWNER_ROLES:
                self.fields[role].disabled = True
        if self.instance.pk:
            self.fields["ref"].disabled = True
