"""API filters shared by the apps."""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField


class UTCIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(_("Enter a date and time between the years 1 and 9999 (in UTC)."),
                                  code="overflow") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time, compared in UTC. Python accepts UTC offsets up to ±23:59 but
    PostgreSQL only up to ±15:59: passed on as written, "…+18:59" was a 500 there."""

    field_class = UTCIsoDateTimeField
