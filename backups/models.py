from datetime import datetime, timedelta

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.fields import EncryptedTextField
from core.secrets import mask_dsn, mask_url


class Kind(models.TextChoices):
    PORTAL_DB = "portal_db", _("the portal's own database")
    SQLITE = "sqlite", _("SQLite database")
    POSTGRES = "postgres", _("PostgreSQL database")
    DIRECTORY = "directory", _("directory")
    FILE = "file", _("file")


class Format(models.TextChoices):
    """What a backup file holds; a restore needs the target's kind to produce the same format."""

    SQLITE = "sqlite", _("SQLite database")
    PG_DUMP = "pg_dump", _("PostgreSQL custom-format dump")
    TAR = "tar", _("tar.gz archive")
    FILE = "file", _("file copy")


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", _("schedule")
    MANUAL = "manual", _("manual")
    API = "api", _("API")
    PRE_RESTORE = "pre_restore", _("safety copy before a restore")
    REHEARSAL = "rehearsal", _("rehearsal")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class Verification(models.TextChoices):
    PENDING = "pending", _("not verified yet")
    PASSED = "passed", _("passed")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped (verification is off)")


target_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    _("Use letters, digits, '.', '_' and '-' only: the name is part of every backup's file name."),
)


def default_schedule() -> str:
    return "0 2 * * *"


class Repository(models.Model):
    """A restic repository that receives each verified backup of the targets naming it."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    url = models.CharField(
        _("repository"),
        max_length=1000,
        help_text=_(
            "A folder (e.g. a mounted NAS: /mnt/backup/restic), sftp:user@host:/path, "
            "s3:host/bucket/path or rest:https://host:8000/path. S3 and REST credentials come "
            "from the worker's environment."
        ),
    )
    password = EncryptedTextField(
        _("password"),
        help_text=_(
            "restic's repository password. Kept encrypted and never shown again: without it the "
            "off-site copies cannot be read, so keep a copy in the password safe."
        ),
    )
    upload_limit_kib = models.PositiveIntegerField(
        _("upload limit (KiB/s)"),
        null=True,
        blank=True,
        help_text=_(
            "So a nightly copy over a WAN link leaves room for other traffic. Empty: no limit."
        ),
    )
    initialised_at = models.DateTimeField(_("initialised"), null=True, blank=True)
    status_at = models.DateTimeField(_("status read"), null=True, blank=True)
    snapshot_count = models.PositiveIntegerField(_("snapshots"), null=True, blank=True)
    size = models.BigIntegerField(_("size"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)
    last_check_at = models.DateTimeField(_("last check"), null=True, blank=True)
    last_check_passed = models.BooleanField(_("last check passed"), null=True)
    last_check_detail = models.TextField(_("last check detail"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["password"])

    class Meta:
        ordering = ["name"]
        verbose_name = _("restic repository")
        verbose_name_plural = _("restic repositories")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("backups:repository", args=[self.pk])

    @property
    def shown_url(self) -> str:
        """A REST server's user:password@ masked; other forms hold no credential."""
        if self.url.startswith("rest:"):
            return "rest:" + mask_url(self.url[len("rest:") :])
        return self.url

    def clean(self):
        from backups.restic import validate_url
        from core.paths import backup_path

        problem = validate_url(self.url or "")
        if problem:
            raise ValidationError({"url": [problem]})
        if self.url.startswith("/"):
            # A folder here is written to like a backup destination: the same roots apply.
            try:
                backup_path(self.url)
            except ValidationError as exc:
                raise ValidationError({"url": exc.messages}) from None

    def as_restic(self):
        from backups.restic import Repo

        return Repo(url=self.url, password=self.password, upload_limit_kib=self.upload_limit_kib)


class BackupTarget(models.Model):
    name = models.CharField(
        _("name"), max_length=80, unique=True, validators=[target_name_validator]
    )
    service = models.ForeignKey(
        "incidents.Service",
        verbose_name=_("service"),
        on_delete=models.PROTECT,
        related_name="backup_targets",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    source = EncryptedTextField(
        _("source"),
        max_length=1000,
        blank=True,
        help_text=_(
            "A path, or for PostgreSQL a connection string (postgres://user@host:5432/db). "
            "Empty for the portal's own database."
        ),
    )
    destination = models.CharField(_("destination folder"), max_length=1000)
    excludes = models.TextField(
        _("exclude patterns"),
        blank=True,
        help_text=_("For directories: one glob pattern per line, e.g. *.log"),
    )
    schedule = models.CharField(_("schedule (cron)"), max_length=100, default=default_schedule)
    keep_last = models.PositiveIntegerField(_("keep last"), default=30)
    keep_daily = models.PositiveIntegerField(_("keep daily"), default=0)
    keep_weekly = models.PositiveIntegerField(_("keep weekly"), default=0)
    keep_monthly = models.PositiveIntegerField(_("keep monthly"), default=0)
    compress = models.BooleanField(
        _("compress (gzip)"),
        default=False,
        help_text=_("For files and SQLite copies; archives and dumps are always compressed."),
    )
    verify = models.BooleanField(_("verify after backup"), default=True)
    repository = models.ForeignKey(
        Repository,
        verbose_name=_("off-site repository"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="targets",
        help_text=_("Each verified backup is copied there as a restic snapshot."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("backup target")
        verbose_name_plural = _("backup targets")
        constraints = [
            # An empty policy would delete every backup but the newest verified one.
            models.CheckConstraint(
                condition=Q(keep_last__gt=0)
                | Q(keep_daily__gt=0)
                | Q(keep_weekly__gt=0)
                | Q(keep_monthly__gt=0),
                name="backup_target_retention_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=Kind.values), name="backup_target_kind_known"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("backups:target", args=[self.pk])

    @property
    def shown_source(self) -> str:
        """The source as pages, the API and the admin show it: a connection string without its
        password."""
        return mask_dsn(self.source) if self.kind == Kind.POSTGRES else self.source

    def clean(self):
        from core.paths import backup_path

        errors = {}
        if self.kind in (Kind.SQLITE, Kind.DIRECTORY, Kind.FILE):
            try:
                backup_path(self.source)
            except ValidationError as exc:
                errors["source"] = exc.messages
        elif self.kind == Kind.POSTGRES and not (
            self.source.startswith(("postgres://", "postgresql://")) or "dbname=" in self.source
        ):
            errors["source"] = [_("Give a connection string: postgres://user@host:5432/dbname.")]
        elif self.kind == Kind.PORTAL_DB and self.source:
            errors["source"] = [
                _("Leave the source empty: the portal backs up the database it runs on.")
            ]
        try:
            backup_path(self.destination)
        except ValidationError as exc:
            errors["destination"] = exc.messages
        if not croniter.is_valid(self.schedule or ""):
            errors["schedule"] = [
                _("This is not a cron expression (five fields, e.g. 0 2 * * * for 02:00 daily).")
            ]
        if not self.keeps_something():
            errors["keep_last"] = [
                _("Keep at least one backup: set keep last, daily, weekly or monthly.")
            ]
        if errors:
            raise ValidationError(errors)

    def next_run_after(self, moment: datetime) -> datetime:
        """The next cron slot after `moment`, in the portal's time zone ("02:00" means local
        02:00)."""
        local = timezone.localtime(moment)
        return croniter(self.schedule, local).get_next(datetime)

    def keeps_something(self) -> bool:
        return any((self.keep_last, self.keep_daily, self.keep_weekly, self.keep_monthly))

    def freshness(self, age: timedelta | None) -> str:
        """ok / warning / critical for the age of the newest verified backup against the
        service's RPO: warning once 80 % of the RPO is used up, critical past it or with no
        verified backup."""
        if age is None:
            return "critical"
        rpo = self.service.rpo
        if rpo is None or age <= rpo * 0.8:
            return "ok"
        return "warning" if age <= rpo else "critical"

    def exclude_patterns(self) -> list[str]:
        return [line.strip() for line in self.excludes.splitlines() if line.strip()]


class OffsiteStatus(models.TextChoices):
    NONE = "", _("not copied")
    RUNNING = "running", _("copying")
    SUCCEEDED = "succeeded", _("copied")
    FAILED = "failed", _("copy failed")


class BackupRunQuerySet(models.QuerySet):
    def verified(self):
        """Runs whose file exists and passed verification (or was written with verification off),
        newest first. By id, along the (target, -id) index: a target runs one backup at a time,
        so its newer runs finish later, and ordering by finished_at would read every run."""
        return self.filter(
            status=RunStatus.SUCCEEDED,
            pruned_at=None,
            verification__in=(Verification.PASSED, Verification.SKIPPED),
        ).order_by("-id")

    def stale(self, *, now: datetime, after: timedelta):
        return self.filter(status=RunStatus.RUNNING, heartbeat_at__lt=now - after)


class BackupRun(models.Model):
    target = models.ForeignKey(
        BackupTarget, verbose_name=_("target"), on_delete=models.PROTECT, related_name="runs"
    )
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    format = models.CharField(_("format"), max_length=20, choices=Format.choices, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    queued_at = models.DateTimeField(_("queued"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    worker_pid = models.PositiveIntegerField(_("worker process"), null=True, blank=True)
    worker_host = models.CharField(_("worker host"), max_length=255, blank=True)
    bytes_done = models.BigIntegerField(_("bytes written"), default=0)
    file = models.CharField(_("file"), max_length=1200, blank=True)
    size = models.BigIntegerField(_("size"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    verification = models.CharField(
        _("verification"), max_length=20, choices=Verification.choices, default=Verification.PENDING
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verification_detail = models.TextField(_("verification detail"), blank=True)
    error = models.TextField(_("error"), blank=True)
    pruned_at = models.DateTimeField(_("deleted by retention"), null=True, blank=True)
    offsite_status = models.CharField(
        _("off-site copy"),
        max_length=20,
        choices=OffsiteStatus.choices,
        blank=True,
        default=OffsiteStatus.NONE,
    )
    repository = models.ForeignKey(
        Repository,
        verbose_name=_("copied to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
    )
    snapshot_id = models.CharField(_("snapshot"), max_length=64, blank=True)
    offsite_bytes_added = models.BigIntegerField(_("bytes added off-site"), null=True, blank=True)
    offsite_duration = models.DurationField(_("copy duration"), null=True, blank=True)
    offsite_finished_at = models.DateTimeField(_("copied at"), null=True, blank=True)
    offsite_error = models.TextField(_("off-site error"), blank=True)
    snapshot_forgotten_at = models.DateTimeField(_("snapshot forgotten"), null=True, blank=True)

    objects = BackupRunQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("backup run")
        verbose_name_plural = _("backup runs")
        indexes = [models.Index(fields=["target", "-id"], name="backup_run_target_recent")]
        permissions = [("restore_backuprun", _("Can restore a backup over the target's data"))]
        constraints = [
            # The claim: two clusters (or a click and the schedule) never back up one target at
            # once.
            models.UniqueConstraint(
                fields=["target"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_backup_per_target",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="backup_run_status_known"
            ),
        ]

    def __str__(self):
        return f"{self.target} #{self.pk}"

    def get_absolute_url(self):
        return reverse("backups:run", args=[self.pk])

    @property
    def file_name(self) -> str:
        return self.file.rsplit("/", 1)[-1]

    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def is_restorable(self) -> bool:
        return self.status == RunStatus.SUCCEEDED and self.pruned_at is None and bool(self.file)

    def mark_failed(self, error: str, *, now: datetime | None = None) -> None:
        self.status = RunStatus.FAILED
        self.error = error
        self.finished_at = now or timezone.now()
        self.save(update_fields=["status", "error", "finished_at"])

    def mark_succeeded(self, *, size: int, sha256: str, now: datetime | None = None) -> None:
        self.status = RunStatus.SUCCEEDED
        self.size = self.bytes_done = size
        self.sha256 = sha256
        self.finished_at = now or timezone.now()
        self.verification = Verification.PENDING if self.target.verify else Verification.SKIPPED
        self.save(
            update_fields=["status", "size", "bytes_done", "sha256", "finished_at", "verification"]
        )

    def mark_verified(self, *, passed: bool, detail: str, now: datetime | None = None) -> None:
        self.verification = Verification.PASSED if passed else Verification.FAILED
        self.verification_detail = detail
        self.verified_at = now or timezone.now()
        self.save(update_fields=["verification", "verification_detail", "verified_at"])

    def is_restorable_offsite(self) -> bool:
        return (
            self.offsite_status == OffsiteStatus.SUCCEEDED
            and bool(self.snapshot_id)
            and self.snapshot_forgotten_at is None
            and self.repository_id is not None
        )

    def mark_pruned(self, *, now: datetime) -> None:
        self.pruned_at = now
        self.save(update_fields=["pruned_at"])

    def record_progress(self, bytes_done: int, *, now: datetime) -> None:
        # A plain UPDATE: the page polls these two columns, nothing else changes.
        BackupRun.objects.filter(pk=self.pk).update(bytes_done=bytes_done, heartbeat_at=now)
        self.bytes_done, self.heartbeat_at = bytes_done, now


class RestoreStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class RestoreRun(models.Model):
    backup = models.ForeignKey(
        BackupRun,
        verbose_name=_("restored backup"),
        on_delete=models.PROTECT,
        related_name="restores",
    )
    target = models.ForeignKey(
        BackupTarget,
        verbose_name=_("restored into target"),
        on_delete=models.PROTECT,
        related_name="restores",
    )
    destination = models.CharField(_("restored into"), max_length=1000)
    safety_run = models.ForeignKey(
        BackupRun,
        verbose_name=_("safety copy"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=RestoreStatus.choices, default=RestoreStatus.QUEUED
    )
    from_repository = models.BooleanField(_("from the off-site repository"), default=False)
    integrity = models.TextField(_("integrity check"), blank=True)
    error = models.TextField(_("error"), blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("restore")
        verbose_name_plural = _("restores")

    def __str__(self):
        return f"{self.target} ← #{self.backup_id}"

    def mark_failed(self, error: str) -> None:
        self.status = RestoreStatus.FAILED
        self.error = error
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "error", "finished_at"])

    def mark_succeeded(self, integrity: str) -> None:
        self.status = RestoreStatus.SUCCEEDED
        self.integrity = integrity
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "integrity", "finished_at"])


class Rehearsal(models.Model):
    target = models.ForeignKey(
        BackupTarget, verbose_name=_("target"), on_delete=models.PROTECT, related_name="rehearsals"
    )
    backup = models.ForeignKey(
        BackupRun,
        verbose_name=_("rehearsed backup"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rehearsals",
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    passed = models.BooleanField(_("passed"), null=True)
    detail = models.JSONField(_("what was checked"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    snapshot_id = models.CharField(_("restored from snapshot"), max_length=64, blank=True)
    duration = models.DurationField(_("restore duration"), null=True, blank=True)
    rto = models.DurationField(_("RTO at the time"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("restore rehearsal")
        verbose_name_plural = _("restore rehearsals")

    def __str__(self):
        return f"{self.target} rehearsal {self.started_at:%Y-%m-%d}"

    def finish(self, *, passed: bool, detail: dict, error: str = "") -> None:
        self.passed, self.detail, self.error = passed, detail, error
        self.finished_at = timezone.now()
        self.save(update_fields=["passed", "detail", "error", "finished_at", "duration"])
