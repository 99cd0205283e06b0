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
from soc2hub.models import Team, User
from soc2hub.widgets import DateInput


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
        self.fields["technical_owner"].queryset = User.objects.filter(is_active=True).order_by("first_name")
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
    technical_owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("first_name"),
                                             required=False, label="New technical owner")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class ImportForm(forms.Form):
    format = forms.ChoiceField(choices=ImportFormat.choices)
    file = forms.FileField()
    default_team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False,
                                          label="Owner team for rows that name none")
    default_environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION,
                                            label="Environment for rows that name none")


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evidence_request"].queryset = (EvidenceRequest.objects.filter(status__in=AWAITING_TEAM)
                                                    .select_related("control").order_by("due_on"))
        self.fields["evidence_request"].help_text = ("The results are attached here as evidence when the campaign "
                                                     "closes (e.g. the quarterly access review).")
