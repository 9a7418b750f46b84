"""Prometheus metrics: request counters by view, plus gauges read at scrape time.

Under gunicorn the serve command sets PROMETHEUS_MULTIPROC_DIR, so counters
from every web worker add up; without it (tests, runserver) they live in this
process. Apps add gauges by giving their AppConfig a `collect_metrics()`
generator of metric families.
"""

import os
import time

from django.apps import apps
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily

from portal import health

_local = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests by view, method and status.",
    ["view", "method", "status"],
    registry=_local,
)
ERRORS = Counter(
    "portal_http_errors",
    "HTTP 5xx answers and unhandled exceptions by view.",
    ["view"],
    registry=_local,
)


def view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name or match._func_path) if match else "unresolved"


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        view = view_label(request)
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        if response.status_code >= 500:
            ERRORS.labels(view).inc()
        return response


class PortalCollector:
    """Gauges computed from the database at scrape time."""

    def collect(self):
        uptime = GaugeMetricFamily(
            "portal_uptime_seconds", "Seconds since this web process started."
        )
        uptime.add_metric([], time.monotonic() - health.STARTED)
        yield uptime

        database_ok = health.check_database() == "ok"
        up = GaugeMetricFamily("portal_database_up", "1 when the database answers.")
        up.add_metric([], 1.0 if database_ok else 0.0)
        yield up
        if not database_ok:
            return

        from django.utils import timezone

        ages = health.cluster_ages(timezone.now())
        age = GaugeMetricFamily(
            "portal_queue_heartbeat_age_seconds",
            "Seconds since each cluster's last heartbeat task ran.",
            labels=["cluster"],
        )
        healthy = GaugeMetricFamily(
            "portal_queue_healthy", "1 when each cluster's heartbeat is fresh.", labels=["cluster"]
        )
        for name, seconds in ages.items():
            if seconds is not None:
                age.add_metric([name], seconds)
            fresh = seconds is not None and seconds <= health.HEARTBEAT_STALE_AFTER
            healthy.add_metric([name], 1.0 if fresh else 0.0)
        yield age
        yield healthy

        for config in apps.get_app_configs():
            collect = getattr(config, "collect_metrics", None)
            if collect:
                yield from collect()


class _LocalCollector:
    def collect(self):
        return _local.collect()


def render() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_LocalCollector())
    registry.register(PortalCollector())
    return generate_latest(registry)
