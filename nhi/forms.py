from django import forms
from django.utils import timezone

from controls.models import Control
from evidence.models import AWAITING_TEAM, EvidenceRequest
from nhi.models import (
    OWASP_NHI_TAGS,
    AttestationCampaign,
    Environment,
    ImportFormat,
    NhiKind,
    NonHumanIdentity,
)
from soc2hub import permissions
from soc2hub.models import Team, User
from soc2hub.pickers import member_choices, restrict_choices
from soc2hub.widgets import DateInput


def _posted(form: forms.Form, name: str):
    """The row a bound form's choice field names, read before the form is cleaned (so another
    field's choices can follow it), or None."""
    if not form.is_bound:
        return None
    try:
        return form.fields[name].clean(form[name].data)
    except forms.ValidationError:
        return None


class NhiForm(forms.ModelForm):
    owasp_tags = forms.MultipleChoiceField(choices=OWASP_NHI_TAGS, required=False, label="OWASP NHI Top 10 (2025)",
                                           widget=forms.SelectMultiple(attrs={"size": 6}))
    controls = forms.ModelMultipleChoiceField(queryset=Control.objects.order_by("ref"), required=False,
                                              widget=forms.SelectMultiple(attrs={"size": 6}))

    class Meta:
        model = NonHumanIdentity
        fields = ["name", "kind", "provider", "environment", "external_id", "owner_team", "technical_owner",
                  "purpose", "scopes", "has_admin_access", "has_production_access", "vendor", "secret_location",
                  "credential_fingerprint", "created_on", "last_used_on", "last_rotated_on",
                  "rotation_interval_days", "expires_on", "owasp_tags", "controls"]
        widgets = {
            "purpose": forms.Textarea(attrs={"rows": 2}),
            "scopes": forms.Textarea(attrs={"rows": 3}),
            **{name: DateInput()
               for name in ("created_on", "last_used_on", "last_rotated_on", "expires_on")},
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = Team.objects.order_by("name")
        if not user.is_security:
            teams = teams.filter(memberships__user=user)
        self.fields["owner_team"].queryset = teams
        self.fields["owner_team"].required = not self.instance.pk
        restrict_choices(self, user, controls=permissions.VIEW)
        # The technical owner answers for it: an active member of its owner team. The one on
        # record may stay after leaving (the identity shows as orphaned) until someone changes it.
        editing = bool(self.instance.pk)
        member_choices(self.fields["technical_owner"],
                       self.instance.owner_team if editing else _posted(self, "owner_team"),
                       keep=self.instance.technical_owner if editing else None,
                       teams=None if editing else teams)
        self.fields["technical_owner"].help_text = "An active member of the owner team."
        self.fields["rotation_interval_days"].help_text = "Leave empty for the policy default of its kind."
        if self.instance.pk:
            self.fields["owner_team"].disabled = True
            self.fields["owner_team"].help_text = "Use “Transfer ownership” to change it."


class RotateForm(forms.Form):
    rotated_on = forms.DateField(widget=DateInput(), initial=timezone.localdate,
                                 label="Rotated on")
    evidence_link = forms.URLField(required=False, max_length=1000, assume_scheme="https",
                                   label="Link to the change (ticket, PR, vault audit entry)")
    evidence_file = forms.FileField(required=False, label="Or a file")
    new_fingerprint = forms.CharField(required=False, max_length=100, label="New masked fingerprint")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class RevokeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
                             error_messages={"required": "Say why it is revoked; it goes on the record."})
    evidence_link = forms.URLField(required=False, max_length=1000, assume_scheme="https")
    decommission = forms.BooleanField(required=False, label="Decommission the identity altogether")


class TransferForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), label="New owner team")
    technical_owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label="New technical owner",
                                             help_text="An active member of the new team.")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        restrict_choices(self, user, team=permissions.VIEW)
        teams = self.fields["team"].queryset
        member_choices(self.fields["technical_owner"], _posted(self, "team"), teams=teams)


class ImportForm(forms.Form):
    format = forms.ChoiceField(choices=ImportFormat.choices)
    file = forms.FileField()
    default_team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False,
                                          label="Owner team for rows that name none")
    default_environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION,
                                            label="Environment for rows that name none")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        restrict_choices(self, user, default_team=permissions.VIEW)


class CampaignForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(choices=NhiKind.choices, required=False,
                                      widget=forms.SelectMultiple(attrs={"size": 5}), help_text="Empty: every kind.")
    environments = forms.MultipleChoiceField(choices=Environment.choices, required=False,
                                             widget=forms.SelectMultiple(attrs={"size": 4}),
                                             help_text="Empty: every environment.")

    class Meta:
        model = AttestationCampaign
        fields = ["name", "due_on", "kinds", "teams", "environments", "evidence_request"]
        widgets = {"due_on": DateInput(),
                   "teams": forms.SelectMultiple(attrs={"size": 5})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evidence_request"].queryset = (EvidenceRequest.objects.filter(status__in=AWAITING_TEAM)
                                                    .select_related("control").order_by("due_on"))
        restrict_choices(self, user, teams=permissions.VIEW, evidence_request=permissions.VIEW)
        self.fields["evidence_request"].help_text = ("The results are attached here as evidence when the campaign "
                                                     "closes (e.g. the quarterly access review).")
