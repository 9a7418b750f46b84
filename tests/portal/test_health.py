from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal import health
from portal.models import ClusterHeartbeat
from portal.tasks import heartbeat


def beat(cluster, age_seconds):
    ClusterHeartbeat.objects.update_or_create(
        cluster=cluster, defaults={"beat_at": timezone.now() - timedelta(seconds=age_seconds)}
    )


@pytest.fixture
def fresh_clusters(db):
    for name in health.CLUSTERS:
        heartbeat(name)


def test_health_needs_no_login_and_is_healthy_with_fresh_heartbeats(client, fresh_clusters):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"] == "ok"
    assert body["queue"] == "ok"
    assert set(body) >= {
        "status",
        "version",
        "uptime_seconds",
        "database",
        "queue",
        "disk_free_gb",
        "time",
    }
    assert body["disk_free_gb"] > 0


def test_a_stale_cluster_heartbeat_makes_health_degraded(client, db):
    beat("portal", 30)
    beat("long", 121)
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["queue"] == "stale"


def test_a_cluster_that_never_beat_is_stale(client, db):
    beat("portal", 5)
    assert client.get("/api/health").json()["queue"] == "stale"


def test_low_disk_in_the_data_dir_makes_health_degraded(client, fresh_clusters, settings):
    settings.DISK_MIN_FREE_GB = 10**9
    assert client.get("/api/health").json()["status"] == "degraded"


def test_an_unreachable_redis_broker_makes_the_queue_unreachable(client, fresh_clusters, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    body = client.get("/api/health").json()
    assert body["queue"] == "unreachable"
    assert body["status"] == "degraded"


@pytest.fixture
def broken_database(transactional_db, tmp_path):
    """Point the live connection at a database that cannot be reached, for real."""
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing-dir" / "db.sqlite3")
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens there
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(original)


def test_an_unreachable_database_makes_health_unhealthy_with_503(client, broken_database):
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "unreachable"
    assert body["queue"] == "unknown"


def test_the_heartbeat_task_records_its_cluster(db):
    heartbeat("long")
    row = ClusterHeartbeat.objects.get(cluster="long")
    assert row.age_seconds() < 5


def test_a_process_serve_is_restarting_makes_health_degraded(
    client, fresh_clusters, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    (tmp_path / "run").mkdir()
    state = tmp_path / "run" / health.CHILDREN_STATE
    state.write_text(
        '{"web": {"running": true, "restarts": 0}, "workers": {"running": true, "restarts": 1}}'
    )
    body = client.get("/api/health").json()
    assert body["status"] == "healthy" and body["processes"]["workers"]["restarts"] == 1
    state.write_text(
        '{"web": {"running": true, "restarts": 0},'
        ' "workers": {"running": false, "restarts": 1, "exit_code": -9}}'
    )
    body = client.get("/api/health").json()
    assert body["status"] == "degraded"
    assert body["processes"]["workers"] == {"running": False, "restarts": 1, "exit_code": -9}


def test_without_serve_there_are_no_processes_to_report(client, fresh_clusters, settings, tmp_path):
    settings.DATA_DIR = tmp_path  # gunicorn and qcluster run by systemd: no state file
    body = client.get("/api/health").json()
    assert body["status"] == "healthy" and body["processes"] == {}
