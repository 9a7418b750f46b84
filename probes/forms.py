"""The probe form: common fields plus the chosen kind's settings as real fields,
so a bad setting is shown next to its own field."""

import shlex

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from probes.kinds import DISK_MEASURES, HTTP_METHODS, SQLITE_CHECKS, validate_probe
from probes.models import HOST_KINDS, Host, Kind, Probe, keep_stored_config

PREFIX = "config_"


def _path_field():
    return forms.CharField(label=_("Path"), max_length=1000,
                           help_text=_("Absolute path inside the folders the portal may read (PORTAL_FILE_ROOTS)."))


def _host_path_field():
    return forms.CharField(label=_("Path on the host"), max_length=1000,
                           help_text=_("Absolute, as the host writes it: /var/log/app.log or C:\\data\\app.log."))


def _measure_field():
    return forms.ChoiceField(label=_("Measure"), choices=[
        (DISK_MEASURES[0], _("percentage used")), (DISK_MEASURES[1], _("free GB (lower is worse)"))])


def _direction_field():
    return forms.ChoiceField(label=_("Worse when the value is"), choices=[("above", _("above the thresholds")),
                                                                          ("below", _("below the thresholds"))])


def _empty_field():
    return forms.ChoiceField(label=_("When there is no value"), choices=[
        ("error", _("error")), ("critical", _("critical")), ("ok", _("ok"))])


def _lines():
    return forms.Textarea(attrs={"rows": 3})


# kind → {config key: form field}; each call builds fresh field objects.
def config_fields(kind: str) -> dict[str, forms.Field]:
    verify = forms.BooleanField(label=_("Verify the TLS certificate"), required=False, initial=True)
    return {
        Kind.HTTP: {
            "url": forms.CharField(label=_("URL"), max_length=2000),
            "method": forms.ChoiceField(label=_("Method"), choices=[(m, m) for m in HTTP_METHODS], initial="GET"),
            "expected_status": forms.CharField(label=_("Expected status codes"), initial="200", max_length=200,
                                               help_text=_("Comma-separated, e.g. 200, 204.")),
            "expect": forms.CharField(label=_("JSON expectations"), required=False, widget=_lines(),
                                      help_text=_("One per line, e.g. status in [ok, healthy] or "
                                                  "disk_free_gb >= 5. Not met: critical.")),
            "expect_warning": forms.CharField(
                label=_("JSON expectations for a warning"), required=False, widget=_lines(),
                help_text=_("Not met: warning, e.g. disk_free_gb >= 10 next to disk_free_gb >= 5 above.")),
            "health": forms.ChoiceField(label=_("Health status in the body"), initial="auto", required=False, choices=[
                ("auto", _("read it when the body is JSON with a status (pass/ok/UP, warn/degraded, fail/DOWN)")),
                ("require", _("require it: a body without one, or an HTML page, is critical")),
                ("off", _("ignore it"))]),
            "headers": forms.CharField(label=_("Request headers"), required=False, widget=_lines(),
                                       help_text=_("One per line: Name: value.")),
            "verify_tls": verify,
            "follow_redirects": forms.BooleanField(label=_("Follow redirects"), required=False, initial=True),
        },
        Kind.TCP: {"host": forms.CharField(label=_("Host"), max_length=255),
                   "port": forms.IntegerField(label=_("Port"))},
        Kind.DISK: {"path": _path_field(), "measure": _measure_field()},
        Kind.CPU: {},
        Kind.MEMORY: {},
        Kind.FILE: {"path": _path_field(),
                    "min_size_bytes": forms.IntegerField(label=_("Minimum size (bytes)"), required=False),
                    "max_size_bytes": forms.IntegerField(label=_("Maximum size (bytes)"), required=False,
                                                         help_text=_("Empty or 0: no maximum."))},
        Kind.DIRECTORY: {"path": _path_field()},
        Kind.SQL: {
            "url": forms.CharField(label=_("Connection URL"), max_length=2000,
                                   help_text=_("postgresql://user:password@host:5432/db, mysql://… (MariaDB too) "
                                               "or sqlite:////absolute/path.db; the password is stored encrypted "
                                               "and shown masked.")),
            "query": forms.CharField(label=_("Query"), max_length=5000, widget=_lines(),
                                     help_text=_("One SELECT returning one value, e.g. SELECT count(*) FROM "
                                                 "workflow_instances WHERE status = 'FAILED'.")),
            "direction": _direction_field(),
            "empty": _empty_field(),
        },
        Kind.REDIS: {
            "url": forms.CharField(label=_("Redis URL"), max_length=2000,
                                   help_text=_("redis://:password@host:6379/0; the password is stored encrypted.")),
            "section": forms.CharField(label=_("INFO section"), required=False, max_length=50,
                                       help_text=_("e.g. memory; empty: the default sections.")),
            "field": forms.CharField(label=_("Field"), max_length=100, help_text=_("e.g. used_memory.")),
            "direction": _direction_field(),
        },
        Kind.PROMQL: {
            "url": forms.CharField(label=_("Prometheus URL"), max_length=2000,
                                   help_text=_("The server's base URL, e.g. http://prometheus:9090.")),
            "query": forms.CharField(label=_("PromQL query"), max_length=2000, widget=_lines()),
            "reduce": forms.ChoiceField(label=_("Several series"), choices=[
                ("single", _("must be one series")), ("max", _("take the largest")), ("min", _("take the smallest")),
                ("sum", _("add them up")), ("avg", _("take the mean"))]),
            "empty": _empty_field(),
            "direction": _direction_field(),
            "verify_tls": verify,
        },
        Kind.SQLITE: {"path": _path_field(),
                      "check": forms.ChoiceField(label=_("Check"), choices=[(c, c) for c in SQLITE_CHECKS])},
        Kind.LOG_ERRORS: {
            "path": _path_field(),
            "pattern": forms.CharField(label=_("Pattern (regular expression)"), initial="ERROR", max_length=500),
            "tail_kib": forms.IntegerField(label=_("Read the last KiB"), initial=64),
        },
        Kind.PROCESS: {"name": forms.CharField(label=_("Process name"), max_length=255)},
        Kind.TLS_EXPIRY: {
            "host": forms.CharField(label=_("Host"), max_length=255),
            "port": forms.IntegerField(label=_("Port"), initial=443),
            "server_name": forms.CharField(label=_("Server name (SNI)"), required=False, max_length=255),
            "verify_tls": verify,
        },
        Kind.PROMETHEUS: {
            "url": forms.CharField(label=_("Metrics URL"), max_length=2000),
            "metric": forms.CharField(label=_("Sample name"), max_length=200),
            "labels": forms.CharField(label=_("Labels"), required=False, widget=_lines(),
                                      help_text=_("One per line: name=value.")),
            "direction": forms.ChoiceField(label=_("Worse when the value is"),
                                           choices=[("above", _("above the thresholds")),
                                                    ("below", _("below the thresholds"))]),
            "verify_tls": verify,
        },
        Kind.HEARTBEAT: {"grace_seconds": forms.IntegerField(label=_("Grace (seconds)"), initial=300,
                                                             help_text=_("Extra time after the period before it "
                                                                         "turns critical."))},
        Kind.HOST_DISK: {"path": _host_path_field(), "measure": _measure_field()},
        Kind.HOST_FILE: {"path": _host_path_field(),
                         "min_size_bytes": forms.IntegerField(label=_("Minimum size (bytes)"), required=False),
                         "max_size_bytes": forms.IntegerField(label=_("Maximum size (bytes)"), required=False,
                                                              help_text=_("Empty or 0: no maximum."))},
        Kind.HOST_DIRECTORY: {"path": _host_path_field()},
        Kind.HOST_SQLITE: {"path": _host_path_field(),
                           "check": forms.ChoiceField(label=_("Check"), choices=[(c, c) for c in SQLITE_CHECKS])},
        Kind.HOST_LOG_ERRORS: {
            "path": _host_path_field(),
            "pattern": forms.CharField(label=_("Pattern (regular expression)"), initial="ERROR", max_length=500),
            "tail_kib": forms.IntegerField(label=_("Read the last KiB"), initial=64),
        },
        Kind.HOST_PROCESS: {"name": forms.CharField(label=_("Process name"), max_length=255)},
        Kind.HOST_COMMAND: {"argv": forms.CharField(
            label=_("Command"), max_length=2000,
            help_text=_("The program and its arguments, run without a shell; exit code 0 is healthy."))},
    }[kind]


def _pairs(text: str, sep: str, key: str) -> dict:
    pairs = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, found, value = line.partition(sep)
        if not found or not name.strip():
            raise ValidationError({PREFIX + key: _("Write one %(sep)s per line, e.g. name%(sep)svalue.")
                                   % {"sep": sep}})
        pairs[name.strip()] = value.strip()
    return pairs


def form_to_config(kind: str, data: dict) -> dict:
    """The form's values as the config the kind's validator reads."""
    config = {}
    for key in config_fields(kind):
        value = data.get(PREFIX + key)
        if key == "expected_status":
            try:
                value = [int(code) for code in (value or "").replace(" ", "").split(",") if code]
            except ValueError:
                raise ValidationError({PREFIX + key: _("Enter status codes such as 200, 204.")}) from None
        elif key in ("expect", "expect_warning"):
            value = [line.strip() for line in (value or "").splitlines() if line.strip()]
        elif key == "headers":
            value = _pairs(value or "", ":", key)
        elif key == "labels":
            value = _pairs(value or "", "=", key)
        elif key == "argv":
            try:
                value = shlex.split(value or "")
            except ValueError:
                raise ValidationError({PREFIX + key: _("Unbalanced quotes.")}) from None
        if value is not None:
            config[key] = value
    return config


def config_to_initial(kind: str, config: dict) -> dict:
    initial = {}
    for key in config_fields(kind):
        if key not in config:
            continue
        value = config[key]
        if key == "expected_status":
            value = ", ".join(map(str, value))
        elif key in ("expect", "expect_warning"):
            value = "\n".join(value)
        elif key == "headers":
            value = "\n".join(f"{k}: {v}" for k, v in value.items())
        elif key == "labels":
            value = "\n".join(f"{k}={v}" for k, v in value.items())
        elif key == "argv":
            value = shlex.join(value)
        initial[PREFIX + key] = value
    return initial


class ProbeForm(forms.ModelForm):
    class Meta:
        model = Probe
        fields = ["service", "host", "name", "interval", "timeout", "warning", "critical", "failures_before_alert",
                  "successes_to_recover", "reminder_minutes", "severity", "auto_resolve", "reopen_minutes", "enabled"]

    def __init__(self, *args, kind: str, **kwargs):
        self.kind = kind
        instance = kwargs.get("instance")
        # Shown masked (no password in a URL, no credential header); sent back unchanged, kept.
        self.stored_config = instance.config if instance is not None and instance.pk else {}
        if self.stored_config:
            kwargs["initial"] = {**config_to_initial(kind, instance.shown_config), **kwargs.get("initial", {})}
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
        self.fields["reopen_minutes"].required = False  # empty: as it was (30 minutes for a new probe)
        for key, field in config_fields(kind).items():
            self.fields[PREFIX + key] = field

    def config_field_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith(PREFIX)]

    def clean(self):
        data = super().clean()
        if data.get("reopen_minutes") is None and "reopen_minutes" not in self.errors:
            data["reopen_minutes"] = self.instance.reopen_minutes
        try:
            config = form_to_config(self.kind, data)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field, messages)
            return data
        config = keep_stored_config(config, self.stored_config)
        cleaned, errors = validate_probe(kind=self.kind, config=config, interval=data.get("interval"),
                                      timeout=data.get("timeout"), warning=data.get("warning"),
                                      critical=data.get("critical"),
                                      host=data.get("host") if self.kind in HOST_KINDS else None)
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
