"""django-q2 entry points: thin, id-based, each calling one function of probes.services."""

from probes import services
from probes.models import Probe


def tick() -> int:
    """Every minute: run every due probe, looping inside the tick for sub-minute intervals."""
    return services.run_scheduler()


def run_probe(probe_id: int) -> str:
    return services.run_probe(probe=Probe.objects.select_related("service").get(pk=probe_id)).status


def prune_results() -> int:
    """Daily: drop results past the retention period, in batches."""
    return services.prune_results() + services.prune_batches()
