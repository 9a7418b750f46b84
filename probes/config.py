"""The settings of a probe kind, declared once as a small form (`KindSettings`) whose fields
read JSON values: the same declaration validates the API's and the model's config
(`clean_config`) and, embedded in the probe form, draws the HTML fields (label, help,
initial) and reads their text back as JSON (`from_text`).

A field's `default` is what a missing or empty value means, and the form's initial value.
Messages and codes are the API's: an error carries a code only when a check gave it one
(`refused_address`), so the API's `codes` stay what they were.
"""

import re
import shlex

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.outbound import validate_outbound_host, validate_outbound_url
from core.paths import allowed_path

WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\[^\\/]+[\\/])")


def validate_host_name(host: str) -> None:
    """A name or address the portal may connect to (ValidationError(code="refused_address") if
    not)."""
    if "\x00" in host:  # socket calls raise ValueError on it
        raise ValidationError(_("Enter a host name or IP address."))
    validate_outbound_host(host)


class Setting(forms.Field):
    """One config key. In the probe form (`as_text`) it only turns the posted text into the JSON
    value; the kind's `clean_config` judges it once, there and in the API alike."""

    as_text = False

    def __init__(self, *, default=None, required=False, **kwargs):
        self.default = default
        kwargs.setdefault("initial", default)
        super().__init__(required=required, **kwargs)

    def clean(self, value):
        if self.as_text:
            value = self.from_text(value)
            self.run_validators(value)
            return value
        if self.is_empty(value):
            if self.required:
                raise ValidationError(_("This field is required."))
            return self.default
        return self.read(value)

    def is_empty(self, value) -> bool:
        return value is None or (isinstance(value, str) and value == "")

    def read(self, value):
        return value

    def from_text(self, value):
        return value

    def run_validators(self, value):
        # Only the HTML form's own limits (max_length) run here; `read` holds the kind's rules.
        if isinstance(value, str):
            super().run_validators(value)


class Text(Setting, forms.CharField):
    def __init__(self, *, default="", **kwargs):
        super().__init__(default=default, **kwargs)

    def clean(self, value):
        if not self.as_text and isinstance(value, str):
            value = value.strip()
        return super().clean(value)

    def read(self, value):
        if not isinstance(value, str):
            raise ValidationError(_("Enter text."))
        return value


class Choice(Setting, forms.ChoiceField):
    """One of `choices`; `message` says which when it is not (`%(choices)s`: their keys)."""

    def __init__(self, *, choices, message, upper=False, **kwargs):
        self.message, self.upper = message, upper
        kwargs.setdefault("default", choices[0][0])
        super().__init__(choices=choices, **kwargs)

    def clean(self, value):
        if not self.as_text and isinstance(value, str):
            value = value.strip().upper() if self.upper else value.strip()
        return super().clean(value)

    def read(self, value):
        if not isinstance(value, str):
            raise ValidationError(_("Enter text."))
        keys = [key for key, _label in self.choices]
        if value not in keys:
            raise ValidationError(str(self.message) % {"choices": ", ".join(keys)})
        return value


class Integer(Setting, forms.IntegerField):
    def __init__(self, *, minimum, maximum, **kwargs):
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "min": self.minimum, "max": self.maximum}

    def read(self, value):
        try:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            value = int(float(value))
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(_("Enter a whole number.")) from None
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(
                _("Enter a number from %(min)s to %(max)s.")
                % {"min": self.minimum, "max": self.maximum}
            )
        return value


class Boolean(Setting, forms.BooleanField):
    def __init__(self, *, default=True, **kwargs):
        super().__init__(default=default, **kwargs)

    def read(self, value):
        if not isinstance(value, bool):
            raise ValidationError(_("Enter true or false."))
        return value


class Url(Text):
    """An http(s) URL the portal may reach (core.outbound)."""

    def __init__(self, **kwargs):
        super().__init__(required=True, max_length=2000, **kwargs)

    def read(self, value):
        value = super().read(value)
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ValidationError(_("Enter an http:// or https:// URL.")) from None
        validate_outbound_url(value)  # keeps its code, refused_address
        return value


class HostName(Text):
    def __init__(self, **kwargs):
        super().__init__(label=gettext_lazy("Host"), required=True, max_length=255, **kwargs)

    def read(self, value):
        value = super().read(value)
        validate_host_name(value)
        return value


class Path(Text):
    """A path on the portal's machine inside the folders it may read; cleaned to its resolved
    form."""

    def __init__(self, *, allowed=allowed_path, **kwargs):
        self.allowed = allowed
        kwargs.setdefault("label", gettext_lazy("Path"))
        kwargs.setdefault(
            "help_text",
            gettext_lazy(
                "Absolute path inside the folders the portal may read (PORTAL_FILE_ROOTS)."
            ),
        )
        super().__init__(required=True, max_length=1000, **kwargs)

    def read(self, value):
        value = super().read(value)
        try:
            return str(self.allowed(value))
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from None


class HostPath(Text):
    """A path on a host, as its agent reads it (PORTAL_FILE_ROOTS does not apply there)."""

    def __init__(self, **kwargs):
        super().__init__(
            label=gettext_lazy("Path on the host"),
            required=True,
            max_length=1000,
            help_text=gettext_lazy(
                "Absolute, as the host writes it: /var/log/app.log or C:\\data\\app.log."
            ),
            **kwargs,
        )

    def read(self, value):
        value = super().read(value)
        if "\x00" in value or len(value) > 1000:
            raise ValidationError(_("Enter a path of at most 1000 characters."))
        if not (value.startswith("/") or WINDOWS_ABSOLUTE.match(value)):
            raise ValidationError(
                _("Enter an absolute path on the host (/var/log/app.log or C:\\data\\app.log).")
            )
        return value


def lines():
    return forms.Textarea(attrs={"rows": 3})


class Pairs(Setting, forms.CharField):
    """Text names and text values; one `name<sep>value` a line in the form."""

    def __init__(self, *, sep, **kwargs):
        self.sep = sep
        super().__init__(default={}, widget=lines(), **kwargs)

    def is_empty(self, value) -> bool:
        return not value

    def read(self, value):
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValidationError(_("Enter an object of text names and text values."))
        return value

    def from_text(self, value):
        pairs = {}
        for line in (value or "").splitlines():
            if not line.strip():
                continue
            name, found, text = line.partition(self.sep)
            if not found or not name.strip():
                raise ValidationError(
                    _("Write one %(sep)s per line, e.g. name%(sep)svalue.") % {"sep": self.sep}
                )
            pairs[name.strip()] = text.strip()
        return pairs

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(
                f"{k}{self.sep}{' ' if self.sep == ':' else ''}{v}" for k, v in value.items()
            )
        return value


class Lines(Setting, forms.CharField):
    """A list of text, one a line in the form; `check` raises ValueError on a line it cannot
    read."""

    def __init__(self, *, check, message, **kwargs):
        self.check, self.message = check, message
        super().__init__(default=[], widget=lines(), **kwargs)

    def is_empty(self, value) -> bool:
        return not value

    def read(self, value):
        if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
            raise ValidationError(_("Enter a list of expectations."))
        for line in value:
            try:
                self.check(line)
            except ValueError:
                raise ValidationError(str(self.message) % {"line": line}) from None
        return value

    def from_text(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value


class StatusCodes(Setting, forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(default=[200], max_length=200, **kwargs)

    def is_empty(self, value) -> bool:
        return not value

    def read(self, value):
        if not isinstance(value, list) or not all(
            isinstance(c, int) and 100 <= c <= 599 for c in value
        ):
            raise ValidationError(_("Enter a list of HTTP status codes (100–599)."))
        return value

    def from_text(self, value):
        try:
            return [int(code) for code in (value or "").replace(" ", "").split(",") if code]
        except ValueError:
            raise ValidationError(_("Enter status codes such as 200, 204.")) from None

    def prepare_value(self, value):
        return ", ".join(map(str, value)) if isinstance(value, list) else value


class Argv(Setting, forms.CharField):
    """A program and its arguments, run without a shell; written as a shell line in the form."""

    LIMIT = 50

    def __init__(self, **kwargs):
        super().__init__(required=True, max_length=2000, **kwargs)

    def clean(self, value):
        if not self.as_text:
            return self.read(value)
        return super().clean(value)

    def read(self, value):
        if (
            not isinstance(value, list)
            or not value
            or len(value) > self.LIMIT
            or not all(
                isinstance(arg, str) and arg and "\x00" not in arg and len(arg) <= 1000
                for arg in value
            )
        ):
            raise ValidationError(
                _("Enter the program and its arguments (at most %(count)s).")
                % {"count": self.LIMIT}
            )
        return value

    def from_text(self, value):
        try:
            return shlex.split(value or "")
        except ValueError:
            raise ValidationError(_("Unbalanced quotes.")) from None

    def prepare_value(self, value):
        return shlex.join(value) if isinstance(value, list) else value


class KindSettings(forms.Form):
    """A kind's config: its fields, and `rules` for what spans fields. `clean_config` is the one
    validator: cleaned config, or ValidationError keyed by config key."""

    def rules(self, cleaned: dict, errors: dict) -> None:
        """Rules across fields; called with the fields that passed, adds to `errors` by key."""

    @classmethod
    def clean_config(cls, config: dict) -> dict:
        settings = cls()
        cleaned, errors = {}, {}
        for key, field in settings.fields.items():
            try:
                cleaned[key] = field.clean(config.get(key))
            except ValidationError as exc:
                errors[key] = exc
        settings.rules(cleaned, errors)
        if errors:
            raise ValidationError(errors)
        return cleaned

    @classmethod
    def text_fields(cls) -> dict[str, forms.Field]:
        """Fresh fields for the probe form: they read the posted text as JSON values."""
        fields = cls().fields
        for field in fields.values():
            field.as_text = True
        return fields
