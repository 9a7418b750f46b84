from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.models import OPEN_STATUSES, Incident, Service, Severity, Status


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class IncidentFilterForm(forms.Form):
    OPEN = "open"

    q = forms.CharField(label=_("Search in title"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("any")), (OPEN, _("open (not resolved)")), *Status.choices])
    severity = forms.ChoiceField(label=_("Severity"), required=False, choices=[("", _("any")), *Severity.choices])
    service = forms.ModelChoiceField(label=_("Service"), required=False, queryset=Service.objects.order_by("name"),
                                     empty_label=_("any"))
    date_from = forms.DateField(label=_("Created from"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Created until"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filter(self, incidents):
        """Apply the fields that are valid; an invalid one is shown as an error and ignored."""
        data = getattr(self, "cleaned_data", {})
        if data.get("q"):
            incidents = incidents.filter(title__icontains=data["q"])
        if data.get("status") == self.OPEN:
            incidents = incidents.filter(status__in=OPEN_STATUSES)
        elif data.get("status"):
            incidents = incidents.filter(status=data["status"])
        if data.get("severity"):
            incidents = incidents.filter(severity=data["severity"])
        if data.get("service"):
            incidents = incidents.filter(service=data["service"])
        if data.get("date_from"):
            incidents = incidents.filter(created_at__date__gte=data["date_from"])
        if data.get("date_to"):
            incidents = incidents.filter(created_at__date__lte=data["date_to"])
        return incidents


class DeclareIncidentForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = ["service", "title", "severity", "scope", "category", "description", "impact_started_at"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "impact_started_at": DateTimeLocalInput(),
        }
        help_texts = {"impact_started_at": _("When users were first affected, if earlier than now.")}


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=20000, widget=forms.Textarea(attrs={"rows": 3}))


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Reason for re-opening"), required=False, max_length=2000)
