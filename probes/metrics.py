"""Gauges for /api/metrics: each probe's status and last latency."""

from prometheus_client.core import GaugeMetricFamily

from probes.models import STATUS_GAUGE, Probe


def collect():
    status = GaugeMetricFamily(
        "portal_probe_status",
        "Last status of each probe: 0 ok, 1 warning, 2 critical, 3 error, -1 not run yet.",
        labels=["probe", "service", "kind"],
    )
    latency = GaugeMetricFamily(
        "portal_probe_latency_ms",
        "Latency of each probe's last run, in milliseconds.",
        labels=["probe", "service", "kind"],
    )
    rows = (
        Probe.objects.filter(enabled=True)
        .values_list("name", "service__name", "kind", "status", "last_latency_ms")
        .order_by("id")
    )
    for name, service, kind, state, last_latency in rows.iterator(chunk_size=2000):
        labels = [name, service, kind]
        status.add_metric(labels, STATUS_GAUGE.get(state, -1))
        if last_latency is not None:
            latency.add_metric(labels, last_latency)
    yield status
    yield latency
