"""On-call schedules: layers of rotations, overrides, and the calendar feeds' secret tokens."""

import secrets
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.fields import EncryptedTextField
from oncall import rotation as rotations


def new_token() -> str:
    return secrets.token_urlsafe(32)


def portal_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


class Schedule(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    # Escalation steps that page whoever is on call here when they fire (incidents.targets).
    escalation_steps = models.ManyToManyField(
        "incidents.EscalationStep", verbose_name=_("escalation steps"), blank=True, related_name="+"
    )
    # The calendar feed's secret: whoever has the URL reads the schedule without logging in.
    feed_token = EncryptedTextField(_("calendar feed token"), default=new_token, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = HistoricalRecords(m2m_fields=[])

    class Meta:
        ordering = ["name"]
        verbose_name = _("on-call schedule")
        verbose_name_plural = _("on-call schedules")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("oncall:detail", args=[self.pk])

    def layer_specs(self) -> list[rotations.LayerSpec]:
        return [layer.spec() for layer in self.layers.all()]

    def override_specs(self) -> list[rotations.OverrideSpec]:
        return [override.spec() for override in self.overrides.all()]

    def on_call_at(self, at: datetime) -> int | None:
        """The contact id on call at `at` (layers and overrides prefetched or not)."""
        return rotations.on_call_at(self.layer_specs(), self.override_specs(), at, portal_zone())

    def shifts(self, start: datetime, end: datetime) -> list[rotations.Shift]:
        return rotations.shifts(
            self.layer_specs(), self.override_specs(), start, end, portal_zone()
        )


class Rotation(models.TextChoices):
    DAILY = "daily", _("daily")
    WEEKLY = "weekly", _("weekly")
    CUSTOM = "custom", _("every N days")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Layer(models.Model):
    """One rotation of a schedule. Where layers overlap the one at the higher level wins."""

    schedule = models.ForeignKey(
        Schedule, verbose_name=_("schedule"), on_delete=models.CASCADE, related_name="layers"
    )
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(
        _("level"), default=1, help_text=_("Where layers overlap, the higher level wins.")
    )
    rotation = models.CharField(
        _("rotation"), max_length=10, choices=Rotation.choices, default=Rotation.WEEKLY
    )
    rotation_days = models.PositiveSmallIntegerField(
        _("days per shift"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("For a rotation every N days."),
    )
    handoff_weekday = models.PositiveSmallIntegerField(
        _("hand-off weekday"),
        choices=Weekday.choices,
        default=Weekday.MONDAY,
        help_text=_("For a weekly rotation."),
    )
    handoff_hour = models.PositiveSmallIntegerField(
        _("hand-off hour"), default=9, validators=[MaxValueValidator(23)]
    )
    handoff_minute = models.PositiveSmallIntegerField(
        _("hand-off minute"), default=0, validators=[MaxValueValidator(59)]
    )
    starts_on = models.DateField(
        _("starts on"),
        default=timezone.localdate,
        help_text=_(
            "The first shift begins on this day (for a weekly rotation, on the "
            "first hand-off weekday from it) at the hand-off time."
        ),
    )
    # Restriction: the layer covers only these weekdays and hours; empty covers all the time.
    restrict_weekdays = models.JSONField(_("only on weekdays"), default=list, blank=True)
    restrict_from = models.TimeField(_("only from"), null=True, blank=True)
    restrict_to = models.TimeField(_("only until"), null=True, blank=True)
    members = models.ManyToManyField(
        "incidents.Contact", verbose_name=_("rotation"), through="LayerMember", related_name="+"
    )

    class Meta:
        ordering = ["schedule", "level", "id"]
        verbose_name = _("layer")
        verbose_name_plural = _("layers")
        constraints = [
            models.CheckConstraint(
                condition=Q(handoff_hour__lte=23) & Q(handoff_minute__lte=59),
                name="oncall_layer_handoff_in_day",
            ),
            models.CheckConstraint(
                condition=Q(rotation_days__gte=1), name="oncall_layer_rotation_days_positive"
            ),
        ]

    def __str__(self):
        return f"{self.schedule} · {self.name}"

    def clean(self):
        """Restriction hours both set or both empty, weekdays 0–6, and no two layers at one level
        covering the same hour (which of them is on call would be a coin toss)."""
        if (self.restrict_from is None) != (self.restrict_to is None):
            raise ValidationError(
                {
                    "restrict_to": ValidationError(
                        _("Give both ends of the hours, or neither."), code="rule"
                    )
                }
            )
        weekdays = self.restrict_weekdays or []
        if not isinstance(weekdays, list) or any(
            not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in weekdays
        ):
            raise ValidationError(
                {
                    "restrict_weekdays": ValidationError(
                        _("Weekdays are numbers from 0 (Monday) to 6 (Sunday)."), code="invalid"
                    )
                }
            )
        if self.schedule_id is None or not (
            0 <= self.handoff_hour <= 23 and 0 <= self.handoff_minute <= 59
        ):
            return  # a field error already says what is wrong
        spec = self.spec([])
        for other in Layer.objects.filter(schedule_id=self.schedule_id, level=self.level).exclude(
            pk=self.pk
        ):
            if spec.overlaps(other.spec([])):
                raise ValidationError(
                    {
                        "level": ValidationError(
                            _(
                                "Layer “%(other)s” is on the same level and covers some of the "
                                "same hours: give one of them a higher level or restrict them to "
                                "different hours."
                            )
                            % {"other": other.name},
                            code="overlap",
                        )
                    }
                )

    @property
    def handoff(self) -> time:
        return time(self.handoff_hour, self.handoff_minute)

    @property
    def shift_days(self) -> int:
        return {Rotation.DAILY: 1, Rotation.WEEKLY: 7}.get(self.rotation, self.rotation_days)

    @property
    def anchor(self) -> date:
        if self.rotation != Rotation.WEEKLY:
            return self.starts_on
        return self.starts_on + timedelta(
            days=(self.handoff_weekday - self.starts_on.weekday()) % 7
        )

    def member_ids(self) -> list[int]:
        return [
            m.contact_id for m in sorted(self.memberships.all(), key=lambda m: (m.position, m.pk))
        ]

    def spec(self, member_ids: list[int] | None = None) -> rotations.LayerSpec:
        return rotations.LayerSpec(
            members=tuple(self.member_ids() if member_ids is None else member_ids),
            rotation_days=self.shift_days,
            handoff=self.handoff,
            anchor=self.anchor,
            position=self.level,
            weekdays=tuple(self.restrict_weekdays or ()),
            from_time=self.restrict_from,
            to_time=self.restrict_to,
        )


class LayerMember(models.Model):
    layer = models.ForeignKey(
        Layer, verbose_name=_("layer"), on_delete=models.CASCADE, related_name="memberships"
    )
    contact = models.ForeignKey(
        "incidents.Contact", verbose_name=_("contact"), on_delete=models.CASCADE, related_name="+"
    )
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        ordering = ["layer", "position"]
        verbose_name = _("rotation member")
        verbose_name_plural = _("rotation members")
        constraints = [
            models.UniqueConstraint(
                fields=["layer", "position"], name="oncall_unique_member_position"
            )
        ]

    def __str__(self):
        return f"{self.layer} #{self.position}: {self.contact}"


class Override(models.Model):
    """Someone covers a time range (leave, a swap): they are on call then, whatever the layers
    say."""

    schedule = models.ForeignKey(
        Schedule, verbose_name=_("schedule"), on_delete=models.CASCADE, related_name="overrides"
    )
    contact = models.ForeignKey(
        "incidents.Contact", verbose_name=_("on call"), on_delete=models.CASCADE, related_name="+"
    )
    covers_for = models.ForeignKey(
        "incidents.Contact",
        verbose_name=_("covers for"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
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
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("override")
        verbose_name_plural = _("overrides")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="oncall_override_ends_after_start"
            )
        ]
        indexes = [
            models.Index(fields=["schedule", "ends_at"], name="oncall_override_schedule_end")
        ]

    def __str__(self):
        hours = f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"
        return f"{self.schedule}: {self.contact} {hours}"

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError(
                {
                    "ends_at": ValidationError(
                        _("An override must end after it starts."), code="rule"
                    )
                }
            )

    def spec(self) -> rotations.OverrideSpec:
        return rotations.OverrideSpec(
            self.contact_id, self.starts_at, self.ends_at, order=self.pk or 0
        )

    def may_change(self, user) -> bool:
        """Managers change any override; anyone else only one that puts them on call or covers
        for them."""
        if user.has_perm("oncall.change_schedule"):
            return True
        own = getattr(user, "contact", None)
        return own is not None and own.pk in (self.contact_id, self.covers_for_id)


class PersonalFeed(models.Model):
    """The secret of one person's own shifts as a calendar feed."""

    contact = models.OneToOneField(
        "incidents.Contact", verbose_name=_("contact"), on_delete=models.CASCADE, related_name="+"
    )
    token = EncryptedTextField(_("calendar feed token"), default=new_token, editable=False)

    class Meta:
        verbose_name = _("personal calendar feed")
        verbose_name_plural = _("personal calendar feeds")

    def __str__(self):
        return str(self.contact)
