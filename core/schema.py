"""The OpenAPI schema says what the API really answers, errors included (DESIGN §10).

drf-spectacular documents the success answer of each operation only. Every
operation can also fail in the portal's one error shape (core/errors.py):
bad input 400, no login 401, a role that may not 403, nothing at that id 404,
a state conflict 409, a body too large 413, too many calls 429. They are added here, to the
operations that can give them, so clients (and the schema fuzz test) can rely
on the documented status codes.
"""

from django.core.exceptions import FieldDoesNotExist
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from core.serializers import DURATION_PATTERN, MAX_ID, MAX_SECONDS, DurationField

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NO_NUL = "^[^\\x00]*$"


class ErrorSerializer(serializers.Serializer):
    """The one error shape (core/errors.py). Invalid fields are keys of their own, each with a
    list of messages (an object of such for a nested object or list), beside these three."""

    detail = serializers.CharField(help_text=_("What went wrong, in a sentence for people."))
    code = serializers.CharField(
        help_text=_(
            "A stable code for what refused the call: the rule's own code when "
            "one rule did (e.g. invalid_transition, required, not_found), else "
            "invalid."
        )
    )
    codes = serializers.ListField(
        child=serializers.CharField(),
        help_text=_("The code of every rule the call broke, each once."),
    )


class PortalAutoSchema(AutoSchema):
    def get_tags(self):
        # One group per app (incidents, checklists, probes…), not the path's first part ("v1" for
        # all); @extend_schema(tags=…) still overrides it. An @api_view's class takes its function's
        # module.
        return [type(self.view).__module__.split(".")[0]]

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self._error_responses(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description), code
                )
        if "414" in responses:  # gunicorn answers it, before Django: a short HTML page
            responses["414"]["content"] = {"text/html": {"schema": {"type": "string"}}}
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_responses(self, operation):
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        secured = any(requirement for requirement in operation.get("security", []))
        # A text/plain body (heartbeats) is kept as it comes, never refused.
        body_types = set(operation.get("requestBody", {}).get("content", {})) - {"text/plain"}
        if body_types or "query" in where:
            yield (
                "400",
                _(
                    "Invalid input: a message per field (or `detail`), and a `code` for rule "
                    "errors."
                ),
            )
        if "query" in where:
            # gunicorn
            yield (
                "414",
                _("The address is longer than the server takes (about 4 000 characters)."),
            )
        if "requestBody" in operation:
            # core.middleware.BodySizeLimitMiddleware
            yield (
                "413",
                _("The body is larger than PORTAL_MAX_UPLOAD_MB."),
            )
        if body_types:
            yield (
                "415",
                _(
                    "The body is not of a type this operation takes (JSON, unless it says "
                    "otherwise)."
                ),
            )
        if secured:
            yield "401", _("Not logged in, or the token is wrong.")
            yield "403", _("Your role does not allow this.")
        if "path" in where:
            yield "404", _("Nothing has this id.")
        elif self._is_list_view() and self._get_paginator() is not None:
            yield "404", _("No such page.")
        if secured and self.method in UNSAFE_METHODS:
            yield (
                "409",
                _(
                    "Not possible in the current state: a name already taken, an id that no row "
                    "has, a transition the status does not allow, or a change made meanwhile."
                ),
            )
        if self.view.get_throttles():
            yield "429", _("Too many calls; try again later.")

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, DurationField) and direction == "request":
            meta = {
                key: schema[key] for key in ("nullable", "description", "default") if key in schema
            }
            schema = {
                "oneOf": [
                    {"type": "string", "pattern": DURATION_PATTERN},
                    {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
                ],
                **meta,
            }
        elif (
            isinstance(field, serializers.JSONField)
            and direction == "request"
            and "type" not in schema
        ):
            default = stored_default(field)
            if isinstance(default, dict | list):  # a column of objects (a probe's config) or lists
                schema["type"] = "object" if isinstance(default, dict) else "array"
        elif (
            isinstance(field, serializers.PrimaryKeyRelatedField)
            and schema.get("type") == "integer"
        ):
            schema.update(minimum=0, maximum=MAX_ID)
        elif (
            isinstance(field, serializers.CharField)
            and direction == "request"
            and schema.get("type") == "string"
            and not {"format", "pattern", "enum"} & set(schema)
            and not any(isinstance(validator, RegexValidator) for validator in field.validators)
        ):
            schema["pattern"] = (
                NO_NUL  # DRF refuses the NUL character in text (PostgreSQL cannot store it)
            )
        if direction == "response" and stored_as_null(field) and "$ref" not in schema:
            # A field declared by hand (e.g. to make it required on input) loses the model's
            # null=True; what is read back can still be null (an owner deleted: SET_NULL).
            schema["nullable"] = True
        if schema.get("format") == "time":
            # JSON Schema's "time" is RFC 3339 and needs a UTC offset; times of day here have none.
            del schema["format"]
            schema["pattern"] = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"
        return schema


def stored_as_null(field) -> bool:
    """Whether the model column a serializer field reads may hold NULL."""
    parent, source = field.parent, getattr(field, "source", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if model is None or not source or "." in source or source == "*":
        return False
    try:
        return model._meta.get_field(source).null
    except FieldDoesNotExist:
        return False


ID_PATTERN = "^[0-9]{1,18}$"  # portal.urls.Router


def describe_ids_and_links(result, generator, request, public):
    """Ids in paths are integers (the router matches 1–18 digits), and what a POST creates
    links to the operations on it (OpenAPI links), so a client, or schemathesis' stateful
    phase, can follow a new incident to its acknowledge, a new postmortem to its publish."""
    paths = result["paths"]
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("pattern") == ID_PATTERN:
                    parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
                elif (
                    parameter["in"] == "query"
                    and parameter["name"] != "ordering"
                    and parameter["schema"].get("type") == "string"
                    and not {"enum", "format", "pattern"} & set(parameter["schema"])
                ):
                    # Search, text filters and cursors refuse NUL (400, or 404 for a cursor);
                    # OrderingFilter ignores what it does not know.
                    parameter["schema"]["pattern"] = NO_NUL
    for component in result["components"]["schemas"].values():
        for schema in component.get("properties", {}).values():
            # drf-spectacular adds "" as a oneOf branch to a blank-allowed string with a pattern;
            # when the pattern also takes "", "" matches both and oneOf refuses it: anyOf is meant.
            if schema.get("oneOf", [None])[-1] == {"type": "string", "maxLength": 0}:
                schema["anyOf"] = schema.pop("oneOf")
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        links = {}
        for other, other_operations in paths.items():
            if other.startswith(f"{path}/{{id}}"):
                for operation in other_operations.values():
                    name = operation["operationId"]
                    links[name] = {"operationId": name, "parameters": {"id": "$response.body#/id"}}
        if links:
            created["links"] = links
    return result


def stored_default(field):
    """The default of the model column a serializer field writes, or None."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    try:
        return model._meta.get_field(field.source).get_default() if model else None
    except FieldDoesNotExist:
        return None
