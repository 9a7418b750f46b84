from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy
from simple_history.models import HistoricalRecords

from core.fields import EncryptedTextField
from core.holidays import WorkCalendar
from core.outbound import validate_outbound_url
from core.secrets import mask_webhook, redact
from incidents import korean_channels
from incidents.apprise_channels import target_error


class Severity(models.TextChoices):
    SEV1 = "sev1", _("SEV1 · critical")
    SEV2 = "sev2", _("SEV2 · high")
    SEV3 = "sev3", _("SEV3 · medium")
    SEV4 = "sev4", _("SEV4 · low")


class Service(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        "Contact",
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_services",
    )
    rto = models.DurationField(_("recovery time objective (RTO)"), null=True, blank=True)
    rpo = models.DurationField(_("recovery point objective (RPO)"), null=True, blank=True)
    # The runbooks name a target and, past it, what is still acceptable: between the two is amber.
    tolerable_rto = models.DurationField(_("tolerable RTO"), null=True, blank=True)
    tolerable_rpo = models.DurationField(_("tolerable RPO"), null=True, blank=True)
    runbook_url = models.URLField(_("runbook URL"), blank=True)
    dashboard_url = models.URLField(_("dashboard URL"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self):
        return self.name


class Tier(models.Model):
    """An escalation tier: Tier 1 operations, Tier 2 developers, Tier 3 management…"""

    level = models.PositiveSmallIntegerField(_("level"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["level"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self):
        return f"Tier {self.level}: {self.name}"


class Availability(models.TextChoices):
    ALWAYS = "always", _("always (24/7)")
    BUSINESS_HOURS = "business_hours", _("business hours")
    EMERGENCY_ONLY = "emergency_only", _("emergencies only (SEV1)")


def default_work_days():
    return [0, 1, 2, 3, 4]  # Monday … Friday


class Contact(models.Model):
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=100, blank=True)
    tier = models.ForeignKey(
        Tier,
        verbose_name=_("tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    chat_handle = models.CharField(_("chat handle"), max_length=100, blank=True)
    availability = models.CharField(
        _("availability"), max_length=20, choices=Availability.choices, default=Availability.ALWAYS
    )
    work_start = models.TimeField(_("working hours start"), default=time(9, 0))
    work_end = models.TimeField(_("working hours end"), default=time(18, 0))
    # ISO weekday numbers, Monday = 0, in the portal's time zone.
    work_days = models.JSONField(_("working days"), default=default_work_days)
    active = models.BooleanField(_("active"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["tier__level", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self):
        return self.name

    def is_available(
        self, at: datetime, severity: str, calendar: WorkCalendar | None = None
    ) -> bool:
        """Whether this contact may be paged at `at` for an incident of `severity`."""
        if not self.active:
            return False
        if self.availability == Availability.EMERGENCY_ONLY:
            return severity == Severity.SEV1
        if self.availability == Availability.BUSINESS_HOURS:
            return self.is_working(at, calendar)
        return True

    def is_working(self, at: datetime, calendar: WorkCalendar | None = None) -> bool:
        """In this contact's working hours at `at`; public holidays and company days are days
        off."""
        calendar = calendar or WorkCalendar.load()
        local = timezone.localtime(at, ZoneInfo(settings.TIME_ZONE))
        t, day, days = local.time(), local.date(), tuple(self.work_days or ())
        if self.work_start <= self.work_end:
            return calendar.is_working_day(day, days) and self.work_start <= t < self.work_end
        # A night shift (22:00–06:00) belongs to the day it starts on.
        return (calendar.is_working_day(day, days) and t >= self.work_start) or (
            calendar.is_working_day(day - timedelta(days=1), days) and t < self.work_end
        )


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("e-mail")
    SLACK = "slack", _("Slack-compatible webhook")
    TEAMS = "teams", _("Microsoft Teams webhook")
    WEBHOOK = "webhook", _("generic JSON webhook")
    APPRISE = "apprise", _("Apprise URL (ntfy, Telegram, Discord, Matrix, …)")
    SMS = "sms", _("SMS gateway (Apprise form/JSON/XML URL)")
    JANDI = "jandi", _("JANDI incoming webhook")
    DOORAY = "dooray", _("Dooray! incoming hook")
    KAKAOWORK = "kakaowork", _("KakaoWork bot webhook")


def shown_target(kind: str, target: str) -> str:
    """A channel's target as pages, the API, the admin and logs show it: the
    path of a webhook URL is its credential, an e-mail address is not secret."""
    if kind == ChannelKind.EMAIL:
        return target
    if kind == ChannelKind.APPRISE:
        # a service's token may stand where a host would (tgram://TOKEN/chat)
        return f"{target.partition('://')[0]}://•••" if "://" in target else "•••"
    return mask_webhook(target)


class NotificationChannel(models.Model):
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ChannelKind.choices)
    # An e-mail address for `email`, an http(s) URL for the webhook kinds.
    target = EncryptedTextField(_("address or URL"), max_length=500)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Everyone a page reached hears when its incident is resolved, on the channel it reached them
    # on.
    resolution_notices = models.BooleanField(
        _("tell when resolved"),
        default=True,
        help_text=_("Send a notice here when an incident it was paged for is resolved."),
    )

    class Meta:
        ordering = ["contact", "kind", "id"]
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")

    def __str__(self):
        return f"{self.contact} · {self.get_kind_display()}"

    def clean(self):
        # The admin's form; the API checks the same in its serializer.
        if self.kind != ChannelKind.EMAIL and self.target:
            try:
                validate_outbound_url(self.target)
            except ValidationError as exc:
                raise ValidationError({"target": exc}) from None
        apprise_kind = self.kind in (ChannelKind.APPRISE, ChannelKind.SMS)
        if apprise_kind and self.target and (error := target_error(self.kind, self.target)):
            raise ValidationError({"target": error})
        if self.target and (error := korean_channels.target_error(self.kind, self.target)):
            raise ValidationError({"target": error})

    @property
    def shown_target(self) -> str:
        return shown_target(self.kind, self.target)


class StepCondition(models.TextChoices):
    NOT_ACKNOWLEDGED = "not_acknowledged", _("not acknowledged")
    NOT_RESOLVED = "not_resolved", _("not resolved")


class EscalationPolicy(models.Model):
    """Who to page, and when, for one service (or every service) and severity."""

    name = models.CharField(_("name"), max_length=100)
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="policies",
        help_text=_("Empty: the default policy for services without their own."),
    )
    severity = models.CharField(_("severity"), max_length=4, choices=Severity.choices)
    # Repeat the last step every N minutes, at most K times, while its condition holds.
    repeat_every = models.DurationField(_("repeat last step every"), null=True, blank=True)
    repeat_limit = models.PositiveSmallIntegerField(_("repeat at most"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["service__name", "severity"]
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "severity"], name="one_policy_per_service_severity"
            ),
            models.UniqueConstraint(
                fields=["severity"],
                condition=Q(service__isnull=True),
                name="one_default_policy_per_severity",
            ),
        ]

    def __str__(self):
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(
        EscalationPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    after = models.DurationField(_("after"), help_text=_("Delay from the incident's trigger time."))
    tier = models.ForeignKey(
        Tier,
        verbose_name=_("tier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    contacts = models.ManyToManyField(
        Contact, verbose_name=_("contacts"), blank=True, related_name="+"
    )
    condition = models.CharField(
        _("condition"),
        max_length=20,
        choices=StepCondition.choices,
        default=StepCondition.NOT_RESOLVED,
    )
    business_hours_only = models.BooleanField(_("business hours only"), default=False)

    class Meta:
        ordering = ["policy", "position"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="unique_step_position")
        ]

    def __str__(self):
        return f"{self.policy} #{self.position}"


MANAGER_MAINTENANCE_DAYS = 366


class MaintenanceWindowQuerySet(models.QuerySet):
    def active(self, at=None):
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, ends_at__gt=at)


class MaintenanceWindow(models.Model):
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = MaintenanceWindowQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="maintenance_ends_after_start"
            )
        ]

    def __str__(self):
        return f"{self.service} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"

    def check_length(self, *, by) -> None:
        """A window silences paging for its service, so its length is bounded by the role of
        whoever sets it: an operator on shift up to PORTAL_OPERATOR_MAINTENANCE_DAYS, a
        manager (who may change windows) up to MANAGER_MAINTENANCE_DAYS."""
        if self.starts_at is None or self.ends_at is None:
            return
        if by.has_perm("incidents.change_maintenancewindow"):
            days = MANAGER_MAINTENANCE_DAYS
        else:
            days = settings.PORTAL_OPERATOR_MAINTENANCE_DAYS
        if self.ends_at - self.starts_at > timedelta(days=days):
            message = ngettext(
                "A maintenance window you set may last at most %(days)d day.",
                "A maintenance window you set may last at most %(days)d days.",
                days,
            ) % {"days": days}
            raise ValidationError({"ends_at": ValidationError(message, code="too_long")})


RECURRING_MAINTENANCE_MAX = timedelta(days=7)


class RecurringMaintenanceWindow(models.Model):
    """A window that comes back on a cron rule in the portal's time zone (every Tuesday 02:00,
    the first Sunday of the month…) and lasts `duration` each time. One occurrence may be ended
    early."""

    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        related_name="recurring_maintenance_windows",
    )
    cron = models.CharField(
        _("repeats (cron)"),
        max_length=100,
        help_text=_(
            "Five cron fields in the portal's time zone: 0 2 * * 2 is every Tuesday at "
            "02:00, 0 3 1 * * the 1st of every month at 03:00."
        ),
    )
    duration = models.DurationField(_("lasts"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # The occurrence (its start) that was ended early, and when.
    ended_occurrence = models.DateTimeField(
        _("occurrence ended early"), null=True, blank=True, editable=False
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["service__name", "id"]
        verbose_name = _("recurring maintenance window")
        verbose_name_plural = _("recurring maintenance windows")
        constraints = [
            models.CheckConstraint(
                condition=Q(duration__gt=timedelta(0)),
                name="recurring_maintenance_positive_duration",
            )
        ]

    def __str__(self):
        return f"{self.service} {self.cron} ({self.duration})"

    def clean(self):
        errors = {}
        cron = " ".join((self.cron or "").split())
        if len(cron.split()) != 5 or not croniter.is_valid(cron):
            errors["cron"] = [
                ValidationError(
                    _("Give five cron fields, e.g. 0 2 * * 2 for every Tuesday at 02:00."),
                    code="cron",
                )
            ]
        self.cron = cron
        if (
            self.duration is not None
            and not timedelta(0) < self.duration <= RECURRING_MAINTENANCE_MAX
        ):
            errors["duration"] = [
                ValidationError(
                    _("A recurring window lasts more than nothing and at most 7 days."), code="rule"
                )
            ]
        if errors:
            raise ValidationError(errors)

    def occurrence_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """(start, end) of the occurrence under way at `at`, or None. Cron times are wall-clock
        times in the portal's zone (02:00 stays 02:00 across a DST change)."""
        local = timezone.localtime(at, portal_zone()).replace(microsecond=0) + timedelta(seconds=1)
        # Occurrences that started up to `duration` ago: the newest one still running counts.
        it = croniter(self.cron, local)
        while True:
            start = it.get_prev(datetime)
            if start + self.duration <= at:
                return None
            end = start + self.duration
            if self.ended_occurrence == start and self.ended_at is not None:
                end = min(end, self.ended_at)
            if at < end:
                return start, end

    def next_occurrence(self, after: datetime) -> datetime:
        return croniter(self.cron, timezone.localtime(after, portal_zone())).get_next(datetime)

    def is_active(self, at: datetime) -> bool:
        return self.active and self.occurrence_at(at) is not None

    def end_early(self, *, at: datetime) -> bool:
        """End the occurrence under way at `at`; False if none is."""
        found = self.occurrence_at(at) if self.active else None
        if found is None:
            return False
        self.ended_occurrence, self.ended_at = found[0], at
        self.save(update_fields=["ended_occurrence", "ended_at"])
        return True


def services_in_maintenance(service_ids, at: datetime) -> set[int]:
    """Which of these services are inside a maintenance window, one-off or recurring, at `at`:
    their failures are recorded but page nobody."""
    service_ids = set(service_ids)
    found = set(
        MaintenanceWindow.objects.active(at)
        .filter(service_id__in=service_ids)
        .values_list("service_id", flat=True)
    )
    for window in RecurringMaintenanceWindow.objects.filter(
        service_id__in=service_ids - found, active=True
    ):
        if window.is_active(at):
            found.add(window.service_id)
    return found


class Status(models.TextChoices):
    TRIGGERED = "triggered", _("triggered")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    MITIGATED = "mitigated", _("mitigated")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")


OPEN_STATUSES = (Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED)

# Each action and the statuses it may start from (DESIGN §3); see incidents.services.
ALLOWED_FROM = {
    "acknowledge": (Status.TRIGGERED,),
    "mitigate": (Status.TRIGGERED, Status.ACKNOWLEDGED),
    "resolve": (Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED),
    "close": (Status.RESOLVED,),
    "reopen": (Status.RESOLVED, Status.CLOSED),
}


class Scope(models.TextChoices):
    FULL = "full", _("full outage")
    PARTIAL = "partial", _("partial")
    FEATURE = "feature", _("one feature")


class Source(models.TextChoices):
    MANUAL = "manual", _("declared by a person")
    API = "api", _("API")
    PROBE = "probe", _("probe")
    HEARTBEAT = "heartbeat", _("heartbeat")
    BACKUP = "backup", _("backup")
    CHECKLIST = "checklist", _("checklist")
    ALERT = "alert", _("alert integration")


# What a person may name as an incident's source; the others are the portal's own alerts.
DECLARABLE_SOURCES = (Source.MANUAL, Source.API)
DECLARABLE_SOURCE_CHOICES = [
    (value, label) for value, label in Source.choices if value in DECLARABLE_SOURCES
]
# Dedup keys the portal's alerts use (probes and heartbeats `probe:<id>`, backups `backup:<id>`,
# alert integrations `alert:<integration>:<fingerprint>`):
# an incident declared with one would absorb the real alert as a "repeated alert".
RESERVED_DEDUP_PREFIXES = ("probe:", "alert:", "backup:")


class IncidentQuerySet(models.QuerySet):
    def open(self):
        # open_rank is the database's own "status is open" (a generated column), and indexed.
        return self.filter(open_rank=0)

    def open_first(self):
        """Open incidents first, then newest first: the order people triage in."""
        return self.order_by("open_rank", "-created_at", "-id")


class Incident(models.Model):
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="incidents"
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    severity = models.CharField(_("severity"), max_length=4, choices=Severity.choices)
    category = models.CharField(
        _("category"),
        max_length=100,
        blank=True,
        help_text=_("e.g. API down, database unreachable, network, performance"),
    )
    scope = models.CharField(
        _("scope"), max_length=10, choices=Scope.choices, default=Scope.PARTIAL
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.TRIGGERED
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    dedup_key = models.CharField(_("deduplication key"), max_length=200, blank=True, default="")
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("commander"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="commanded_incidents",
    )
    responders = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responders"),
        blank=True,
        related_name="incidents_responded",
    )

    impact_started_at = models.DateTimeField(_("impact started"), null=True, blank=True)
    detected_at = models.DateTimeField(_("detected"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    mitigated_at = models.DateTimeField(_("mitigated"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution_summary = models.TextField(
        _("resolution summary"),
        blank=True,
        help_text=_("What fixed it, as the person who resolved it wrote it."),
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    # Escalation state. The policy is copied here when the incident triggers
    # (and again on re-open), so editing a policy never changes a running one.
    escalation_snapshot = models.JSONField(
        _("escalation policy snapshot"), default=dict, blank=True
    )
    escalation_started_at = models.DateTimeField(_("escalation started"), null=True, blank=True)
    escalation_round = models.PositiveIntegerField(_("escalation round"), default=0)
    escalation_step = models.IntegerField(_("last escalation step fired"), default=-1)
    next_escalation_at = models.DateTimeField(_("next escalation"), null=True, blank=True)
    # 0 while open, 1 after; kept by the database itself, so "open first, newest
    # first" reads an index instead of sorting every incident on each request.
    open_rank = models.GeneratedField(
        expression=models.Case(
            models.When(status__in=OPEN_STATUSES, then=models.Value(0)), default=models.Value(1)
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )

    objects = IncidentQuerySet.as_manager()
    history = HistoricalRecords(
        excluded_fields=[
            "escalation_snapshot",
            "escalation_step",
            "next_escalation_at",
            "open_rank",
        ]
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            # A status filter keeps the list's "open first, newest first" order an index scan.
            models.Index(
                fields=["status", "open_rank", "-created_at", "-id"], name="incident_status_list"
            ),
            # The page count of a status filter walks an index: status alone is a fifth of the one
            # above.
            models.Index(fields=["status"], name="incident_status"),
            # The dashboard's "resolved without a published postmortem", oldest first. Not a
            # partial index: SQLite cannot match one against a query's bound parameters. With the
            # severity, its capped count reads the index alone, not a table row per incident.
            models.Index(fields=["resolved_at", "severity"], name="incident_resolved_severity"),
            models.Index(fields=["open_rank", "-created_at", "-id"], name="incident_open_first"),
            models.Index(
                fields=["open_rank", "severity", "created_at"], name="incident_open_by_severity"
            ),
            models.Index(
                fields=["next_escalation_at"],
                name="incident_next_escalation",
                condition=Q(next_escalation_at__isnull=False),
            ),
        ]
        constraints = [
            # One failing probe opens one incident: at most one open incident per key.
            models.UniqueConstraint(
                fields=["dedup_key"],
                name="one_open_incident_per_dedup_key",
                condition=Q(status__in=["triggered", "acknowledged", "mitigated"])
                & ~Q(dedup_key=""),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def allowed_actions(self) -> list[str]:
        """The transitions allowed from the current status, e.g. ["acknowledge", "mitigate",
        "resolve"]."""
        return [action for action, sources in ALLOWED_FROM.items() if self.status in sources]

    def open_for(self, now=None) -> timedelta:
        end = self.resolved_at if self.resolved_at and not self.is_open else (now or timezone.now())
        return end - self.created_at


class EventKind(models.TextChoices):
    CREATED = "created", _("created")
    STATUS = "status", _("status changed")
    ESCALATION = "escalation", _("escalation step")
    ESCALATION_FAILED = "escalation_failed", _("escalation step failed")
    NOTIFICATION_SENT = "notification_sent", _("notification sent")
    NOTIFICATION_FAILED = "notification_failed", _("notification failed")
    NOTE = "note", _("note")
    DUPLICATE = "duplicate", _("repeated alert")
    PROBE = "probe", _("probe result")
    CHECKLIST = "checklist", _("checklist")
    POSTMORTEM = "postmortem", _("postmortem")
    CHANGE = "change", _("field changed")
    ALERT = "alert", _("alert")
    RETRIGGERED = "retriggered", _("re-triggered")
    ESCALATION_SUMMARY = "escalation_summary", _("escalation summary")


class TimelineEvent(models.Model):
    """Append-only: the audit trail and the source of every metric."""

    incident = models.ForeignKey(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_contact = models.ForeignKey(
        Contact,
        verbose_name=_("by contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    message = models.TextField(_("message"), blank=True)
    # Machine-readable detail: {"from": "triggered", "to": "acknowledged"}, step index…
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        indexes = [models.Index(fields=["incident", "at", "id"], name="timeline_incident_at")]

    def __str__(self):
        return f"{self.incident_id} {self.at:%Y-%m-%d %H:%M} {self.kind}"

    @property
    def text(self) -> str:
        """What happened, as a sentence in the active language (incidents.timeline)."""
        from incidents.timeline import render  # it reads this module's choices

        return render(self)

    @property
    def actor(self) -> str:
        if self.actor_user_id:
            return self.actor_user.get_username()
        if self.actor_contact_id:
            return str(self.actor_contact)
        return "system"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class Purpose(models.TextChoices):
    """What an outbox row is for; only pages are escalation steps to a contact."""

    PAGE = "page", _("escalation page")
    NOTICE = "notice", _("status page notice")
    REMINDER = "reminder", _("postmortem or action item reminder")
    CHECKLIST_OVERDUE = "checklist_overdue", _("overdue checklist")
    ROUTE = "route", _("routed event")
    REPORT = "report", _("report")


class NotificationQuerySet(models.QuerySet):
    def due(self, now):
        """Pending sends whose (next) attempt time has come."""
        return self.filter(status=NotificationStatus.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def stale(self):
        """Pending pages whose step condition no longer holds: resolved, or acknowledged for a
        `not_acknowledged` step."""
        return self.filter(status=NotificationStatus.PENDING, notice__isnull=True).filter(
            ~Q(incident__status__in=OPEN_STATUSES)
            | (Q(condition=StepCondition.NOT_ACKNOWLEDGED) & ~Q(incident__status=Status.TRIGGERED))
        )


class Notification(models.Model):
    """The one outbox: every message the portal sends is a row, claimed with a lease, retried with
    backoff and sent once (incidents.notify.send_pending).

    A page is one send to one channel for one firing of one escalation step; its unique key
    (incident, round, step, repeat, channel) is what makes the sweep idempotent. Every other
    message (a status-page notice, a reminder, an overdue checklist, a routed event, a report) is
    written when it is queued (`message`) and keyed (`notice`, `recipient`): queueing it twice
    adds nothing (incidents.outbox).
    """

    incident = models.ForeignKey(
        Incident,
        verbose_name=_("incident"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    # db_default: the sweep's raw bulk insert of pages names its columns and leaves this one out.
    purpose = models.CharField(
        _("purpose"),
        max_length=20,
        choices=Purpose.choices,
        default=Purpose.PAGE,
        db_default=Purpose.PAGE,
    )
    escalation_round = models.PositiveIntegerField(_("escalation round"), default=0)
    step = models.PositiveSmallIntegerField(_("step"))
    repeat = models.PositiveSmallIntegerField(_("repeat"), default=0)
    condition = models.CharField(_("condition"), max_length=20, choices=StepCondition.choices)
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    channel = models.ForeignKey(
        NotificationChannel,
        verbose_name=_("channel"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ChannelKind.choices)
    target = EncryptedTextField(_("address or URL"), max_length=500)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # The sender that took this row, so two workers never send it twice.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    # A message that is not a page: its key (that app's, e.g. "status:12",
    # "reminder:postmortem:4:2026-03-13") and `recipient` (that app's key for the address, e.g.
    # "channel:3", "route:2"), once per pair. Empty (NULL) for escalation pages, so the raw bulk
    # insert of the sweep leaves them out.
    notice = models.CharField(  # noqa: DJ001
        _("key"), max_length=100, null=True, blank=True, editable=False
    )
    recipient = models.CharField(  # noqa: DJ001
        _("recipient"), max_length=50, null=True, blank=True, editable=False
    )
    message = models.JSONField(_("message"), null=True, blank=True, editable=False)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "escalation_round", "step", "repeat", "channel"],
                condition=Q(notice__isnull=True),
                name="one_notification_per_step_firing_channel",
            ),
            models.UniqueConstraint(
                fields=["notice", "recipient"], name="one_notification_per_notice_recipient"
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                name="notification_retry",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self):
        if self.notice:
            return f"{self.notice} → {self.shown_target} ({self.status})"
        step = f"{self.step}.{self.repeat}"
        return f"{self.incident_id} step {step} → {self.shown_target} ({self.status})"

    @property
    def shown_target(self) -> str:
        return shown_target(self.kind, self.target)

    @property
    def delivery_state(self) -> str:
        """sent, queued (not tried yet), retrying (tried, will be again), failed or cancelled."""
        if self.status == NotificationStatus.PENDING:
            return "retrying" if self.attempts else "queued"
        return self.status

    @property
    def shown_error(self) -> str:
        return redact(self.last_error, 300)

    @property
    def subject(self) -> str:
        return (self.message or {}).get("subject", "")


class RouteEvent(models.TextChoices):
    INCIDENT_OPENED = "incident_opened", pgettext_lazy("route event", "incident opened")
    INCIDENT_ACKNOWLEDGED = (
        "incident_acknowledged",
        pgettext_lazy("route event", "incident acknowledged"),
    )
    INCIDENT_RESOLVED = "incident_resolved", pgettext_lazy("route event", "incident resolved")
    PROBE_WARNING = "probe_warning", pgettext_lazy("route event", "probe warning")
    PROBE_CRITICAL = "probe_critical", pgettext_lazy("route event", "probe critical")
    PROBE_RECOVERED = "probe_recovered", pgettext_lazy("route event", "probe recovered")
    BACKUP_FAILED = "backup_failed", pgettext_lazy("route event", "backup failed")
    BACKUP_RECOVERED = (
        "backup_recovered",
        pgettext_lazy("route event", "backup succeeded after failing"),
    )
    CHECKLIST_OVERDUE = "checklist_overdue", pgettext_lazy("route event", "checklist overdue")
    POSTMORTEM_PUBLISHED = (
        "postmortem_published",
        pgettext_lazy("route event", "postmortem published"),
    )


SEVERITY_RANK = {Severity.SEV1: 1, Severity.SEV2: 2, Severity.SEV3: 3, Severity.SEV4: 4}


class Route(models.Model):
    """A team channel (never a contact, never a page) that hears of some kinds of events, of some
    services, from a severity up, within its hours (incidents.routes)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=ChannelKind.choices)
    target = EncryptedTextField(_("address or URL"), max_length=500)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    events = models.JSONField(
        _("events"), default=list, help_text=_("The kinds of events this channel hears of.")
    )
    services = models.ManyToManyField(
        Service,
        verbose_name=_("services"),
        blank=True,
        related_name="routes",
        help_text=_("None: every service."),
    )
    min_severity = models.CharField(
        _("minimum severity"),
        max_length=10,
        choices=Severity.choices,
        default=Severity.SEV4,
        help_text=_("Events less severe than this are not sent."),
    )
    # Both empty: at any time. Start after end: over midnight (22:00–06:00).
    hours_start = models.TimeField(
        _("hours from"),
        null=True,
        blank=True,
        help_text=_("Send only from this time (the portal's time zone)."),
    )
    hours_end = models.TimeField(_("hours until"), null=True, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("route")
        verbose_name_plural = _("routes")

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        unknown = (
            [e for e in self.events or [] if e not in RouteEvent.values]
            if isinstance(self.events, list)
            else [self.events]
        )
        if not self.events or unknown:
            errors["events"] = _("Choose one or more of: %(kinds)s.") % {
                "kinds": ", ".join(RouteEvent.values)
            }
        if (self.hours_start is None) != (self.hours_end is None):
            errors["hours_end"] = _("Give both ends of the hours, or neither.")
        elif self.hours_start is not None and self.hours_start == self.hours_end:
            errors["hours_end"] = _("The hours must not start and end at the same time.")
        if self.kind != ChannelKind.EMAIL and self.target:
            try:
                validate_outbound_url(self.target)
            except ValidationError as exc:
                errors["target"] = exc.messages
        if (
            self.kind in (ChannelKind.APPRISE, ChannelKind.SMS)
            and self.target
            and (error := target_error(self.kind, self.target))
        ):
            errors["target"] = error
        if self.target and (error := korean_channels.target_error(self.kind, self.target)):
            errors["target"] = error
        if errors:
            raise ValidationError(errors)

    @property
    def shown_target(self) -> str:
        return shown_target(self.kind, self.target)

    def event_labels(self) -> list[str]:
        return [str(RouteEvent(event).label) for event in self.events if event in RouteEvent.values]

    def in_hours(self, at: datetime) -> bool:
        if self.hours_start is None or self.hours_end is None:
            return True
        now = timezone.localtime(at, ZoneInfo(settings.TIME_ZONE)).time()
        if self.hours_start < self.hours_end:
            return self.hours_start <= now < self.hours_end
        return now >= self.hours_start or now < self.hours_end

    def hears(self, *, event: str, severity: str, at: datetime) -> bool:
        """Whether an event of this kind and severity is sent to this route now (services aside)."""
        return (
            self.enabled
            and event in self.events
            and self.in_hours(at)
            and SEVERITY_RANK.get(severity, 4) <= SEVERITY_RANK[self.min_severity]
        )


# Postmortems (DESIGN §3) ------------------------------------------------------

REQUIRES_POSTMORTEM = (Severity.SEV1, Severity.SEV2)


def portal_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def postmortem_due_days() -> int:
    return getattr(settings, "PORTAL_POSTMORTEM_DUE_BUSINESS_DAYS", 5)


def add_business_days(at: datetime, days: int, calendar: WorkCalendar | None = None) -> datetime:
    """`at` moved on by `days` working days (Monday–Friday) in the portal's time zone,
    keeping its local time of day; a weekend, a public holiday or a company day never counts."""
    calendar = calendar or WorkCalendar.load()
    zone = portal_zone()
    local = timezone.localtime(at, zone)
    day, counted = local.date(), 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return datetime.combine(day, local.time(), tzinfo=zone)


def postmortem_overdue_q(now: datetime, days: int) -> Q:
    """Incidents whose `resolved_at + days business days` is at or before `now`, as a
    filter the database can answer (the inverse of add_business_days, day by day)."""
    zone = portal_zone()
    calendar = WorkCalendar.load()
    today = timezone.localtime(now, zone).date()
    # Walk back from today: the latest resolution day whose deadline falls before
    # today, and the days (a weekend and its Friday) whose deadline is today itself.
    due_today, day = [], today
    while True:
        deadline = add_business_days(
            datetime.combine(day, time(12), tzinfo=zone), days, calendar
        ).date()
        if deadline < today:
            break
        if deadline == today:
            due_today.append(day)
        day -= timedelta(days=1)
    q = Q(resolved_at__lt=datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))
    local_now = timezone.localtime(now, zone).time()
    for due_day in due_today:
        q |= Q(
            resolved_at__gte=datetime.combine(due_day, time(0), tzinfo=zone),
            resolved_at__lte=datetime.combine(due_day, local_now, tzinfo=zone),
        )
    if due_today:
        # The same set within one range: the database walks the resolved_at index in order and
        # stops at the LIMIT (an OR of ranges alone is two index searches and a sort of them all).
        q &= Q(resolved_at__lte=datetime.combine(max(due_today), local_now, tzinfo=zone))
    return q


def _has_perm(user, perm: str) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(perm))


class PostmortemStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    IN_REVIEW = "in_review", _("in review")
    PUBLISHED = "published", _("published")
    CLOSED = "closed", _("closed")


PUBLISHED_STATUSES = (PostmortemStatus.PUBLISHED, PostmortemStatus.CLOSED)
EDITABLE_STATUSES = (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW)


class PostmortemQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status__in=PUBLISHED_STATUSES)


class Postmortem(models.Model):
    """One per incident: what happened, why, and what we do so it does not happen again."""

    incident = models.OneToOneField(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="postmortem"
    )
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=PostmortemStatus.choices, default=PostmortemStatus.DRAFT
    )
    severity = models.CharField(_("severity"), max_length=4, choices=Severity.choices)
    scope = models.CharField(
        _("scope"), max_length=10, choices=Scope.choices, default=Scope.PARTIAL
    )
    summary = models.TextField(_("summary"), blank=True)
    impact = models.TextField(
        _("impact"),
        blank=True,
        help_text=_("Who and what was affected, for how long, how many users or requests."),
    )
    occurred_at = models.DateTimeField(_("occurred"))
    detected_at = models.DateTimeField(_("detected"), null=True, blank=True)
    recovered_at = models.DateTimeField(_("recovered"), null=True, blank=True)
    trigger = models.TextField(
        _("trigger"), blank=True, help_text=_("The change or event that set it off.")
    )
    root_cause = models.TextField(
        _("root cause(s)"), blank=True, help_text=_("Why it could happen; five whys welcome.")
    )
    detection = models.TextField(
        _("detection"), blank=True, help_text=_("How it was noticed and how long that took.")
    )
    response = models.TextField(
        _("response and recovery steps"), blank=True, help_text=_("One step per line.")
    )
    went_well = models.TextField(_("what went well"), blank=True)
    went_wrong = models.TextField(_("what went wrong"), blank=True)
    got_lucky = models.TextField(_("where we got lucky"), blank=True)
    lessons = models.TextField(_("lessons learned"), blank=True)
    links = models.TextField(_("supporting links"), blank=True, help_text=_("One URL per line."))
    timeline_events = models.ManyToManyField(
        TimelineEvent, verbose_name=_("timeline"), blank=True, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postmortems",
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewers"),
        blank=True,
        related_name="postmortems_reviewed",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = PostmortemQuerySet.as_manager()
    history = HistoricalRecords(m2m_fields=[])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("postmortem")
        verbose_name_plural = _("postmortems")
        permissions = [
            ("publish_postmortem", _("Can publish postmortems")),
            ("view_reports", _("Can view incident reports")),
        ]
        # The reports count the published ones of a period from here, joined to their incidents
        # (SQLite, without statistics, would otherwise walk every incident of the period).
        indexes = [models.Index(fields=["status"], name="postmortem_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(detected_at__isnull=True) | Q(detected_at__gte=F("occurred_at")),
                name="postmortem_detected_after_occurred",
            ),
            models.CheckConstraint(
                condition=Q(recovered_at__isnull=True) | Q(recovered_at__gte=F("occurred_at")),
                name="postmortem_recovered_after_occurred",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("incidents:postmortem", args=[self.incident_id])

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES

    @property
    def is_published(self) -> bool:
        return self.status in PUBLISHED_STATUSES

    def may_change_items(self, user) -> bool:
        """Adding or editing action items: while the postmortem is a draft or in review
        (the caller checks the user's add/change permission); once published, only a
        manager, for follow-ups found later; never once closed."""
        if self.is_editable:
            return True
        return self.status == PostmortemStatus.PUBLISHED and _has_perm(
            user, "incidents.publish_postmortem"
        )

    def may_delete_items(self, user) -> bool:
        """Deleting an action item is a manager's call, and only before publication:
        a published list of follow-ups is what people are held to."""
        return self.is_editable and _has_perm(user, "incidents.delete_actionitem")

    def may_delete(self, user) -> bool:
        return not self.is_published and _has_perm(user, "incidents.delete_postmortem")

    @property
    def downtime(self) -> timedelta | None:
        if self.recovered_at is None:
            return None
        return self.recovered_at - self.occurred_at

    def response_steps(self) -> list[str]:
        return [line.strip() for line in self.response.splitlines() if line.strip()]

    def link_list(self) -> list[str]:
        return [line.strip() for line in self.links.splitlines() if line.strip()]


class ActionItemKind(models.TextChoices):
    PREVENT = "prevent", _("prevent")
    MITIGATE = "mitigate", _("mitigate")
    DETECT = "detect", _("detect")
    REPAIR = "repair", _("repair")
    PROCESS = "process", _("process")


class ActionItemPriority(models.TextChoices):
    HIGH = "high", _("high")
    MEDIUM = "medium", _("medium")
    LOW = "low", _("low")


class ActionItemStatus(models.TextChoices):
    OPEN = "open", _("open")
    IN_PROGRESS = "in_progress", _("in progress")
    DONE = "done", _("done")


class ActionItemQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status=ActionItemStatus.DONE)

    def overdue(self, today):
        return self.open().filter(due_date__lt=today)


class ActionItem(models.Model):
    postmortem = models.ForeignKey(
        Postmortem,
        verbose_name=_("postmortem"),
        on_delete=models.CASCADE,
        related_name="action_items",
    )
    description = models.TextField(_("description"))
    kind = models.CharField(
        _("kind"), max_length=10, choices=ActionItemKind.choices, default=ActionItemKind.PREVENT
    )
    # The contact is who gets the reminders, through the escalation channels.
    owner = models.ForeignKey(
        Contact,
        verbose_name=_("owner"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
    )
    priority = models.CharField(
        _("priority"),
        max_length=6,
        choices=ActionItemPriority.choices,
        default=ActionItemPriority.MEDIUM,
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    tracker_url = models.URLField(_("tracker link"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ActionItemQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["postmortem", "id"]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        constraints = [
            models.CheckConstraint(
                condition=Q(status="done", done_at__isnull=False)
                | (~Q(status="done") & Q(done_at__isnull=True)),
                name="action_item_done_at_iff_done",
            ),
        ]
        # "Not done and past due, soonest first" walks due_date; status alone cannot
        # serve a NOT-equal filter.
        indexes = [
            models.Index(fields=["status", "due_date"], name="action_item_status_due"),
            models.Index(fields=["due_date"], name="action_item_due"),
        ]

    def __str__(self):
        return self.description[:80]

    @property
    def is_done(self) -> bool:
        return self.status == ActionItemStatus.DONE

    def is_overdue(self, today) -> bool:
        return not self.is_done and self.due_date is not None and self.due_date < today


class ReminderReason(models.TextChoices):
    POSTMORTEM_DUE = "postmortem_due", _("postmortem due")
    ACTION_ITEM_OVERDUE = "action_item_overdue", _("action item overdue")


class RollupFigures(models.Model):
    """What a day's or a month's rollup holds for one service and severity."""

    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="+"
    )
    severity = models.CharField(_("severity"), max_length=4, choices=Severity.choices)
    incidents = models.PositiveIntegerField(_("incidents"), default=0)
    # Per resolved incident: MTTA (first ack − created, or resolved − created without an ack),
    # MTTR (resolved − created) and downtime (resolved − impact start, or created when unknown).
    tta_us = models.JSONField(_("times to acknowledge (µs)"), default=list)
    ttr_us = models.JSONField(_("times to resolve (µs)"), default=list)
    downtime_us = models.JSONField(_("downtimes (µs)"), default=list)

    class Meta:
        abstract = True

    @property
    def resolved(self) -> int:
        return len(self.ttr_us)


class IncidentRollup(RollupFigures):
    """The incidents created on one day (in the portal's time zone) for one service and severity,
    summed up for the reports and the dashboard (incidents.rollups keeps it, from the incidents).

    The durations are kept whole, each sorted list in microseconds, not as a sketch: a report's
    median and p95 over any set of days, services and severities must equal the ones computed from
    the incidents themselves, and only the values give that (a t-digest or histogram is
    approximate). A day holds a few incidents per service and severity, so the lists stay short."""

    day = models.DateField(_("day"))

    class Meta:
        ordering = ["day", "service", "severity"]
        verbose_name = _("incident rollup")
        verbose_name_plural = _("incident rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "service", "severity"], name="one_rollup_per_day_service_severity"
            ),
        ]
        # The reports' incidents per week and service read this index alone, not the rows with
        # their duration lists.
        indexes = [
            models.Index(fields=["day", "service", "incidents"], name="rollup_day_service_count")
        ]

    def __str__(self):
        return f"{self.day} {self.service_id} {self.severity}: {self.incidents}"


class IncidentMonthRollup(RollupFigures):
    """The day rollups (IncidentRollup) of one month, service and severity, merged: a report of
    whole months reads one row per month, service and severity instead of one per day, so its
    query groups a few thousand rows whatever the number of days (incidents.rollups keeps it from
    the day rows, in the transaction that changes them). The lists stay whole and sorted, for the
    same reason as the days'."""

    month = models.DateField(_("month"), help_text=_("The first day of the month."))

    class Meta:
        ordering = ["month", "service", "severity"]
        verbose_name = _("incident month rollup")
        verbose_name_plural = _("incident month rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "service", "severity"],
                name="one_rollup_per_month_service_severity",
            ),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.service_id} {self.severity}: {self.incidents}"
