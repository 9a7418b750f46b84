from django import forms

from alerts.models import Integration
from core.parsers import JSONFormField


class IntegrationForm(forms.ModelForm):
    """The integration's settings; the rules are checked as a whole by Integration.clean."""

    rules = JSONFormField(
        required=False, widget=forms.Textarea(attrs={"rows": 12, "class": "code"})
    )

    class Meta:
        model = Integration
        fields = [
            "name",
            "kind",
            "default_service",
            "default_severity",
            "enabled",
            "group_by_key",
            "repeat_minutes",
            "rules",
        ]

    def clean_rules(self):
        return self.cleaned_data.get("rules") or []
