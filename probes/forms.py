"""The probe form: common fields plus the chosen kind's settings (its KindSettings' fields,
probes.kinds), so a bad setting is shown next to its own field."""

from django import forms

from probes.kinds import KINDS, validate_probe
from probes.models import HOST_KINDS, Host, Probe, keep_stored_config

PREFIX = "config_"


class ProbeForm(forms.ModelForm):
    class Meta:
        model = Probe
        fields = [
            "service",
            "host",
            "name",
            "interval",
            "timeout",
            "warning",
            "critical",
            "failures_before_alert",
            "successes_to_recover",
            "reminder_minutes",
            "severity",
            "auto_resolve",
            "reopen_minutes",
            "enabled",
        ]

    def __init__(self, *args, kind: str, **kwargs):
        self.kind = kind
        instance = kwargs.get("instance")
        # Shown masked (no password in a URL, no credential header); sent back unchanged, kept.
        self.stored_config = instance.config if instance is not None and instance.pk else {}
        self.config_fields = KINDS[kind].settings.text_fields()
        if self.stored_config:
            shown = {
                PREFIX + key: value
                for key, value in instance.shown_config.items()
                if key in self.config_fields
            }
            kwargs["initial"] = {**shown, **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.instance.kind = kind
        if kind in HOST_KINDS:
            # A host's check runs on that host: the host is required, and fixed once chosen.
            self.fields["host"].required = True
            self.fields["host"].queryset = Host.objects.order_by("name")
            if self.instance.pk:
                self.fields["host"].disabled = True
        else:
            del self.fields["host"]
        self.fields[
            "reopen_minutes"
        ].required = False  # empty: as it was (30 minutes for a new probe)
        for key, field in self.config_fields.items():
            self.fields[PREFIX + key] = field

    def config_field_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith(PREFIX)]

    def clean(self):
        data = super().clean()
        if data.get("reopen_minutes") is None and "reopen_minutes" not in self.errors:
            data["reopen_minutes"] = self.instance.reopen_minutes
        if any(PREFIX + key in self.errors for key in self.config_fields):
            return data  # a setting's text could not be read (a header line without a colon)
        config = {
            key: data[PREFIX + key]
            for key in self.config_fields
            if data.get(PREFIX + key) is not None
        }
        config = keep_stored_config(config, self.stored_config)
        cleaned, errors = validate_probe(
            kind=self.kind,
            config=config,
            interval=data.get("interval"),
            timeout=data.get("timeout"),
            warning=data.get("warning"),
            critical=data.get("critical"),
            host=data.get("host") if self.kind in HOST_KINDS else None,
        )
        for field, messages in errors.items():
            if field == "config" and isinstance(messages, dict):
                for key, key_messages in messages.items():
                    name = PREFIX + key
                    self.add_error(name if name in self.fields else None, key_messages)
            elif field == "config":
                self.add_error(None, messages)
            else:
                self.add_error(field if field in self.fields else None, messages)
        self.instance.config = cleaned
        return data


class HostForm(forms.ModelForm):
    class Meta:
        model = Host
        fields = ["name", "service", "interval", "grace", "allow_commands", "severity", "enabled"]
