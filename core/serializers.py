import re
from datetime import timedelta

from django.core.validators import EmailValidator, URLValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_q.models import Schedule, Task
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

_KEY = 987654321  # stands for an object's key while a URL is reversed once for a whole page


@extend_schema_field(OpenApiTypes.STR)
class PageURLField(serializers.Field):
    """The portal page of an object, as its get_absolute_url() gives it: `view_name` with the
    object's `key` as its one argument.

    reverse() walks the URL resolver, too slow to do once per row of a list. The field
    reverses once per serializer (a list's rows share one) and puts each row's key in.
    """

    def __init__(self, view_name: str, key: str = "pk", **kwargs):
        self.view_name, self.key = view_name, key
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance) -> str:
        if not hasattr(self, "_prefix"):
            self._prefix, self._suffix = reverse(self.view_name, args=[_KEY]).split(str(_KEY))
        return f"{self._prefix}{getattr(instance, self.key)}{self._suffix}"


# What the API takes, as its schema says it (core/schema.py publishes the same bounds):
# ids fit a 64-bit column, durations are written as DRF writes them back, text is text.
MAX_ID = 10**18 - 1
MAX_SECONDS = 10**9
DURATION_PATTERN = r"^(\d{1,6} )?(\d{1,2}:)?(\d{1,2}:)?\d{1,7}(\.\d{1,6})?$"


class CharField(serializers.CharField):
    """Text, and only text: DRF's own turns a number into its string (`"name": 0` → "0")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DurationField(serializers.DurationField):
    """`[DD ][[HH:]MM:]SS[.uuuuuu]` (the form DRF writes durations in) or a number of seconds.
    ISO 8601 and PostgreSQL's forms, which DRF's own also reads, are not published, so not taken."""

    default_error_messages = {
        "pattern": _(
            "Write a duration as [DD ][[HH:]MM:]SS (e.g. 00:30:00 or "
            "1 00:00:00) or as a number of seconds from 0 to %(max)d."
        )
    }
    pattern = re.compile(DURATION_PATTERN)

    def to_internal_value(self, data):
        if (
            isinstance(data, int | float)
            and not isinstance(data, bool)
            and 0 <= data <= MAX_SECONDS
        ):
            return timedelta(seconds=data)
        if not isinstance(data, str) or not self.pattern.match(data):
            raise serializers.ValidationError(
                self.error_messages["pattern"] % {"max": MAX_SECONDS}, code="invalid"
            )
        return super().to_internal_value(data)


class URLField(serializers.URLField):
    """Django's URLValidator is stricter than the schema's `uri` format: its refusal has its own
    code."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            URLValidator(message=self.error_messages["invalid"], code="url")
            if isinstance(validator, URLValidator)
            else validator
            for validator in self.validators
        ]


class EmailField(serializers.EmailField):
    """Django's EmailValidator is stricter than the schema's `email` format: its refusal has its
    own code."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            EmailValidator(message=self.error_messages["invalid"], code="email")
            if isinstance(validator, EmailValidator)
            else validator
            for validator in self.validators
        ]


class BooleanField(serializers.BooleanField):
    """true or false (as JSON, or as the text of a multipart field); DRF's own also takes 0, 1,
    "yes", "on"…, which the schema's boolean does not."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if data in ("true", "false"):
            return data == "true"
        self.fail("invalid", input=data)


class ManyRelatedField(serializers.ManyRelatedField):
    """A list of related rows. DRF took any iterable, so a JSON object was read as the list of
    its keys."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related row by id. An integer beyond any id is refused as such, not sent to the
    database."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update(
            {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        )
        return ManyRelatedField(**list_kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and data.isascii() and data.isdigit():
            data = int(data)  # the text of a multipart field
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 <= data <= MAX_ID:
            raise serializers.ValidationError(
                _("Ids are whole numbers from 0 to %(max)d.") % {"max": MAX_ID}, code="invalid"
            )
        return super().to_internal_value(data)


def whole_nested(serializer, data, name: str) -> None:
    """A nested list that a write replaces as a whole (a template's sections, a policy's steps)
    is validated whole in a PATCH too: DRF passes `partial` down, and an item missing a required
    field was let through (and saved with the column's default, or failed at the database)."""
    field = serializer.fields[name]
    if serializer.partial and isinstance(data, dict) and name in data:
        whole = type(field.child)(data=data[name], many=True, context=serializer.context)
        if not whole.is_valid():
            raise serializers.ValidationError({name: whole.errors})


class ModelSerializer(serializers.ModelSerializer):
    """The base of the API's model serializers: the fields above for the model's columns."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: CharField,
        models.TextField: CharField,
        models.SlugField: CharField,
        models.DurationField: DurationField,
        models.URLField: URLField,
        models.BooleanField: BooleanField,
        models.EmailField: EmailField,
    }
    serializer_related_field = PrimaryKeyRelatedField


class TaskSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "name",
            "func",
            "group",
            "cluster",
            "started",
            "stopped",
            "success",
            "attempt_count",
            "error",
        ]

    def get_error(self, task) -> str:
        return "" if task.success else str(task.result)[:2000]


class ScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Schedule
        fields = [
            "id",
            "name",
            "func",
            "schedule_type",
            "minutes",
            "cron",
            "cluster",
            "next_run",
            "repeats",
        ]
