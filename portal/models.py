from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
    """What a person chose for themselves: today, the language they read the portal and their e-mails in."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                                related_name="preference")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True)

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
