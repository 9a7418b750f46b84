import re
from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.secrets import keep_stored
from incidents.models import (
    OPEN_STATUSES,
    ActionItem,
    Contact,
    Incident,
    Postmortem,
    Route,
    RouteEvent,
    Service,
    Severity,
    Status,
    TimelineEvent,
    shown_target,
)
from incidents.reports import MAX_MONTHS

TIME_24_PATTERN = "([01][0-9]|2[0-3]):[0-5][0-9]"
TIME_24 = re.compile(TIME_24_PATTERN)


class DateTimeLocalInput(forms.MultiWidget):
    """A date picker and a 24-hour time ("14:30"), in the portal's time zone. A datetime-local
    input shows the browser's clock, 12-hour with AM/PM in an English locale. The field reads
    "<date> <time>"; a single "<name>" value (a script posting ISO times) is taken as it is."""

    def __init__(self, attrs=None):
        time_attrs = {
            "class": "time-24",
            "placeholder": "HH:MM",
            "pattern": TIME_24_PATTERN,
            "maxlength": 5,
            "size": 5,
            "autocomplete": "off",
            "aria-label": _("time (24-hour, HH:MM)"),
        }
        super().__init__(
            [
                forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                forms.TimeInput(attrs=time_attrs, format="%H:%M"),
            ],
            attrs,
        )

    # The field's label names the date picker; the time field has its own aria-label.
    use_fieldset = False

    def id_for_label(self, id_):
        return f"{id_}_0" if id_ else ""

    def decompress(self, value):
        if isinstance(value, datetime):
            local = timezone.localtime(value) if timezone.is_aware(value) else value
            return [local.date(), local.time().replace(second=0, microsecond=0)]
        if isinstance(value, str) and value.strip():  # as posted, shown again with its error
            date, _sep, time = value.strip().replace("T", " ").partition(" ")
            return [date, time[:5] if TIME_24.fullmatch(time[:5]) else time]
        return [None, None]

    def value_from_datadict(self, data, files, name):
        if name in data:
            return data[name]
        date, time = (
            widget.value_from_datadict(data, files, f"{name}{suffix}")
            for widget, suffix in zip(self.widgets, self.widgets_names, strict=True)
        )
        return " ".join(part.strip() for part in (date or "", time or "") if part.strip())

    def value_omitted_from_data(self, data, files, name):
        return name not in data and super().value_omitted_from_data(data, files, name)

    def render(self, name, value, attrs=None, renderer=None):
        return format_html(
            '<span class="datetime-24">{}</span>', super().render(name, value, attrs, renderer)
        )


class IncidentFilterForm(forms.Form):
    OPEN = "open"

    q = forms.CharField(label=_("Search in title"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("any")), (OPEN, _("open (not resolved)")), *Status.choices],
    )
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[("", _("any")), *Severity.choices]
    )
    service = forms.ModelChoiceField(
        label=_("Service"),
        required=False,
        queryset=Service.objects.order_by("name"),
        empty_label=_("any"),
    )
    date_from = forms.DateField(
        label=_("Created from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Created until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

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
        fields = [
            "service",
            "title",
            "severity",
            "scope",
            "category",
            "description",
            "impact_started_at",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "impact_started_at": DateTimeLocalInput(),
        }
        help_texts = {
            "impact_started_at": _("When users were first affected, if earlier than now.")
        }


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=20000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ResolveForm(forms.Form):
    summary = forms.CharField(
        label=_("Resolution summary"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What fixed it: the next person on call and the postmortem read it."),
        error_messages={"required": _("Say what fixed it before resolving.")},
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Reason for re-opening"), required=False, max_length=2000)


# Postmortems ------------------------------------------------------------------------


class TimelineChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, event):
        local = timezone.localtime(event.at)
        return f"{local:%Y-%m-%d %H:%M} · {event.get_kind_display()} · {event.text[:120]}"


class PostmortemForm(forms.ModelForm):
    timeline_events = TimelineChoiceField(
        label=_("Timeline"),
        required=False,
        queryset=TimelineEvent.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Postmortem
        fields = [
            "title",
            "severity",
            "scope",
            "summary",
            "impact",
            "occurred_at",
            "detected_at",
            "recovered_at",
            "trigger",
            "root_cause",
            "detection",
            "response",
            "timeline_events",
            "went_well",
            "went_wrong",
            "got_lucky",
            "lessons",
            "links",
        ]
        widgets = {
            **{
                name: forms.Textarea(attrs={"rows": 3})
                for name in (
                    "summary",
                    "impact",
                    "trigger",
                    "root_cause",
                    "detection",
                    "response",
                    "went_well",
                    "went_wrong",
                    "got_lucky",
                    "lessons",
                    "links",
                )
            },
            "occurred_at": DateTimeLocalInput(),
            "detected_at": DateTimeLocalInput(),
            "recovered_at": DateTimeLocalInput(),
        }

    SECTIONS = {
        "overview": [
            "title",
            "severity",
            "scope",
            "summary",
            "impact",
            "occurred_at",
            "detected_at",
            "recovered_at",
        ],
        "cause": ["trigger", "root_cause", "detection", "response"],
        "lessons": ["went_well", "went_wrong", "got_lucky", "lessons", "links"],
    }

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timeline_events"].queryset = incident.events.order_by("at", "id")

    def section(self, name):
        return [self[field] for field in self.SECTIONS[name]]

    @property
    def overview_fields(self):
        return self.section("overview")

    @property
    def cause_fields(self):
        return self.section("cause")

    @property
    def lessons_fields(self):
        return self.section("lessons")

    def clean_links(self):
        links = [line.strip() for line in self.cleaned_data["links"].splitlines() if line.strip()]
        validator = URLValidator(schemes=["http", "https"])
        for link in links:
            try:
                validator(link)
            except ValidationError:
                raise ValidationError(
                    _("%(link)s is not an http(s) URL.") % {"link": link[:200]}
                ) from None
        return "\n".join(links)

    def clean(self):
        data = super().clean()
        occurred = data.get("occurred_at")
        if occurred and data.get("detected_at") and data["detected_at"] < occurred:
            self.add_error("detected_at", _("Detection cannot come before the incident occurred."))
        if occurred and data.get("recovered_at") and data["recovered_at"] < occurred:
            self.add_error("recovered_at", _("Recovery cannot come before the incident occurred."))
        return data


class ActionItemForm(forms.ModelForm):
    owner = forms.ModelChoiceField(
        label=_("Owner"),
        queryset=Contact.objects.filter(active=True).order_by("name"),
        error_messages={"required": _("Each action item needs an owner.")},
    )
    tracker_url = forms.URLField(label=_("tracker link"), required=False, assume_scheme="https")

    class Meta:
        model = ActionItem
        fields = ["description", "kind", "owner", "priority", "due_date", "tracker_url"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "due_date": forms.DateInput(attrs={"type": "date"}),
        }
        error_messages = {"description": {"required": _("Say what should be done.")}}

    def __init__(self, *args, today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_due_date(self):
        due = self.cleaned_data.get("due_date")
        if due and self.instance.pk is None and self.today and due < self.today:
            raise ValidationError(_("A new action item cannot be due in the past."))
        return due


class BaseActionItemFormSet(forms.BaseInlineFormSet):
    def __init__(self, *args, today=None, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "today": self.today}


ActionItemFormSet = forms.inlineformset_factory(
    Postmortem,
    ActionItem,
    form=ActionItemForm,
    formset=BaseActionItemFormSet,
    extra=1,
    can_delete=True,
    max_num=50,
    validate_max=True,
)


def month_choices_field(label):
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )


class ReportForm(forms.Form):
    first = month_choices_field(_("From month"))
    last = month_choices_field(_("To month"))
    service = forms.ModelChoiceField(
        label=_("Service"),
        required=False,
        queryset=Service.objects.order_by("name"),
        empty_label=_("all services"),
    )
    from_impact = forms.BooleanField(label=_("MTTR from impact start"), required=False)

    def clean(self):
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if first and last:
            if last < first:
                self.add_error("last", _("The last month is before the first."))
            elif (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
                self.add_error(
                    "last", _("A report covers at most %(months)d months.") % {"months": MAX_MONTHS}
                )
        return data


class MaskedTargetForm(forms.ModelForm):
    """A channel's or a route's form: the webhook URL is shown masked; saved back unchanged, the
    stored URL stays."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["target"] = self.instance.shown_target

    def clean_target(self):
        target = self.cleaned_data["target"]
        if self.instance.pk:
            old = type(self.instance).objects.get(pk=self.instance.pk)
            target = keep_stored(target, old.target, lambda t: shown_target(old.kind, t))
        return target


class RouteForm(MaskedTargetForm):
    """A route, on its page and in the admin."""

    events = forms.MultipleChoiceField(
        label=_("events"), choices=RouteEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Route
        fields = [
            "name",
            "kind",
            "target",
            "language",
            "events",
            "services",
            "min_severity",
            "hours_start",
            "hours_end",
            "enabled",
        ]
        widgets = {
            "services": forms.CheckboxSelectMultiple,
            "hours_start": forms.TimeInput(attrs={"type": "time"}),
            "hours_end": forms.TimeInput(attrs={"type": "time"}),
        }
