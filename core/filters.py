"""API filters shared by the apps."""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from core.serializers import MAX_ID


class UTCIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(
                _("Enter a date and time between the years 1 and 9999 (in UTC)."), code="overflow"
            ) from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time, compared in UTC. Python accepts UTC offsets up to ±23:59 but
    PostgreSQL only up to ±15:59: passed on as written, "…+18:59" was a 500 there."""

    field_class = UTCIsoDateTimeField


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A related row by its id. An id no row has matches nothing (an empty list), as any
    other value that matches nothing; only what is not such an integer is refused (400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=0, max_value=MAX_ID, **kwargs)


class StrictBooleanField(forms.Field):
    """`true` or `false`, as the schema says; anything else is refused, not ignored."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError(_("Enter true or false."), code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class FilterSet(django_filters.FilterSet):
    """The base of every API filter set: relations filtered by id, booleans strictly, and a
    parameter given empty is refused unless it is text (django-filter ignores it: `?service=`
    answered the whole list, where the schema promises an integer)."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
        models.BooleanField: {"filter_class": BooleanFilter},
    }

    def is_valid(self):
        valid = self.is_bound and self.form.is_valid()
        for name, filter_ in self.filters.items():
            if self.data.get(name) == "" and not isinstance(filter_, django_filters.CharFilter):
                self.form.add_error(
                    name,
                    ValidationError(_("Give a value, or leave the parameter out."), code="blank"),
                )
                valid = False
        return valid


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, at no cost when the query string names none of the filters.

    Its own builds, on every request, a FilterSet: a deep copy of every filter, a form class
    made for the occasion and a validated form, plus a new FilterSet class for views that
    list `filterset_fields`: a noticeable share of a plain list request. Filters
    only ever narrow a query by values given, so without one of their parameters the
    queryset is answered as it is; the generated classes are made once per view.
    """

    filterset_base = FilterSet
    _generated: dict[tuple[type, type], type] = {}

    def get_filterset_class(self, view, queryset=None):
        if getattr(view, "filterset_class", None) is not None or queryset is None:
            return super().get_filterset_class(view, queryset)
        key = (type(view), queryset.model)
        if key not in self._generated:
            self._generated[key] = super().get_filterset_class(view, queryset)
        return self._generated[key]

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not names_a_filter(request.query_params, filterset_class):
            return queryset
        return super().filter_queryset(request, queryset, view)


def names_a_filter(params, filterset_class) -> bool:
    """Whether a parameter is, or may be (a range filter's `name_after`), a form field of the
    filters."""
    names = filterset_class.base_filters
    return any(param.startswith(name) for param in params for name in names)
