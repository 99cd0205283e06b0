from django import forms
from django.conf import settings
from django.utils import timezone

from controls.models import Control, Criterion
from exceptions.models import ExceptionRecord, Recommendation, SignatureDecision
from nhi.models import NonHumanIdentity
from soc2hub import permissions
from soc2hub.models import Team
from soc2hub.widgets import DateInput


class ExceptionForm(forms.ModelForm):
    # What the person may not see is offered nowhere and refused exactly like what does not exist.
    controls = forms.ModelMultipleChoiceField(
        queryset=Control.objects.none(), required=False, widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="The controls this exception deviates from. Teams can choose only controls they own.",
        error_messages={"invalid_choice": "No such control.", "invalid_pk_value": "No such control."},
    )
    criteria = forms.ModelMultipleChoiceField(
        queryset=Criterion.objects.order_by("sort_order"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    nhis = forms.ModelMultipleChoiceField(
        queryset=NonHumanIdentity.objects.none(), required=False, widget=forms.SelectMultiple(attrs={"size": 6}),
        label="Non-human identities", help_text="Service accounts or keys the exception covers, if any.",
        error_messages={"invalid_choice": "No such identity.", "invalid_pk_value": "No such identity."},
    )

    class Meta:
        model = ExceptionRecord
        fields = ["type", "title", "requesting_team", "business_owner", "description", "justification",
                  "likelihood", "impact", "compensating_controls", "controls", "criteria", "nhis", "expires_on"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "justification": forms.Textarea(attrs={"rows": 3}),
            "compensating_controls": forms.Textarea(attrs={"rows": 3}),
            "expires_on": DateInput(),
            "likelihood": forms.Select(choices=[(n, n) for n in range(1, 6)]),
            "impact": forms.Select(choices=[(n, n) for n in range(1, 6)]),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = Team.objects.order_by("name")
        if not user.is_security:
            teams = teams.filter(memberships__user=user)
        self.fields["requesting_team"].queryset = teams
        self.fields["controls"].queryset = permissions.restrict(Control.objects.all(), user).order_by("ref")
        self.fields["nhis"].queryset = permissions.restrict(
            NonHumanIdentity.objects.live().select_related("owner_team"), user).order_by("name")
        today = timezone.localdate()
        self.fields["expires_on"].help_text = (
            f"Required; at most {settings.EXCEPTION_MAX_DAYS} days ahead "
            f"(by {today + timezone.timedelta(days=settings.EXCEPTION_MAX_DAYS):%d %b %Y})."
        )
        if self.instance.pk:
            self.fields["requesting_team"].disabled = True


class ReviewForm(forms.Form):
    recommendation = forms.ChoiceField(choices=Recommendation.choices, widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           label="Why — the signers read this")


class SignForm(forms.Form):
    decision = forms.ChoiceField(choices=SignatureDecision.choices, widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    typed_name = forms.CharField(max_length=200, label="Type your full name")
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                               label="Your password", required=False)  # none for single sign-on people
    otp_code = forms.CharField(max_length=64, label="Authentication code",
                               widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
                               help_text="From your authenticator app (or an unused recovery code).")
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)
    content_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)
