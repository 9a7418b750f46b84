"""What /api/health reports: can we serve, is the queue alive, is there disk."""

import json
import time
from pathlib import Path

import psutil
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from portal import __version__

STARTED = time.monotonic()
# The heartbeat schedule runs every minute; django-q2's scheduler wakes every
# 30 s, so a healthy cluster's beat is at most ~90 s old.
HEARTBEAT_STALE_AFTER = 120
CLUSTERS = ("portal", "long")
# Written by `manage.py serve` in <data dir>/run/: each child's state (web, workers, long-workers).
CHILDREN_STATE = "children.json"


def check_database() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        connections["default"].close_if_unusable_or_obsolete()
        return "unreachable"
    return "ok"


def check_broker() -> bool:
    if not settings.REDIS_URL:
        return True  # the ORM broker is the database, checked above
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        return bool(client.ping())
    except redis.RedisError:
        return False


def cluster_ages(now) -> dict[str, float | None]:
    from portal.models import ClusterHeartbeat

    beats = dict(
        ClusterHeartbeat.objects.filter(cluster__in=CLUSTERS).values_list("cluster", "beat_at")
    )
    return {
        name: (now - beats[name]).total_seconds() if name in beats else None for name in CLUSTERS
    }


def check_queue(now) -> tuple[str, dict]:
    if not check_broker():
        return "unreachable", {}
    ages = cluster_ages(now)
    stale = [name for name, age in ages.items() if age is None or age > HEARTBEAT_STALE_AFTER]
    details = {name: (round(age, 1) if age is not None else None) for name, age in ages.items()}
    return ("stale" if stale else "ok"), details


def check_processes() -> dict:
    """The processes `serve` supervises, by name: {"running": bool, "restarts": n, ...}; {} when the
    portal is not run by `serve` (gunicorn and qcluster started by systemd or a container)."""
    try:
        return json.loads((Path(settings.DATA_DIR) / "run" / CHILDREN_STATE).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def disk_free_gb() -> float:
    return round(psutil.disk_usage(str(settings.DATA_DIR)).free / 2**30, 2)


def collect() -> dict:
    now = timezone.now()
    database = check_database()
    if database == "ok":
        queue, heartbeat_ages = check_queue(now)
    else:
        queue, heartbeat_ages = "unknown", {}
    free = disk_free_gb()
    processes = check_processes()
    if database != "ok":
        status = "unhealthy"
    elif (
        queue != "ok"
        or free < settings.DISK_MIN_FREE_GB
        or not all(p["running"] for p in processes.values())
    ):
        status = "degraded"
    else:
        status = "healthy"
    return {
        "status": status,
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - STARTED, 1),
        "database": database,
        "database_engine": connections["default"].vendor,
        "queue": queue,
        "queue_broker": "redis" if settings.REDIS_URL else "orm",
        "heartbeat_age_seconds": heartbeat_ages,
        "disk_free_gb": free,
        "processes": processes,
        "time": now.isoformat(),
    }
