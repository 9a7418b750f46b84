"""REST shapes of the alerts app. The rules are checked as a whole (alerts.routing)."""

from django.conf import settings
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import Delivery, Integration
from alerts.routing import validate_rules
from portal.serializers import ModelSerializer


def intake_url(integration: Integration) -> str:
    return settings.BASE_URL + reverse("integration-alerts", args=[integration.token])


class IntegrationSerializer(ModelSerializer):
    url = serializers.SerializerMethodField()
    rules = serializers.ListField(child=serializers.DictField(), label=capfirst(_("routing rules")), required=False)

    class Meta:
        model = Integration
        fields = ["id", "name", "kind", "url", "default_service", "default_severity", "enabled", "group_by_key",
                  "repeat_minutes", "rules", "created_at"]
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
            raise serializers.ValidationError(errors, code="invalid")
        return rules


class DeliverySerializer(ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "received_at", "status_code", "alert_count", "errors", "body", "body_size"]
