import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.fields import EncryptedJSONField
from core.secrets import MASK, keep_stored, mask_headers, mask_url
from incidents.models import Service, Severity
from probes.messages import render as render_message

# A reminder never repeats more often than this, whatever the probe says (DESIGN §5).
REMINDER_FLOOR_MINUTES = 5
# Alerting flips (opened, recovered) each within the flap window of the one before, after which a
# probe is shown as flapping; and that window when the probe re-opens nothing.
FLAPPING_FLIPS = getattr(settings, "PROBES_FLAPPING_FLIPS", 4)
DEFAULT_FLAP_WINDOW_MINUTES = 30
SPARKLINE_HOURS = 24


class Kind(models.TextChoices):
    HTTP = "http", _("HTTP(S) endpoint")
    TCP = "tcp", _("TCP port")
    DISK = "disk", _("disk usage")
    CPU = "cpu", _("CPU usage")
    MEMORY = "memory", _("memory usage")
    FILE = "file", _("file exists, size, age")
    SQLITE = "sqlite", _("SQLite integrity")
    LOG_ERRORS = "log_errors", _("errors in a log file")
    PROCESS = "process", _("process running")
    TLS_EXPIRY = "tls_expiry", _("TLS certificate expiry")
    PROMETHEUS = "prometheus", _("Prometheus metric")
    HEARTBEAT = "heartbeat", _("heartbeat (push)")
    DIRECTORY = "directory", _("directory size")
    SQL = "sql", _("SQL query (one value)")
    REDIS = "redis", _("Redis INFO field")
    PROMQL = "promql", _("PromQL instant query")
    # Checked by the push agent on a host (probes/agent/portal_agent.py), its results pushed.
    HOST_DISK = "host_disk", _("host: disk free and used")
    HOST_FILE = "host_file", _("host: file exists, size, age")
    HOST_DIRECTORY = "host_directory", _("host: directory size")
    HOST_SQLITE = "host_sqlite", _("host: SQLite integrity")
    HOST_LOG_ERRORS = "host_log_errors", _("host: errors in a log file")
    HOST_PROCESS = "host_process", _("host: process running")
    HOST_COMMAND = "host_command", _("host: command exit code")


HOST_KINDS = (
    Kind.HOST_DISK,
    Kind.HOST_FILE,
    Kind.HOST_DIRECTORY,
    Kind.HOST_SQLITE,
    Kind.HOST_LOG_ERRORS,
    Kind.HOST_PROCESS,
    Kind.HOST_COMMAND,
)


class Status(models.TextChoices):
    OK = "ok", _("ok")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")
    ERROR = "error", _("error")
    UNKNOWN = "unknown", _("not run yet")


RESULT_STATUSES = (Status.OK, Status.WARNING, Status.CRITICAL, Status.ERROR)
FAILING = (Status.CRITICAL, Status.ERROR)
# Worst first: the order of the grid and the dashboard panel.
SEVERITY_ORDER = {
    Status.ERROR: 0,
    Status.CRITICAL: 1,
    Status.WARNING: 2,
    Status.UNKNOWN: 3,
    Status.OK: 4,
}
# The value of the portal_probe_status gauge.
# Probes worst first: built once (a query resolves its own copy), not on every list request.
WORST_FIRST = models.Case(
    *(models.When(status=s, then=models.Value(rank)) for s, rank in SEVERITY_ORDER.items()),
    default=models.Value(9),
)
STATUS_GAUGE = {
    Status.OK: 0,
    Status.WARNING: 1,
    Status.CRITICAL: 2,
    Status.ERROR: 3,
    Status.UNKNOWN: -1,
}


class Action(models.TextChoices):
    """What a result asks the alerting side to do (see Probe.apply)."""

    OPEN = "open", _("open an incident")
    REMIND = "remind", _("remind")
    RECOVER = "recover", _("recover")


class ProbeQuerySet(models.QuerySet):
    def due(self, now: datetime):
        return self.filter(enabled=True, next_run_at__lte=now)

    def worst_first(self):
        return self.alias(rank=WORST_FIRST).order_by("rank", "service__name", "name", "id")


def mask_config(config: dict) -> dict:
    shown = dict(config or {})
    if isinstance(shown.get("url"), str):
        shown["url"] = mask_url(shown["url"])
    if isinstance(shown.get("headers"), dict):
        shown["headers"] = mask_headers(shown["headers"])
    return shown


def keep_stored_config(new: dict, old: dict) -> dict:
    """`new` with the masked pieces it sent back unchanged restored from `old`."""
    if not isinstance(new, dict) or not old:
        return new
    new = dict(new)
    if isinstance(new.get("url"), str) and isinstance(old.get("url"), str):
        new["url"] = keep_stored(new["url"], old["url"], mask_url)
    if isinstance(new.get("headers"), dict) and isinstance(old.get("headers"), dict):
        new["headers"] = {
            name: old["headers"][name] if value == MASK and name in old["headers"] else value
            for name, value in new["headers"].items()
        }
    return new


TOKEN_PREFIX = "opa_"  # noqa: S105 - a prefix that tells what a leaked string is, no secret


def hash_token(token: str) -> str:
    """What a host keeps of its token: the SHA-256 of 32 random bytes needs no salt nor
    stretching."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


class Host(models.Model):
    """A machine whose push agent runs the checks assigned to it and pushes their results."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.PROTECT,
        related_name="hosts",
        help_text=_('Where the "agent silent" incident is opened.'),
    )
    interval = models.PositiveIntegerField(
        _("interval (seconds)"),
        default=60,
        validators=[MinValueValidator(10), MaxValueValidator(86400)],
        help_text=_("How often the agent runs its checks and reports."),
    )
    grace = models.PositiveIntegerField(
        _("grace (seconds)"),
        default=120,
        validators=[MaxValueValidator(7 * 86400)],
        help_text=_("Extra time after the interval before the agent counts as silent."),
    )
    allow_commands = models.BooleanField(
        _("allow command checks"),
        default=False,
        help_text=_("Whether checks that run a command on this host may be assigned to it."),
    )
    severity = models.CharField(
        _("incident severity"), max_length=4, choices=Severity.choices, default=Severity.SEV2
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # Only the hash: the token is shown once, when made (TOKEN_PREFIX + 43 characters).
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    agent_version = models.CharField(_("agent version"), max_length=40, blank=True)
    silent = models.BooleanField(_("silent"), default=False)
    silent_incident = models.ForeignKey(
        "incidents.Incident",
        verbose_name=_("silent incident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rejected_results = models.PositiveIntegerField(_("rejected results"), default=0)
    last_rejection = models.CharField(_("last rejection"), max_length=300, blank=True)
    last_rejected_at = models.DateTimeField(_("last rejected"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("host")
        verbose_name_plural = _("hosts")
        constraints = [
            models.CheckConstraint(condition=Q(interval__gte=10), name="host_interval_at_least_10s")
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("probes:host", args=[self.pk])

    def new_token(self) -> str:
        """A fresh token (unsaved): the old one stops working once saved. Shown once, never
        stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        return token

    @property
    def deadline(self) -> datetime | None:
        if self.last_seen_at is None:
            return None
        return self.last_seen_at + timedelta(seconds=self.interval + self.grace)


class Probe(models.Model):
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="probes"
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Set for the host kinds only: the host whose agent runs the check.
    host = models.ForeignKey(
        Host,
        verbose_name=_("host"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="probes",
    )
    # Kind-specific settings, checked by probes.kinds.validate_config.
    config = EncryptedJSONField(_("settings"), default=dict, blank=True)
    interval = models.PositiveIntegerField(
        _("interval (seconds)"),
        default=60,
        validators=[MinValueValidator(10), MaxValueValidator(7 * 86400)],
        help_text=_("How often it runs; for a heartbeat, the expected period between pings."),
    )
    timeout = models.FloatField(
        _("timeout (seconds)"),
        default=10,
        validators=[MinValueValidator(0.1), MaxValueValidator(60)],
    )
    warning = models.FloatField(
        _("warning threshold"), null=True, blank=True, help_text=_("Empty: the kind's default.")
    )
    critical = models.FloatField(
        _("critical threshold"), null=True, blank=True, help_text=_("Empty: the kind's default.")
    )
    failures_before_alert = models.PositiveSmallIntegerField(
        _("failures before alert"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    successes_to_recover = models.PositiveSmallIntegerField(
        _("successes to recover"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    reminder_minutes = models.PositiveIntegerField(
        _("remind every (minutes)"),
        default=60,
        validators=[MinValueValidator(REMINDER_FLOOR_MINUTES), MaxValueValidator(7 * 24 * 60)],
    )
    severity = models.CharField(
        _("incident severity"), max_length=4, choices=Severity.choices, default=Severity.SEV2
    )
    auto_resolve = models.BooleanField(_("resolve the incident on recovery"), default=True)
    reopen_minutes = models.PositiveIntegerField(
        _("re-open window (minutes)"),
        default=DEFAULT_FLAP_WINDOW_MINUTES,
        validators=[MaxValueValidator(7 * 24 * 60)],
        help_text=_(
            "A failure this soon after its incident was resolved re-opens that incident instead of "
            "opening a new one, and pages at most once in this window. 0: always a new incident."
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # The credential of a heartbeat's ping URL.
    token = models.UUIDField(_("ping token"), default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # State, written by probes.services only.
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.UNKNOWN
    )
    status_since = models.DateTimeField(_("status since"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    consecutive_successes = models.PositiveIntegerField(_("consecutive successes"), default=0)
    alerting = models.BooleanField(_("alerting"), default=False)
    last_alert_at = models.DateTimeField(_("last alert"), null=True, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_value = models.FloatField(_("last value"), null=True, blank=True)
    last_latency_ms = models.FloatField(_("last latency (ms)"), null=True, blank=True)
    last_message = models.CharField(_("last message"), max_length=500, blank=True)
    # Why the last run failed (probes.messages), rendered in the reader's language, and the raw
    # detail.
    last_code = models.CharField(max_length=40, blank=True, editable=False)
    last_params = models.JSONField(default=dict, blank=True, editable=False)
    last_detail = models.CharField(max_length=500, blank=True, editable=False)
    last_ping_at = models.DateTimeField(_("last ping"), null=True, blank=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    # Which tick claimed it last (two clusters never run one probe twice).
    claim = models.UUIDField(null=True, blank=True, editable=False)
    # Hourly latency buckets of the last 24 h, {"<hour epoch>": [count, sum_ms]}:
    # the grid draws its sparklines from here instead of scanning results.
    latency_24h = models.JSONField(default=dict, blank=True, editable=False)
    # Alerting flips in a row, each within the flap window of the previous one (see note_flip).
    flips = models.PositiveIntegerField(_("flips in a row"), default=0, editable=False)
    last_flip_at = models.DateTimeField(_("last flip"), null=True, blank=True, editable=False)
    # The same for the probe's own value (percent, days, count...): what its charts draw.
    value_24h = models.JSONField(default=dict, blank=True, editable=False)
    # What a sampled kind (CPU, memory) kept at its last run for the next one: CPU counters, memory
    # readings. Kept here, not in a worker's memory, so any worker's tick can judge the sustained
    # value.
    sample = models.JSONField(default=dict, blank=True, editable=False)

    objects = ProbeQuerySet.as_manager()
    # Who changed the settings, and when the status flipped; not every run's numbers
    # (the results keep those) nor the heartbeat's credential.
    history = HistoricalRecords(
        excluded_fields=[
            "token",
            "consecutive_failures",
            "consecutive_successes",
            "last_run_at",
            "last_value",
            "last_latency_ms",
            "last_message",
            "last_ping_at",
            "next_run_at",
            "claim",
            "latency_24h",
            "flips",
            "last_flip_at",
            "sample",
            "last_code",
            "last_params",
            "last_detail",
            "value_24h",
        ]
    )

    class Meta:
        ordering = ["service__name", "name"]
        verbose_name = _("probe")
        verbose_name_plural = _("probes")
        permissions = [("run_probe", _("Can run a probe now"))]
        indexes = [
            models.Index(fields=["next_run_at"], name="probe_due", condition=Q(enabled=True))
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "name"], name="unique_probe_name_per_service"
            ),
            models.CheckConstraint(
                condition=Q(interval__gte=10), name="probe_interval_at_least_10s"
            ),
            models.CheckConstraint(condition=Q(timeout__gt=0), name="probe_timeout_positive"),
            models.CheckConstraint(
                condition=Q(reminder_minutes__gte=REMINDER_FLOOR_MINUTES),
                name="probe_reminder_floor",
            ),
            models.CheckConstraint(
                condition=Q(host__isnull=True) | Q(kind__in=HOST_KINDS),
                name="probe_host_only_for_host_kinds",
            ),
        ]

    def __str__(self):
        return f"{self.service} · {self.name}"

    def get_absolute_url(self):
        return reverse("probes:detail", args=[self.pk])

    @property
    def shown_config(self) -> dict:
        """The config as pages, the API and the admin show it: no password in a URL, no
        credential header."""
        return mask_config(self.config)

    @property
    def is_heartbeat(self) -> bool:
        return self.kind == Kind.HEARTBEAT

    @property
    def on_host(self) -> bool:
        return self.kind in HOST_KINDS

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=int(self.config.get("grace_seconds", 0) or 0))

    @property
    def reminder_every(self) -> timedelta:
        return timedelta(minutes=max(REMINDER_FLOOR_MINUTES, self.reminder_minutes))

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(minutes=self.reopen_minutes)

    @property
    def flap_window(self) -> timedelta:
        return timedelta(minutes=self.reopen_minutes or DEFAULT_FLAP_WINDOW_MINUTES)

    def note_flip(self, at: datetime) -> None:
        """The alerting state flipped (opened or recovered; unsaved): one more in a row when the
        previous flip was within the flap window, else the first of a new row."""
        close = self.last_flip_at is not None and at - self.last_flip_at <= self.flap_window
        self.flips = self.flips + 1 if close else 1
        self.last_flip_at = at

    def is_flapping(self, now: datetime) -> bool:
        """FLAPPING_FLIPS flips in a row, the last one within the flap window: it calms down by
        staying in one state for a window."""
        return (
            self.flips >= FLAPPING_FLIPS
            and self.last_flip_at is not None
            and now - self.last_flip_at <= self.flap_window
        )

    @property
    def flapping(self) -> bool:
        return self.is_flapping(timezone.now())

    def reschedule(self, now: datetime) -> None:
        """After a create or an edit (unsaved): a host's probe is never due here; a heartbeat's
        deadline is its last ping (or now) plus the period and grace as they are now; a pull probe
        that has no next run, or one further away than its interval, runs at once."""
        if self.on_host:
            self.next_run_at = None  # pushed by its host's agent; never claimed by the scheduler
        elif self.is_heartbeat:
            self.next_run_at = (
                (self.last_ping_at or now) + timedelta(seconds=self.interval) + self.grace
            )
        elif self.next_run_at is None or self.next_run_at > now + timedelta(seconds=self.interval):
            self.next_run_at = now

    @property
    def shown_message(self) -> str:
        """The last message in the reader's language (the stored text when it has no code)."""
        return render_message(self.last_code, self.last_params, self.last_message)

    def apply(
        self,
        *,
        status: str,
        value,
        latency_ms,
        message: str,
        at: datetime,
        code: str = "",
        params: dict | None = None,
        detail: str = "",
    ) -> str | None:
        """Fold one result into the state (unsaved) and say what alerting should do.

        Warnings count as healthy for alerting: they are shown, never paged
        (DESIGN §5). N consecutive failures open one incident; while still
        failing, a reminder at most every `reminder_every`; M consecutive
        healthy results recover.
        """
        if status != self.status:
            self.status, self.status_since = status, at
        self.last_run_at, self.last_value, self.last_latency_ms = at, value, latency_ms
        self.last_message = (message or "")[:500]
        self.last_code, self.last_params, self.last_detail = (
            code or "",
            params or {},
            (detail or "")[:500],
        )
        if latency_ms is not None:
            self.add_latency_sample(at, latency_ms)
        if value is not None:
            self.value_24h = _add_to_hour(self.value_24h, at, value)
        if status in FAILING:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            if not self.alerting:
                return (
                    Action.OPEN if self.consecutive_failures >= self.failures_before_alert else None
                )
            if self.last_alert_at is None or at - self.last_alert_at >= self.reminder_every:
                return Action.REMIND
            return None
        self.consecutive_successes += 1
        self.consecutive_failures = 0
        if self.alerting and self.consecutive_successes >= self.successes_to_recover:
            return Action.RECOVER
        return None

    def add_latency_sample(self, at: datetime, latency_ms: float) -> None:
        self.latency_24h = _add_to_hour(self.latency_24h, at, latency_ms)

    @property
    def charts_latency(self) -> bool:
        """HTTP and TCP probes chart their latency (their value); the others their own value."""
        return self.kind in (Kind.HTTP, Kind.TCP)

    def sparkline(self, now: datetime) -> list[float | None]:
        """Mean of the charted figure per hour over the last 24 h, oldest first (None: no sample
        that hour)."""
        hour = int(now.timestamp()) // 3600
        buckets = (self.latency_24h if self.charts_latency else self.value_24h) or {}
        points = []
        for h in range(hour - SPARKLINE_HOURS + 1, hour + 1):
            count, total = buckets.get(str(h), [0, 0.0])
            points.append(total / count if count else None)
        return points


def _add_to_hour(buckets: dict | None, at: datetime, figure: float) -> dict:
    """Hourly [count, sum] buckets of the last SPARKLINE_HOURS, with `figure` added to its
    hour's."""
    hour = int(at.timestamp()) // 3600
    kept = {k: v for k, v in (buckets or {}).items() if int(k) > hour - SPARKLINE_HOURS}
    count, total = kept.get(str(hour), [0, 0.0])
    kept[str(hour)] = [count + 1, round(total + figure, 3)]
    return kept


class AgentBatch(models.Model):
    """A batch of results a host pushed, by the id its agent gave it: a batch sent again (its answer
    lost, or replayed from the spool) is acknowledged, not recorded twice. Pruned with the
    results."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="+")
    batch = models.UUIDField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "batch"], name="unique_agent_batch")]
        indexes = [models.Index(fields=["received_at"], name="agent_batch_received")]

    def __str__(self):
        return f"{self.host_id} {self.batch}"


class ProbeResult(models.Model):
    """Append-only; pruned after PROBES_RESULT_RETENTION_DAYS (default 30) by a daily job."""

    probe = models.ForeignKey(
        Probe, verbose_name=_("probe"), on_delete=models.CASCADE, related_name="results"
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=8, choices=[(s.value, s.label) for s in RESULT_STATUSES]
    )
    value = models.FloatField(_("value"), null=True, blank=True)
    latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    # Why it failed (probes.messages): rendered in the reader's language; `detail` is the raw text.
    code = models.CharField(_("message code"), max_length=40, blank=True)
    params = models.JSONField(_("message parameters"), default=dict, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("probe result")
        verbose_name_plural = _("probe results")
        indexes = [
            # the order pages read
            models.Index(fields=["probe", "-at", "-id"], name="result_probe_at"),
            models.Index(fields=["at"], name="result_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in RESULT_STATUSES]),
                name="result_status_known",
            )
        ]

    def __str__(self):
        return f"{self.probe_id} {self.at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def shown_message(self) -> str:
        """The message in the reader's language (the stored text when it has no code)."""
        return render_message(self.code, self.params, self.message)
