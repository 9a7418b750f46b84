"""REST shapes of the probes app. Serializers check shape (each kind's config with
its own validator); services decide."""

from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import ModelSerializer
from probes.kinds import validate_probe
from probes.models import Probe, ProbeResult, keep_stored_config


class ProbeSerializer(ModelSerializer):
    service_name = serializers.SerializerMethodField()
    ping_url = serializers.SerializerMethodField()
    flapping = serializers.BooleanField(
        read_only=True,
        help_text=_(
            "Its alerting state flipped several times in a row, each within the re-open window of "
            "the last."
        ),
    )
    # Stored encrypted (a text column); read and written as the JSON object it is.
    config = serializers.JSONField(label=capfirst(_("settings")), required=False)

    class Meta:
        model = Probe
        fields = [
            "id",
            "service",
            "service_name",
            "host",
            "name",
            "kind",
            "config",
            "interval",
            "timeout",
            "warning",
            "critical",
            "failures_before_alert",
            "successes_to_recover",
            "reminder_minutes",
            "severity",
            "auto_resolve",
            "reopen_minutes",
            "enabled",
            "status",
            "status_since",
            "consecutive_failures",
            "consecutive_successes",
            "alerting",
            "incident",
            "last_run_at",
            "last_value",
            "last_latency_ms",
            "last_message",
            "last_ping_at",
            "next_run_at",
            "ping_url",
            "created_at",
            "flips",
            "last_flip_at",
            "flapping",
        ]
        read_only_fields = [
            "flips",
            "last_flip_at",
            "status",
            "status_since",
            "consecutive_failures",
            "consecutive_successes",
            "alerting",
            "incident",
            "last_run_at",
            "last_value",
            "last_latency_ms",
            "last_message",
            "last_ping_at",
            "next_run_at",
            "created_at",
        ]

    def get_service_name(self, probe) -> str:
        # Lists read the name with the row (ProbeViewSet.get_queryset) rather than a Service per
        # row.
        return probe.service_name if hasattr(probe, "service_name") else probe.service.name

    # null unless a heartbeat
    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_ping_url(self, probe) -> str | None:
        # The ping URL is the heartbeat's credential: only for those who may change the probe.
        request = self.context.get("request")
        if (
            not probe.is_heartbeat
            or request is None
            or not request.user.has_perm("probes.change_probe")
        ):
            return None
        return ping_url(probe)

    def validate_host(self, host):
        if self.instance is not None and self.instance.host_id != (host.pk if host else None):
            raise serializers.ValidationError(
                _("A check stays on the host it was made for."), code="fixed"
            )
        return host

    def validate(self, attrs):
        def current(name):
            if name in attrs:
                return attrs[name]
            if self.instance is not None:
                return getattr(self.instance, name)
            return Probe._meta.get_field(name).get_default()

        config = current("config")
        if self.instance is not None and "config" in attrs:
            # Secrets are read back masked; sent back so, they keep the stored values.
            config = keep_stored_config(config, self.instance.config)
        cleaned, errors = validate_probe(
            kind=current("kind"),
            config=config,
            interval=current("interval"),
            timeout=current("timeout"),
            warning=current("warning"),
            critical=current("critical"),
            host=current("host"),
        )
        if errors:
            raise serializers.ValidationError(errors, code="config")  # rules of the probe's kind
        attrs["config"] = cleaned
        return attrs

    def to_representation(self, instance):
        return {**super().to_representation(instance), "config": instance.shown_config}


def ping_url(probe) -> str:
    from django.conf import settings

    return settings.BASE_URL + reverse("heartbeat", args=[probe.token])


class ProbeResultSerializer(ModelSerializer):
    class Meta:
        model = ProbeResult
        fields = [
            "id",
            "probe",
            "at",
            "status",
            "value",
            "latency_ms",
            "message",
            "code",
            "params",
            "detail",
        ]
