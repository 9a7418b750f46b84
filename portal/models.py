from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token


class ClusterHeartbeat(models.Model):
    """The last time a worker of each django-q2 cluster ran a task.

    Written by a scheduled task, read by /api/health: a beat older than
    HEARTBEAT_STALE_AFTER means the cluster is dead or wedged.
    """

    cluster = models.CharField(_("cluster"), max_length=100, unique=True)
    beat_at = models.DateTimeField(_("last beat"))
    pid = models.PositiveIntegerField(_("worker process id"), default=0)

    class Meta:
        verbose_name = _("cluster heartbeat")
        verbose_name_plural = _("cluster heartbeats")

    def __str__(self):
        return f"{self.cluster} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"

    def age_seconds(self, now=None) -> float:
        return ((now or timezone.now()) - self.beat_at).total_seconds()


class UserPreference(models.Model):
    """What a person chose for themselves: today, the language they read the portal and their
    e-mails in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="preference",
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self):
        return f"{self.user}: {self.language or '-'}"


class AuditTrail(models.Model):
    """No table: it holds the permission to read the audit trail (portal.audit), which
    Django can only attach to a model. Managers have it (PortalConfig.manager_permissions)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_audit", _("Can see who changed what"))]
        verbose_name = _("audit trail")

    def __str__(self):
        return str(self._meta.verbose_name)


# How fresh a token's "last used" is: at most one write a minute per token.
LAST_USED_PRECISION = timedelta(minutes=1)


class TokenLifetime(models.TextChoices):
    DAYS_30 = "30", _("30 days")
    DAYS_90 = "90", _("90 days")
    DAYS_365 = "365", _("1 year")
    NEVER = "never", _("Never expires")

    @property
    def duration(self) -> timedelta | None:
        return None if self == TokenLifetime.NEVER else timedelta(days=int(self.value))


class TokenDetails(models.Model):
    """What DRF's Token does not keep: when it expires and when it was last used.

    Created with the token (portal.services.create_api_token) and deleted with it.
    """

    # Not the token's primary key (that is the key itself): this row's id may be shown.
    token = models.OneToOneField(
        Token, verbose_name=_("token"), on_delete=models.CASCADE, related_name="details"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token details")
        verbose_name_plural = _("API token details")
        # No view/add/change/delete for the roles: only managers see tokens, through their page.
        default_permissions = ()
        permissions = [("manage_api_tokens", _("Can see and revoke everyone's API tokens"))]

    def __str__(self):
        return f"{self.token.user}: {self.expires_at or '-'}"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def record_use(self, now: datetime) -> bool:
        """At most one write a minute per token: a busy script must not turn every API read into
        a write."""
        since = now - LAST_USED_PRECISION
        if self.last_used_at is not None and self.last_used_at > since:
            return False
        updated = (
            TokenDetails.objects.filter(pk=self.pk)
            .filter(models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=since))
            .update(last_used_at=now)
        )
        if updated:
            self.last_used_at = now
        return bool(updated)


class CompanyDay(models.Model):
    """A day the company does not work on top of the public holidays (foundation day, a
    company-wide day off): business hours, checklists and due dates skip it like a holiday."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["date"]
        verbose_name = _("company day off")
        verbose_name_plural = _("company days off")

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.name}"
