"""REST shapes of the alerts app. The rules are checked as a whole (alerts.routing)."""

from django.conf import settings
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts import routing
from alerts.models import Delivery, Integration
from alerts.routing import validate_rules
from core.serializers import ModelSerializer
from incidents.models import Severity


def intake_url(integration: Integration) -> str:
    return settings.BASE_URL + reverse("integration-alerts", args=[integration.token])


MATCHER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "label": {"type": "string", "minLength": 1, "maxLength": routing.MAX_TEXT},
        "annotation": {"type": "string", "minLength": 1, "maxLength": routing.MAX_TEXT},
        "op": {"type": "string", "enum": list(routing.OPS)},
        "value": {"type": "string", "maxLength": routing.MAX_PATTERN},
    },
    "description": (
        "Names either a label or an annotation; `exists` takes no value, the others need one."
    ),
}
RULE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["match"],
    "properties": {
        "match": {
            "type": "array",
            "minItems": 1,
            "maxItems": routing.MAX_MATCHERS,
            "items": MATCHER_SCHEMA,
        },
        "service": {"type": "string", "description": "The name of an existing service."},
        "severity": {"type": "string", "enum": list(Severity.values)},
        "category": {"type": "string", "maxLength": routing.MAX_TEXT},
        "page": {"type": "boolean"},
        "stop": {"type": "boolean"},
    },
    "description": "Sets at least one of service, severity, category, page, or stops.",
}


@extend_schema_field({"type": "array", "maxItems": routing.MAX_RULES, "items": RULE_SCHEMA})
class RulesField(serializers.JSONField):
    """The routing rules as JSON, checked as a whole by alerts.routing (the schema above says
    their shape)."""


class IntegrationSerializer(ModelSerializer):
    url = serializers.SerializerMethodField()
    rules = RulesField(label=capfirst(_("routing rules")), required=False)

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "default_service",
            "default_severity",
            "enabled",
            "group_by_key",
            "repeat_minutes",
            "rules",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_url(self, integration) -> str | None:
        # The URL is the credential: only for those who may change the integration.
        request = self.context.get("request")
        if request is None or not request.user.has_perm("alerts.change_integration"):
            return None
        return intake_url(integration)

    def validate_rules(self, rules):
        errors = validate_rules(rules)
        if errors:
            # What the schema cannot say (service names, regex syntax, label or annotation): code
            # "rule".
            raise serializers.ValidationError(errors, code="rule")
        return rules


class DeliverySerializer(ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "received_at", "status_code", "alert_count", "errors", "body", "body_size"]
