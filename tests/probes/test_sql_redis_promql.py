# ruff: noqa: S608 - the SQL here names the test's own fixed databases
"""The data-store kinds against real servers: `sql` on the PostgreSQL and MariaDB of this machine
(databases of their own, i18_*) and on SQLite, `redis` on a redis-server the test starts, `promql`
on a small fake Prometheus API; plus `directory` sizes and a file's maximum size."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg
import pymysql
import pytest
from django.core.exceptions import ValidationError

from probes.data_kinds import check_scalar_query
from probes.kinds import limits_for, run_check, validate_config, validate_probe
from probes.models import Kind, mask_config
from tests.probes.agent_helpers import free_port, wait_until

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Per run, so that two runs of the suite at once never share them.
PG_DB = f"i18_probe_{os.getpid()}"
MARIA_DB = f"i18_probe_{os.getpid()}"


def limits(kind, warning=None, critical=None, timeout=5.0, config=None):
    return limits_for(kind, warning, critical, timeout, config)


# Config-time refusals ---------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) FROM workflow_instances WHERE status = 'FAILED'",
        "select max(age) from jobs",
        "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)",
        "WITH failed AS (SELECT id FROM workflow_instances WHERE status = 'FAILED') SELECT "
        "count(*) FROM failed",
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active';",
        "SELECT DISTINCT status FROM workflow_instances",
    ],
)
def test_one_select_of_one_column_is_accepted(query):
    assert check_scalar_query(query) is None


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("DELETE FROM workflow_instances", "Only a SELECT"),
        ("UPDATE jobs SET status = 'x'", "Only a SELECT"),
        ("DROP TABLE jobs", "Only a SELECT"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELECT 1; DELETE FROM jobs", "exactly one statement"),
        ("SELECT id, status FROM jobs", "one value"),
        ("SELECT * FROM jobs", "one value"),
        ("SELECT count(*) INTO copy FROM jobs", "writes or locks"),
        ("SELECT id FROM jobs FOR UPDATE", "writes or locks"),
        ("WITH gone AS (DELETE FROM jobs RETURNING id) SELECT count(*) FROM gone", "SELECT"),
        ("", "required"),
    ],
)
def test_anything_but_one_scalar_select_is_refused_at_config_time(query, why):
    with pytest.raises(ValidationError) as raised:
        validate_config(
            Kind.SQL, {"url": f"postgresql://postgres@127.0.0.1:5432/{PG_DB}", "query": query}
        )
    assert why in raised.value.message_dict["query"][0]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("ftp://127.0.0.1/db", "url"),
        ("postgresql://127.0.0.1", "url"),
        ("mysql://user@169.254.169.254/db", "url"),
        ("sqlite:////etc/passwd", "url"),
    ],
)
def test_a_bad_connection_url_is_refused_by_field(url, field, file_root):
    with pytest.raises(ValidationError) as raised:
        validate_config(Kind.SQL, {"url": url, "query": "SELECT 1"})
    assert field in raised.value.message_dict


def test_the_connection_password_is_masked_wherever_the_config_is_shown():
    config = validate_config(
        Kind.SQL, {"url": "postgresql://monitor:s3cret-pw@127.0.0.1:5432/app", "query": "SELECT 1"}
    )
    assert config["url"].endswith("s3cret-pw@127.0.0.1:5432/app")
    assert "s3cret-pw" not in json.dumps(mask_config(config))


# PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres():
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DB}")
    url = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE workflow_instances (id serial PRIMARY KEY, status text NOT NULL)")
        db.execute(
            "INSERT INTO workflow_instances (status) SELECT CASE WHEN n % 10 = 0 THEN 'FAILED' "
            "ELSE 'DONE' END FROM generate_series(1, 120) AS n"
        )
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def pg_probe_connections() -> int:
    with psycopg.connect(PG_ADMIN) as admin:
        return admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ops-portal-probe' "
            "AND datname = %s",
            [PG_DB],
        ).fetchone()[0]


FAILED = "SELECT count(*) FROM workflow_instances WHERE status = 'FAILED'"


def sql(url, query, **extra):
    return validate_config(Kind.SQL, {"url": url, "query": query, **extra})


def test_postgresql_a_scalar_above_the_threshold_is_critical(postgres):
    config = sql(postgres, FAILED)
    assert run_check(Kind.SQL, config, limits(Kind.SQL, 5, 10)).status == "critical"
    result = run_check(Kind.SQL, config, limits(Kind.SQL, 20, 50))
    assert (result.status, result.value) == ("ok", 12.0)
    below = sql(postgres, FAILED, direction="below")
    assert run_check(Kind.SQL, below, limits(Kind.SQL, 20, 15, config=below)).status == "critical"


def test_postgresql_a_query_past_the_timeout_is_an_error_and_its_connection_is_closed(postgres):
    config = sql(postgres, "SELECT count(*) FROM pg_sleep(5)")
    started = time.monotonic()
    result = run_check(Kind.SQL, config, limits(Kind.SQL, 1, 2, timeout=0.5))
    assert time.monotonic() - started < 3
    assert result.status == "error" and "statement timeout" in result.message
    wait_until(lambda: pg_probe_connections() == 0, 5, step=0.05)


def test_postgresql_the_query_runs_read_only(postgres):
    # A function with side effects slips past the parser; the read-only transaction stops it.
    config = sql(
        postgres, "SELECT count(*) FROM (SELECT nextval('workflow_instances_id_seq')) AS n"
    )
    result = run_check(Kind.SQL, config, limits(Kind.SQL, 1, 2))
    assert result.status == "error" and "read-only" in result.message


def test_postgresql_several_rows_are_an_error_and_no_row_follows_the_empty_setting(postgres):
    several = run_check(
        Kind.SQL, sql(postgres, "SELECT status FROM workflow_instances"), limits(Kind.SQL)
    )
    assert several.status == "error" and "more than one row" in several.message
    nothing = "SELECT id FROM workflow_instances WHERE status = 'LOST'"
    assert run_check(Kind.SQL, sql(postgres, nothing), limits(Kind.SQL)).status == "error"
    assert run_check(Kind.SQL, sql(postgres, nothing, empty="ok"), limits(Kind.SQL)).status == "ok"
    assert (
        run_check(
            Kind.SQL,
            sql(postgres, "SELECT max(id) FROM workflow_instances WHERE false", empty="critical"),
            limits(Kind.SQL),
        ).status
        == "critical"
    )


def test_a_wrong_password_is_an_error_that_does_not_show_it(postgres):
    config = sql(postgres.replace("postgres@", "nobody:hunter2-pw@"), FAILED)
    result = run_check(Kind.SQL, config, limits(Kind.SQL))
    assert result.status == "error" and "hunter2-pw" not in result.message


# MariaDB -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mariadb():
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {MARIA_DB}")
        cursor.execute(f"CREATE DATABASE {MARIA_DB}")
        cursor.execute(
            f"CREATE TABLE {MARIA_DB}.workflow_instances (id INT AUTO_INCREMENT PRIMARY KEY, "
            "status VARCHAR(20) NOT NULL)"
        )
        cursor.executemany(
            f"INSERT INTO {MARIA_DB}.workflow_instances (status) VALUES (%s)",
            [("FAILED" if n % 10 == 0 else "DONE",) for n in range(1, 121)],
        )
    yield f"mysql://root@127.0.0.1:3306/{MARIA_DB}", admin
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {MARIA_DB}")
    admin.close()


def maria_probe_connections(admin) -> int:
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> "
            "CONNECTION_ID()",
            [MARIA_DB],
        )
        return cursor.fetchone()[0]


def test_mariadb_a_scalar_above_the_threshold_is_critical(mariadb):
    url, _admin = mariadb
    config = sql(url, FAILED)
    result = run_check(Kind.SQL, config, limits(Kind.SQL, 5, 10))
    assert (result.status, result.value) == ("critical", 12.0)
    assert run_check(Kind.SQL, config, limits(Kind.SQL, 20, 50)).status == "ok"


def test_mariadb_a_query_past_the_timeout_is_an_error_and_its_connection_is_closed(mariadb):
    url, admin = mariadb
    config = sql(url, "SELECT SLEEP(5) FROM workflow_instances LIMIT 1")
    started = time.monotonic()
    result = run_check(Kind.SQL, config, limits(Kind.SQL, 1, 2, timeout=0.5))
    assert time.monotonic() - started < 4
    assert result.status == "error" and "max_statement_time exceeded" in result.message
    wait_until(lambda: maria_probe_connections(admin) == 0, 5, step=0.05)


def test_mariadb_the_query_runs_read_only(mariadb):
    url, admin = mariadb
    with admin.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {MARIA_DB}.bump() RETURNS INT MODIFIES SQL DATA "
            f"BEGIN INSERT INTO {MARIA_DB}.workflow_instances (status) VALUES ('X'); RETURN 1; END"
        )
    # A write the parser cannot see (inside a function); the read-only transaction refuses it.
    result = run_check(Kind.SQL, sql(url, "SELECT bump()"), limits(Kind.SQL))
    assert result.status == "error" and "READ ONLY" in result.message
    with admin.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {MARIA_DB}.workflow_instances")
        assert cursor.fetchone()[0] == 120
    wait_until(lambda: maria_probe_connections(admin) == 0, 5, step=0.05)


# SQLite ------------------------------------------------------------------------------


def test_sqlite_a_scalar_and_a_query_interrupted_at_the_timeout(file_root):
    path = file_root / "analysis.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE workflow_instances (id INTEGER PRIMARY KEY, status TEXT)")
    db.executemany(
        "INSERT INTO workflow_instances (status) VALUES (?)", [("FAILED",)] * 12 + [("DONE",)] * 30
    )
    db.commit()
    db.close()
    config = sql(f"sqlite:///{path}", FAILED)
    assert run_check(Kind.SQL, config, limits(Kind.SQL, 5, 10)).value == 12.0
    endless = sql(
        f"sqlite:///{path}",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
    )
    started = time.monotonic()
    result = run_check(Kind.SQL, endless, limits(Kind.SQL, timeout=0.3))
    assert result.status == "error" and "interrupted" in result.message
    assert time.monotonic() - started < 2


# Redis -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--requirepass",
            "r3dis-pw",
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port, password="r3dis-pw")
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    client.set("k", "v" * 1000)
    client.close()
    yield f"redis://:r3dis-pw@127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def test_redis_an_info_field_is_graded_by_the_thresholds(redis_url):
    config = validate_config(
        Kind.REDIS, {"url": redis_url, "section": "memory", "field": "used_memory"}
    )
    high = run_check(Kind.REDIS, config, limits(Kind.REDIS, 1000, 2000))
    assert high.status == "critical" and high.value > 100_000
    assert run_check(Kind.REDIS, config, limits(Kind.REDIS, 10**12, 10**13)).status == "ok"
    keys = validate_config(
        Kind.REDIS, {"url": redis_url, "section": "keyspace", "field": "db0.keys"}
    )
    assert run_check(Kind.REDIS, keys, limits(Kind.REDIS)).value == 1.0


def test_redis_a_missing_field_a_wrong_password_and_a_dead_server(redis_url, refused_port):
    missing = validate_config(Kind.REDIS, {"url": redis_url, "field": "no_such_field"})
    assert run_check(Kind.REDIS, missing, limits(Kind.REDIS)).status == "error"
    wrong = validate_config(
        Kind.REDIS, {"url": redis_url.replace("r3dis-pw", "guess-pw"), "field": "used_memory"}
    )
    result = run_check(Kind.REDIS, wrong, limits(Kind.REDIS))
    assert result.status == "critical" and "guess-pw" not in result.message
    dead = validate_config(
        Kind.REDIS, {"url": f"redis://127.0.0.1:{refused_port}/0", "field": "used_memory"}
    )
    assert run_check(Kind.REDIS, dead, limits(Kind.REDIS, timeout=1)).status == "critical"


def test_redis_urls_are_checked_at_config_time():
    for url in ("http://127.0.0.1:6379", "redis://", "redis://169.254.169.254:6379/0"):
        with pytest.raises(ValidationError):
            validate_config(Kind.REDIS, {"url": url, "field": "used_memory"})


# PromQL ------------------------------------------------------------------------------

ANSWERS = {
    "rate(llm_parsing_failures_total[24h])": {
        "resultType": "vector",
        "result": [{"metric": {"job": "parser"}, "value": [1700000000, "0.25"]}],
    },
    "up": {
        "resultType": "vector",
        "result": [
            {"metric": {"instance": "a"}, "value": [1700000000, "1"]},
            {"metric": {"instance": "b"}, "value": [1700000000, "0"]},
        ],
    },
    "absent_metric": {"resultType": "vector", "result": []},
    "scalar(42)": {"resultType": "scalar", "result": [1700000000, "42"]},
    "nan": {"resultType": "vector", "result": [{"metric": {}, "value": [1700000000, "NaN"]}]},
}


class Prometheus(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query).get("query", [""])[0]
        self.server.queries.append(query)
        if parts.path != "/api/v1/query":
            code, body = 404, {"status": "error", "error": "not found"}
        elif query in ANSWERS:
            code, body = 200, {"status": "success", "data": ANSWERS[query]}
        else:
            code, body = (
                400,
                {"status": "error", "errorType": "bad_data", "error": "parse error at char 1"},
            )
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def prometheus():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Prometheus)
    server.queries = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def promql(server, query, **extra):
    return validate_config(
        Kind.PROMQL,
        {"url": f"http://127.0.0.1:{server.server_address[1]}", "query": query, **extra},
    )


def test_promql_one_series_is_graded(prometheus):
    config = promql(prometheus, "rate(llm_parsing_failures_total[24h])")
    result = run_check(Kind.PROMQL, config, limits(Kind.PROMQL, 0.1, 0.2))
    assert (result.status, result.value) == ("critical", 0.25)
    assert prometheus.queries == ["rate(llm_parsing_failures_total[24h])"]
    assert (
        run_check(Kind.PROMQL, promql(prometheus, "scalar(42)"), limits(Kind.PROMQL, 50, 60)).value
        == 42
    )


def test_promql_several_series_must_be_reduced(prometheus):
    single = run_check(Kind.PROMQL, promql(prometheus, "up"), limits(Kind.PROMQL))
    assert single.status == "error" and "2 series" in single.message
    lowest = promql(prometheus, "up", reduce="min", direction="below")
    result = run_check(Kind.PROMQL, lowest, limits(Kind.PROMQL, 1, 0.5, config=lowest))
    assert (result.status, result.value) == ("critical", 0.0)
    assert (
        run_check(Kind.PROMQL, promql(prometheus, "up", reduce="sum"), limits(Kind.PROMQL)).value
        == 1.0
    )


@pytest.mark.parametrize(
    ("empty", "expected"), [("error", "error"), ("critical", "critical"), ("ok", "ok")]
)
def test_promql_an_empty_result_follows_the_setting(prometheus, empty, expected):
    config = promql(prometheus, "absent_metric", empty=empty)
    assert run_check(Kind.PROMQL, config, limits(Kind.PROMQL)).status == expected


def test_promql_a_bad_query_and_nan_are_errors(prometheus):
    bad = run_check(Kind.PROMQL, promql(prometheus, "rate("), limits(Kind.PROMQL))
    assert bad.status == "error" and "parse error" in bad.message
    assert run_check(Kind.PROMQL, promql(prometheus, "nan"), limits(Kind.PROMQL)).status == "error"


def test_promql_settings_are_checked_at_config_time():
    _cleaned, errors = validate_probe(
        kind=Kind.PROMQL,
        config={"url": "ftp://x", "query": "", "reduce": "median"},
        interval=60,
        timeout=5,
        warning=None,
        critical=None,
    )
    assert set(errors["config"]) == {"url", "query", "reduce"}


# Sizes -------------------------------------------------------------------------------


def test_a_directory_over_its_size_is_critical(file_root):
    logs = file_root / "logs"
    (logs / "old").mkdir(parents=True)
    (logs / "app.log").write_bytes(b"x" * 600_000)
    (logs / "old" / "app.log.1").write_bytes(b"x" * 600_000)
    config = validate_config(Kind.DIRECTORY, {"path": str(logs)})
    result = run_check(Kind.DIRECTORY, config, limits(Kind.DIRECTORY, 0.0005, 0.001))
    assert result.status == "critical" and result.value == pytest.approx(
        1_200_000 / 2**30, abs=1e-3
    )
    assert run_check(Kind.DIRECTORY, config, limits(Kind.DIRECTORY, 1, 10)).status == "ok"
    assert (
        run_check(
            Kind.DIRECTORY, {**config, "path": str(logs / "gone")}, limits(Kind.DIRECTORY)
        ).status
        == "critical"
    )


def test_a_directory_outside_the_roots_is_refused(file_root):
    with pytest.raises(ValidationError):
        validate_config(Kind.DIRECTORY, {"path": "/etc"})


def test_a_file_over_its_maximum_size_is_critical(file_root):
    path = file_root / "app.log"
    path.write_bytes(b"x" * 2000)
    config = validate_config(Kind.FILE, {"path": str(path), "max_size_bytes": 1000})
    result = run_check(Kind.FILE, config, limits(Kind.FILE))
    assert result.status == "critical" and "at most 1000" in result.message
    assert run_check(Kind.FILE, {**config, "max_size_bytes": 0}, limits(Kind.FILE)).status == "ok"


# The form ------------------------------------------------------------------------------


def test_the_sql_form_stores_the_password_and_never_shows_it_back(client_as, db):
    from probes.models import Probe
    from tests.incidents.factories import make_service

    service = make_service("Data hub")
    data = {
        "service": service.pk,
        "name": "failed workflows",
        "interval": 300,
        "timeout": 5,
        "critical": 0.5,
        "failures_before_alert": 1,
        "successes_to_recover": 1,
        "reminder_minutes": 60,
        "severity": "sev2",
        "enabled": "on",
        "config_url": "postgresql://monitor:s3cret-pw@127.0.0.1:5432/app",
        "config_query": FAILED,
        "config_direction": "above",
        "config_empty": "error",
    }
    client = client_as("manager")
    assert client.post("/probes/new/sql/", data).status_code == 302
    probe = Probe.objects.get()
    page = client.get(f"/probes/{probe.pk}/edit/").content.decode()
    assert "s3cret-pw" not in page and "monitor:" in page
    shown = re.search(r'name="config_url"[^>]*value="([^"]+)"', page)[1]
    response = client.post(
        f"/probes/{probe.pk}/edit/", {**data, "config_url": unescape(shown), "timeout": 8}
    )
    assert response.status_code == 302
    probe.refresh_from_db()
    assert (
        probe.config["url"] == "postgresql://monitor:s3cret-pw@127.0.0.1:5432/app"
        and probe.timeout == 8
    )
    refused = client.post(
        "/probes/new/sql/", {**data, "name": "wipe", "config_query": "DELETE FROM jobs"}
    )
    assert refused.status_code == 400 and "config_query" in refused.context["form"].errors
