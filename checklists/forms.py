from django import forms
from django.utils.translation import gettext_lazy as _

from checklists import importer, schedules
from checklists.models import INCIDENT_KINDS, ItemState, Playbook, Template
from incidents.models import Service, Severity

TICK_STATES = [(s.value, s.label) for s in ItemState if s != ItemState.OPEN]


class TickForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=TICK_STATES)
    note = forms.CharField(
        label=_("Note or reason"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    value = forms.CharField(
        label=_("Value"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class HandoverForm(forms.Form):
    risks = forms.CharField(
        label=_("Risks"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    probes = forms.CharField(
        label=_("Silenced or noisy probes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    planned_changes = forms.CharField(
        label=_("Planned changes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    text = forms.CharField(
        label=_("Notes for the next shift"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class OpenIncidentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    severity = forms.ChoiceField(
        label=_("Severity"), choices=Severity.choices, initial=Severity.SEV3
    )
    category = forms.CharField(label=_("Category"), max_length=100, required=False)


class StartRunForm(forms.Form):
    template = forms.ModelChoiceField(
        label=_("Checklist"), queryset=Template.objects.filter(active=True, kind__in=INCIDENT_KINDS)
    )


class PlaybookForm(forms.ModelForm):
    class Meta:
        model = Playbook
        fields = ["title", "service", "category", "template", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 20, "class": "code"})}


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("Runbook (markdown, at most 1 MiB)"))
    service = forms.ModelChoiceField(
        label=_("Service"), queryset=Service.objects.order_by("name"), required=False
    )


class ImportChoicesForm(forms.Form):
    """One action (and cron, for templates) per section of a parsed runbook."""

    def __init__(self, *args, plan: importer.Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        labels = {
            importer.TEMPLATE: _("checklist template"),
            importer.PLAYBOOK: _("playbook"),
            importer.SKIP: _("skip"),
        }
        self.rows = []
        for n, entry in enumerate(plan.entries):
            action = forms.ChoiceField(
                label=entry.title,
                choices=[(c, labels[c]) for c in entry.choices],
                initial=entry.action,
            )
            self.fields[f"action_{n}"] = action
            row = {"entry": entry, "action": f"action_{n}", "cron": None}
            if importer.TEMPLATE in entry.choices:
                self.fields[f"cron_{n}"] = forms.CharField(
                    label=_("Schedule (cron)"), required=False, initial=entry.cron, max_length=100
                )
                row["cron"] = f"cron_{n}"
            self.rows.append(row)

    def bound_rows(self):
        for row in self.rows:
            yield {
                "entry": row["entry"],
                "action": self[row["action"]],
                "cron": self[row["cron"]] if row["cron"] else None,
            }

    def clean(self):
        data = super().clean()
        for row in self.rows:
            if row["cron"] and data.get(row["cron"]):
                try:
                    data[row["cron"]] = schedules.validate(data[row["cron"]])
                except schedules.ScheduleError as exc:
                    self.add_error(row["cron"], str(exc))
        return data

    def choices(self) -> dict[str, dict]:
        picked = {}
        for row in self.rows:
            choice = {"action": self.cleaned_data[row["action"]]}
            if row["cron"]:
                choice["cron"] = self.cleaned_data.get(row["cron"], "")
            picked[row["entry"].key] = choice
        return picked
