"""JSON in, bounded: no request body or JSON form field may nest deeper than
settings.JSON_MAX_DEPTH (PORTAL_JSON_MAX_DEPTH).

json.loads recurses in C once per level and raises RecursionError near Python's
recursion limit (about 1 000 levels, i.e. a 2 KB body); whatever it does return
is then walked recursively by serializers, deepcopy and the renderer. So a
RecursionError is bad input, and what did parse is measured with an explicit
stack, never recursion, before anything else sees it.
"""

import json

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError


class TooDeep(ValueError):
    """The JSON nests deeper than allowed (a ValueError, so callers that refuse bad JSON refuse
    it too)."""

    def __init__(self, limit: int):
        super().__init__(_("The JSON is nested deeper than %(limit)d levels.") % {"limit": limit})
        self.limit = limit


def depth(value) -> int:
    """How deeply lists and objects nest in value (a scalar is 0, [] is 1), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def check_depth(value, *, limit: int | None = None):
    limit = settings.JSON_MAX_DEPTH if limit is None else limit
    if depth(value) > limit:
        raise TooDeep(limit)
    return value


def loads(text, **kwargs):
    """json.loads that raises ValueError (TooDeep) instead of recursing too deep."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep(settings.JSON_MAX_DEPTH) from None
    return check_depth(value)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 with code `depth` for a body nested too deep."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(str(TooDeep(settings.JSON_MAX_DEPTH)), code="depth") from None
        try:
            return check_depth(data)
        except TooDeep as exc:
            raise ParseError(str(exc), code="depth") from None


class JSONFormField(forms.JSONField):
    """Django's form JSONField (the admin's, for model JSONFields), refusing JSON nested too
    deep."""

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError(str(TooDeep(settings.JSON_MAX_DEPTH)), code="depth") from None
        try:
            return check_depth(converted)
        except TooDeep as exc:
            raise ValidationError(str(exc), code="depth") from None

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


class JSONSerializerField(serializers.JSONField):
    """DRF's JSONField, refusing JSON text (binary=True: a multipart field) nested too deep."""

    default_error_messages = {"depth": _lazy("The JSON is nested deeper than {limit} levels.")}

    def to_internal_value(self, data):
        try:
            value = super().to_internal_value(data)
        except RecursionError:
            self.fail("depth", limit=settings.JSON_MAX_DEPTH)
        if depth(value) > settings.JSON_MAX_DEPTH:
            self.fail("depth", limit=settings.JSON_MAX_DEPTH)
        return value
