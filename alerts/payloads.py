"""What senders post, exactly as they post it, checked for shape and turned into Incoming alerts.

- Prometheus Alertmanager's webhook (version "4"): version, groupKey, truncatedAlerts, status,
  receiver, groupLabels, commonLabels, commonAnnotations, externalURL, alerts[] of status,
  labels, annotations, startsAt, endsAt, generatorURL, fingerprint.
- Grafana unified alerting's webhook contact point: the same, plus orgId, title, state, message
  and, per alert, values, valueString, dashboardURL, panelURL, silenceURL, imageURL.
- The portal's generic JSON: title, status (firing/resolved), dedup_key, severity, service, details.

Fields the portal does not use are accepted as they come (senders add fields over time);
those it uses are checked: a wrong type, an unknown status or a missing fingerprint is a 400
naming the field.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import AlertStatus, Kind
from core.serializers import CharField
from incidents.models import Severity

MAX_ALERTS = 5000
MAX_LABELS = 100
LINK_FIELDS = ("generatorURL", "dashboardURL", "panelURL", "silenceURL")
# Go writes nanoseconds; Python reads microseconds at most.
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass
class Incoming:
    fingerprint: str
    status: str
    title: str
    labels: dict
    annotations: dict
    links: dict = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    group_key: str = ""
    description: str = ""
    values: dict | None = None
    # The generic shape names them itself; rules may still change them.
    severity: str | None = None
    service_name: str | None = None


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class Timestamp(serializers.Field):
    """RFC 3339 as Go writes it (nanoseconds allowed); Go's zero time (0001-01-01T00:00:00Z)
    means none."""

    default_error_messages = {"invalid": _("Not an RFC 3339 timestamp.")}

    def to_internal_value(self, data):
        if data in (None, ""):
            return None
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        if data.startswith("0001-01-01"):
            return None
        try:
            value = parse_datetime(_FRACTION.sub(r"\1", data))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return value.isoformat() if value else None


class TextMap(serializers.DictField):
    """Labels or annotations: names to text, at most MAX_LABELS of them."""

    default_error_messages = {
        "too_many": _("At most %(max)d entries."),
        "name": _("Names are 1 to 200 characters, without NUL."),
    }

    def __init__(self, **kwargs):
        super().__init__(
            child=CharField(allow_blank=True, max_length=10_000, trim_whitespace=False), **kwargs
        )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            if len(data) > MAX_LABELS:
                self.fail("too_many", max=MAX_LABELS)
            if any(not 0 < len(name) <= 200 or "\x00" in name for name in data):
                self.fail("name")
        return super().to_internal_value(data)


def text_map(**kwargs):
    return TextMap(**kwargs)


class PrometheusAlert(serializers.Serializer):
    status = serializers.ChoiceField(AlertStatus.choices)
    labels = text_map()
    annotations = text_map(required=False, default=dict)
    startsAt = Timestamp(required=False, allow_null=True)
    endsAt = Timestamp(required=False, allow_null=True)
    generatorURL = CharField(required=False, allow_blank=True, max_length=2000)
    fingerprint = CharField(max_length=200)


class PrometheusWebhook(serializers.Serializer):
    version = CharField(required=False, allow_blank=True, max_length=10)
    groupKey = CharField(required=False, allow_blank=True, max_length=10_000)
    truncatedAlerts = serializers.IntegerField(required=False, min_value=0)
    status = serializers.ChoiceField(AlertStatus.choices)
    receiver = CharField(required=False, allow_blank=True, max_length=500)
    groupLabels = text_map(required=False)
    commonLabels = text_map(required=False)
    commonAnnotations = text_map(required=False)
    externalURL = CharField(required=False, allow_blank=True, max_length=2000)
    alerts = PrometheusAlert(many=True, max_length=MAX_ALERTS)


class GrafanaAlert(PrometheusAlert):
    values = serializers.DictField(
        child=serializers.FloatField(allow_null=True), required=False, allow_null=True
    )
    valueString = CharField(required=False, allow_blank=True, max_length=10_000)
    dashboardURL = CharField(required=False, allow_blank=True, max_length=2000)
    panelURL = CharField(required=False, allow_blank=True, max_length=2000)
    silenceURL = CharField(required=False, allow_blank=True, max_length=2000)
    imageURL = CharField(required=False, allow_blank=True, max_length=2000)


class GrafanaWebhook(PrometheusWebhook):
    orgId = serializers.IntegerField(required=False)
    title = CharField(required=False, allow_blank=True, max_length=10_000)
    state = CharField(required=False, allow_blank=True, max_length=20)
    message = CharField(required=False, allow_blank=True, max_length=100_000)
    alerts = GrafanaAlert(many=True, max_length=MAX_ALERTS)


class GenericAlert(serializers.Serializer):
    title = CharField(max_length=200)
    status = serializers.ChoiceField(AlertStatus.choices)
    dedup_key = CharField(max_length=200)
    severity = serializers.ChoiceField(Severity.choices, required=False)
    service = CharField(required=False, max_length=100)
    details = serializers.DictField(required=False, default=dict)

    def validate_details(self, details):
        # Kept on the timeline as JSON; PostgreSQL cannot store NUL in it.
        if "\\u0000" in json.dumps(details):
            raise serializers.ValidationError(
                _("Text without NUL characters."), code="null_characters"
            )
        return details


SHAPES = {
    Kind.ALERTMANAGER: PrometheusWebhook,
    Kind.GRAFANA: GrafanaWebhook,
    Kind.GENERIC: GenericAlert,
}


def parse(kind: str, data) -> list[Incoming]:
    """The alerts of one delivery, latest word per fingerprint; raises
    serializers.ValidationError."""
    shape = SHAPES[kind](data=data)
    shape.is_valid(raise_exception=True)
    body = shape.validated_data
    if kind == Kind.GENERIC:
        alerts = [_generic(body)]
    else:
        alerts = [_prometheus(alert, body.get("groupKey", "")) for alert in body["alerts"]]
    return list({alert.fingerprint: alert for alert in alerts}.values())


def _prometheus(alert: dict, group_key: str) -> Incoming:
    labels, annotations = alert["labels"], alert.get("annotations") or {}
    name = labels.get("alertname", "")
    summary = annotations.get("summary") or annotations.get("title") or ""
    title = f"{name}: {summary}" if name and summary else (name or summary or alert["fingerprint"])
    return Incoming(
        fingerprint=alert["fingerprint"],
        status=alert["status"],
        title=_clip(title),
        labels=labels,
        annotations=annotations,
        links=safe_links({name: alert.get(name) for name in LINK_FIELDS}),
        starts_at=alert.get("startsAt"),
        ends_at=alert.get("endsAt"),
        group_key=group_key,
        description=annotations.get("description", ""),
        values=alert.get("values"),
    )


def _generic(body: dict) -> Incoming:
    details = body.get("details") or {}
    labels = {
        key: str(value)
        for key, value in details.items()
        if isinstance(value, str | int | float | bool) and len(str(value)) <= 1000
    }
    for name in ("severity", "service"):
        if body.get(name):
            labels[name] = body[name]
    return Incoming(
        fingerprint=body["dedup_key"],
        status=body["status"],
        title=_clip(body["title"]),
        labels=dict(list(labels.items())[:MAX_LABELS]),
        annotations={"summary": body["title"]},
        severity=body.get("severity"),
        service_name=body.get("service"),
    )


def safe_links(links: dict) -> dict:
    """Only absolute http(s) URLs become links on a page (no javascript:, no relative paths)."""
    kept = {}
    for name, url in links.items():
        if not url:
            continue
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if parts.scheme in ("http", "https") and parts.netloc:
            kept[name] = url
    return kept


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
