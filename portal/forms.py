from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from portal.models import TokenLifetime


class TokenCreateForm(forms.Form):
    lifetime = forms.ChoiceField(
        label=_("Expires after"),
        choices=TokenLifetime.choices,
        initial=TokenLifetime.DAYS_90,
        required=False,
    )

    def clean_lifetime(self):
        return self.cleaned_data["lifetime"] or TokenLifetime.DAYS_90


class TokenRevokeForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(auth_token__isnull=False), widget=forms.HiddenInput
    )
