from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.forms import DateTimeLocalInput
from incidents.models import Contact
from oncall.models import Override


class OverrideForm(forms.ModelForm):
    """Cover a time range. Whoever is not a manager covers it themselves (their own contact)."""

    class Meta:
        model = Override
        fields = ["contact", "covers_for", "starts_at", "ends_at", "reason"]
        widgets = {"starts_at": DateTimeLocalInput(), "ends_at": DateTimeLocalInput()}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        active = Contact.objects.filter(active=True).order_by("name")
        self.fields["contact"].queryset = active
        self.fields["covers_for"].queryset = active
        self.fields["contact"].label = _("Who is on call")
        self.manager = user.has_perm("oncall.change_schedule")
        self.own = getattr(user, "contact", None)
        if not self.manager:
            # An operator's override always puts themselves on call.
            del self.fields["contact"]

    def clean(self):
        cleaned = super().clean()
        if not self.manager:
            if self.own is None:
                raise forms.ValidationError(
                    _("Your login has no contact: ask a manager to link one."), code="no_contact"
                )
            self.instance.contact = self.own
        return cleaned
