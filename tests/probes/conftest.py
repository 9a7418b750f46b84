"""Real servers on 127.0.0.1 (port 0) for the probe checks: HTTP, TLS, Prometheus."""

import datetime
import json
import socket
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

HEALTH = {
    "/health": {"status": "healthy", "disk_free_gb": 12.5, "database": "ok"},
    "/health-ok": {"status": "ok", "disk_free_gb": 40},
    "/degraded": {"status": "degraded", "disk_free_gb": 3.2},
    # Spring Boot Actuator and the IETF health+json draft.
    "/actuator/up": {"status": "UP", "components": {"db": {"status": "UP"}}},
    "/actuator/down": {"status": "DOWN"},
    "/actuator/out": {"status": "OUT_OF_SERVICE"},
    "/ietf/pass": {"status": "pass", "version": "1"},
    "/ietf/warn": {"status": "warn", "output": "queue is backing up; token=s3cret-value"},
    "/ietf/fail": {"status": "fail", "output": "database unreachable"},
    "/unhealthy": {"status": "unhealthy"},
    "/error-word": {"status": "error"},
    "/odd-word": {"status": "maintenance"},
    "/no-status": {"uptime": 12},
    "/disk/8": {"status": "ok", "disk_free_gb": 8},
    "/disk/3": {"status": "ok", "disk_free_gb": 3},
    "/disk/40": {"status": "ok", "disk_free_gb": 40},
}
HTML_ERROR = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
)
METRICS = """# HELP app_queue_depth Jobs waiting.
# TYPE app_queue_depth gauge
app_queue_depth{queue="default"} 12
app_queue_depth{queue="long"} 250
# HELP app_up Whether the app is up.
# TYPE app_up gauge
app_up 1
"""
HUGE = 50 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, code, body: bytes, content_type="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.do_GET()

    def do_GET(self):
        server, path = self.server, self.path.split("?")[0]
        server.hits.append(path)
        if path in HEALTH:
            self.send_body(200, json.dumps(HEALTH[path]).encode())
        elif path == "/slow":
            # held until the test ends; the probe's timeout must give up first
            server.release.wait(10)
            self.send_body(200, b'{"status": "ok"}')
        elif path == "/reset":
            # RST instead of an answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif path == "/text":
            self.send_body(200, b"<html>maintenance</html>", "text/html")
        elif path == "/html-error":
            self.send_body(200, HTML_ERROR, "text/html")
        elif path == "/huge":
            self.send_huge()
        elif path == "/loop":
            self.send_body(302, b"", headers=[("Location", "/loop")])
        elif path == "/moved":
            self.send_body(302, b"", headers=[("Location", "/health")])
        elif path == "/to-metadata":
            self.send_body(
                302, b"", headers=[("Location", "http://169.254.169.254/latest/meta-data/")]
            )
        elif path == "/leaky-metrics":
            self.send_body(
                200,
                b"config db_password=hunter2-scraped 1 2\napp_up 1\n",
                "text/plain; version=0.0.4",
            )
        elif path == "/metrics":
            self.send_body(200, METRICS.encode(), "text/plain; version=0.0.4")
        elif path.startswith("/status/"):
            self.send_body(int(path.rsplit("/", 1)[1]), b'{"status": "error"}')
        else:
            self.send_body(404, b"{}")

    def send_huge(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while self.server.huge_sent < HUGE:
                self.wfile.write(chunk)
                self.server.huge_sent += len(chunk)
        except OSError:
            pass  # the client hung up, as it should after 1 MiB
        finally:
            self.close_connection = True
            self.server.huge_done.set()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: socketserver's default of 5 overflows when a tick's pool connects to it
    # all at once on a loaded machine, and the dropped connections turn probes critical.
    request_queue_size = 128

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits = []
        self.release = threading.Event()
        self.huge_sent = 0
        self.huge_done = threading.Event()

    def handle_error(self, request, client_address):
        pass  # resets and hang-ups are what these tests provoke

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


def serve(server):
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return thread


def stop(server):
    server.release.set()  # let any handler still waiting on a slow response finish
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_server():
    server = Server()
    serve(server)
    yield server
    stop(server)


@pytest.fixture
def refused_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(tmp_path, days: int):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server with a self-signed certificate that expires in 10 days."""
    cert_file, key_file = self_signed(tmp_path, days=10)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = Server()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve(server)
    yield server
    stop(server)


@pytest.fixture
def file_root(db, settings, tmp_path):
    """tmp_path is the one folder probes may read (the validators look up backup destinations)."""
    root = tmp_path.resolve()
    settings.FILE_ROOTS = [root]
    return root


@pytest.fixture
def clock(request):
    """Time stopped at the test module's START; the test moves it (`clock.shift(…)`)."""
    with time_machine.travel(request.module.START, tick=False) as traveller:
        yield traveller
