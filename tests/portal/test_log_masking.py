"""A heartbeat's ping URL is its credential: it reaches no log in clear (gunicorn's or Django's)."""

import io
import logging
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.util import load_class

from portal.logs import GunicornLogger, MaskSecrets, mask_log_text

TOKEN = str(uuid.uuid4())


def test_a_heartbeat_ping_url_and_a_token_parameter_are_masked_and_the_rest_kept():
    line = f'"GET /api/v1/heartbeats/{TOKEN}/fail?rid=7&api_token=s3cr3t HTTP/1.1" 200'
    masked = mask_log_text(line)
    assert TOKEN not in masked
    assert "s3cr3t" not in masked
    assert masked == '"GET /api/v1/heartbeats/•••/fail?rid=7&api_token=••• HTTP/1.1" 200'


@pytest.fixture
def console():
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, MaskSecrets) for f in h.filters)
    )
    stream = handler.setStream(io.StringIO())
    yield handler
    handler.setStream(stream)


@pytest.mark.django_db
def test_django_logs_a_not_found_ping_without_its_token(client, console):
    assert client.get(f"/api/v1/heartbeats/{TOKEN}").status_code == 404
    logged = console.stream.getvalue()
    assert "Not Found: /api/v1/heartbeats/•••" in logged
    assert TOKEN not in logged


def test_runserver_request_log_goes_through_the_masking_console(console):
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"POST /api/v1/heartbeats/{TOKEN} HTTP/1.1", 200, 12
    )
    logged = console.stream.getvalue()
    assert "/api/v1/heartbeats/•••" in logged
    assert TOKEN not in logged


@pytest.fixture
def gunicorn_logger(tmp_path):
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("logger_class", "portal.logs.GunicornLogger")
    logger = load_class(cfg.logger_class, section="gunicorn.loggers")(cfg)
    assert isinstance(logger, GunicornLogger)
    return logger


def test_gunicorn_access_log_of_a_ping_shows_the_path_without_the_token(gunicorn_logger, tmp_path):
    url = f"/api/v1/heartbeats/{TOKEN}"
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": url,
        "PATH_INFO": url,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.9",
        "HTTP_REFERER": f"https://ci.example{url}",
    }
    response = SimpleNamespace(status="200 OK", headers=[], sent=17)
    request = SimpleNamespace(headers=[("REFERER", f"https://ci.example{url}")])

    gunicorn_logger.access(response, request, environ, timedelta(milliseconds=3))

    logged = (tmp_path / "access.log").read_text()
    assert '"POST /api/v1/heartbeats/••• HTTP/1.1" 200 17' in logged
    assert TOKEN not in logged


def test_gunicorn_error_log_masks_a_ping_url_too(gunicorn_logger, tmp_path):
    gunicorn_logger.error("Error handling request %s", f"/api/v1/heartbeats/{TOKEN}")
    logged = (tmp_path / "error.log").read_text()
    assert "Error handling request /api/v1/heartbeats/•••" in logged
    assert TOKEN not in logged
