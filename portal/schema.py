"""The OpenAPI schema says what the API really answers, errors included (DESIGN §10).

drf-spectacular documents the success answer of each operation only. Every
operation can also fail in the portal's one error shape (portal/errors.py):
bad input 400, no login 401, a role that may not 403, nothing at that id 404,
a state conflict 409, a body too large 413, too many calls 429. They are added here, to the
operations that can give them, so clients (and the schema fuzz test) can rely
on the documented status codes.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
class DetailField(serializers.Field):
    pass


class ErrorSerializer(serializers.Serializer):
    """The one error shape. Invalid fields are keys of their own, each with a list of messages."""

    detail = DetailField(required=False, help_text=_("What went wrong, when it is not about one field."))
    code = serializers.CharField(required=False, help_text=_("A stable code for the rule that refused the call."))


class PortalAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self._error_responses(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(OpenApiResponse(ErrorSerializer, description), code)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_responses(self, operation):
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        secured = any(requirement for requirement in operation.get("security", []))
        # A text/plain body (heartbeats) is kept as it comes, never refused.
        body_types = set(operation.get("requestBody", {}).get("content", {})) - {"text/plain"}
        if body_types or "query" in where:
            yield "400", _("Invalid input: a message per field (or `detail`), and a `code` for rule errors.")
        if "requestBody" in operation:
            yield "413", _("The body is larger than PORTAL_MAX_UPLOAD_MB.")  # portal.middleware.BodySizeLimitMiddleware
        if secured:
            yield "401", _("Not logged in, or the token is wrong.")
            yield "403", _("Your role does not allow this.")
        if "path" in where:
            yield "404", _("Nothing has this id.")
        elif self._is_list_view() and self._get_paginator() is not None:
            yield "404", _("No such page.")
        if secured and self.method in UNSAFE_METHODS:
            yield "409", _("Not possible in the current state (e.g. still in use, or changed meanwhile).")
        if self.view.get_throttles():
            yield "429", _("Too many calls; try again later.")

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema.get("format") == "time":
            # JSON Schema's "time" is RFC 3339 and needs a UTC offset; times of day here have none.
            del schema["format"]
            schema["pattern"] = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"
        return schema
