import os

from django.utils import timezone

from portal.models import ClusterHeartbeat


def heartbeat(cluster: str = "portal") -> None:
    ClusterHeartbeat.objects.update_or_create(
        cluster=cluster, defaults={"beat_at": timezone.now(), "pid": os.getpid()}
    )
