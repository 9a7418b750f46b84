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
