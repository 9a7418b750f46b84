import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from incidents.models import Service, Severity


class Kind(models.TextChoices):
    ALERTMANAGER = "alertmanager", _("Prometheus Alertmanager")
    GRAFANA = "grafana", _("Grafana alerting")
    GENERIC = "generic", _("generic JSON")


class Integration(models.Model):
    """A sender of alerts. Its URL carries `token`, the credential (as a heartbeat's does)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    token = models.UUIDField(_("URL token"), default=uuid.uuid4, unique=True, editable=False)
    default_service = models.ForeignKey(
        Service, verbose_name=_("default service"), on_delete=models.PROTECT, related_name="+"
    )
    default_severity = models.CharField(
        _("default severity"), max_length=4, choices=Severity.choices, default=Severity.SEV2
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    group_by_key = models.BooleanField(
        _("one incident per alert group"),
        default=False,
        help_text=_("All alerts of one groupKey go to one incident, each on its timeline."),
    )
    repeat_minutes = models.PositiveIntegerField(
        _("note a repeat at most every (minutes)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text=_("A still-firing alert adds at most one timeline event per this many minutes."),
    )
    # Ordered routing rules, checked as a whole by alerts.routing.validate_rules.
    rules = models.JSONField(_("routing rules"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # Who changed the settings; not the credential.
    history = HistoricalRecords(excluded_fields=["token"])

    class Meta:
        ordering = ["name"]
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("alerts:integration", args=[self.pk])

    @property
    def repeat_every(self) -> timedelta:
        return timedelta(minutes=self.repeat_minutes)

    def clean(self):
        from alerts.routing import flatten, validate_rules

        errors = validate_rules(self.rules)
        if errors:
            raise ValidationError(
                {"rules": [ValidationError(line, code="rule") for line in flatten(errors, "rules")]}
            )


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("firing")
    RESOLVED = "resolved", _("resolved")


class Outcome(models.TextChoices):
    """What the portal did with an alert the last time it arrived."""

    OPENED = "opened", _("opened an incident")
    GROUPED = "grouped", _("added to the group's incident")
    REPEAT = "repeat", _("still firing")
    NOT_PAGED = "not_paged", _("recorded, not paged (rule)")
    SILENCED = "silenced", _("recorded, not paged (maintenance)")
    RESOLVED = "resolved", _("resolved its incident")
    KEPT_OPEN = "kept_open", _("resolved at the source; a person holds the incident")
    IGNORED = "ignored", _("resolved; no open incident of its own")


class Alert(models.Model):
    """The portal's view of one alert (one fingerprint of one integration), updated on each
    delivery."""

    integration = models.ForeignKey(
        Integration, verbose_name=_("integration"), on_delete=models.CASCADE, related_name="alerts"
    )
    fingerprint = models.CharField(_("fingerprint"), max_length=200)
    status = models.CharField(
        _("status"), max_length=8, choices=AlertStatus.choices, default=AlertStatus.FIRING
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    group_key = models.TextField(_("group key"), blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    # generatorURL, dashboardURL, panelURL, silenceURL: http(s) only (they become links).
    links = models.JSONField(_("links"), default=dict, blank=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    # Deliveries saying "firing" since it last started firing.
    fire_count = models.PositiveIntegerField(_("times seen firing"), default=0)
    # The last timeline event it added (repeats add one at most every integration.repeat_every).
    noted_at = models.DateTimeField(_("last noted"), null=True, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [
            models.Index(fields=["incident"], name="alert_incident"),
            models.Index(fields=["integration", "-last_seen_at"], name="alert_integration_seen"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "fingerprint"], name="one_alert_per_fingerprint"
            )
        ]

    def __str__(self):
        return f"{self.integration_id}:{self.fingerprint} {self.status}"


class Delivery(models.Model):
    """One request to an integration's URL, accepted or refused, with what arrived
    (the first DELIVERY_BODY_LIMIT characters). Pruned hourly by alerts.tasks."""

    integration = models.ForeignKey(
        Integration,
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("answer"))
    alert_count = models.PositiveIntegerField(_("alerts"), default=0)
    errors = models.JSONField(_("errors"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    body_size = models.PositiveIntegerField(_("body size (bytes)"), default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            models.Index(
                fields=["integration", "-received_at", "-id"], name="delivery_integration"
            ),
            models.Index(fields=["received_at"], name="delivery_received"),
        ]

    def __str__(self):
        return f"{self.integration_id} {self.received_at:%Y-%m-%d %H:%M:%S} {self.status_code}"

    @property
    def accepted(self) -> bool:
        return self.status_code < 400
