"""Schema fuzzing (DESIGN §10): schemathesis, in every phase, against the portal as it is served.

The web server runs as `make run` runs it (gunicorn, a fresh SQLite data dir with the demo
data and a few rows whose optional fields are empty), without the background workers: work
the API queues is never run, so nothing the fuzzer creates (an HTTP probe of any address, a
backup) reaches outside. schemathesis' own runner then drives every operation of /api/schema/
in its four phases: examples, coverage (each parameter's boundaries and each schema-violating
variant), fuzzing, and stateful (the schema's OpenAPI links feed the ids a POST created to
the operations on them). Checks (tests/hardening/schemathesis.toml): no 5xx, every status code
and body as documented, schema-violating requests refused, schema-valid ones accepted (but for
the rules tests/hardening/fuzz_checks.py lists). Once as an admin, once as a viewer.

`make test-fuzz` runs the CI budget (seeded, a few minutes); `make fuzz` a long one:
PORTAL_FUZZ_EXAMPLES (examples per operation and phase) and PORTAL_FUZZ_SEED choose.
"""

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.faults.conftest import free_port
from tests.hardening import fuzz_checks

pytestmark = pytest.mark.fuzz
log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "hardening" / "schemathesis.toml"
EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", 8))
SEED = int(os.environ.get("PORTAL_FUZZ_SEED", 20261202))
PASSWORD = "fuzz-pw-20261202"

# Rows whose optional fields are empty, so the responses show null where a schema must allow it.
SEED_ROWS = """
from datetime import timedelta
from django.contrib.auth.models import Group, User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from incidents import postmortems, services
from incidents.models import ActionItem, Contact, Service, Tier
viewer = User.objects.create_user("vera", password={password!r})
viewer.groups.add(Group.objects.get(name="viewer"))
admin = User.objects.get(username="admin")
service = Service.objects.create(name="fuzz-empty")
incident, _ = services.open_incident(
    service=service, title="Empty fields", severity="sev3", by=admin
)
services.resolve(incident=incident, by=admin)
postmortem = postmortems.draft_for(incident, by=admin)
postmortem.detected_at = postmortem.recovered_at = None
postmortem = postmortems.save_postmortem(postmortem=postmortem, by=admin)
gone = Contact.objects.create(name="Gone", tier=Tier.objects.order_by("level").first())
ActionItem.objects.create(postmortem=postmortem, description="Owner left", owner=gone,
                          due_date=timezone.localdate() + timedelta(days=7))
gone.delete()
tokens = [Token.objects.create(user=user).key for user in (admin, viewer)]
open({tokens_file!r}, "w").write(" ".join(tokens))
"""


class Web:
    """`make run`'s web server alone, on a free port and a data dir of its own."""

    def __init__(self):
        self.data_dir = Path(tempfile.mkdtemp(prefix="fuzz-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))
        }
        self.env.update(
            PORTAL_DATA_DIR=str(self.data_dir),
            PORTAL_FILE_ROOTS=str(self.data_dir / "files"),
            PORTAL_ADMIN_PASSWORD=PASSWORD,
            PORTAL_DEMO_DATA="true",
            PYTHONUNBUFFERED="1",
        )
        self.log = self.data_dir / "web.log"
        self.proc = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        return result.stdout

    def start(self):
        (self.data_dir / "files").mkdir()
        self.manage("migrate", "--verbosity", "0")
        # as `manage.py serve` does: error pages need it
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        self.manage("bootstrap")
        tokens_file = self.data_dir / "tokens"
        self.manage(
            "shell", "-c", SEED_ROWS.format(password=PASSWORD, tokens_file=str(tokens_file))
        )
        self.tokens = tokens_file.read_text().split()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "portal.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "2",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                    "--timeout",
                    "60",
                    "--access-logfile",
                    "-",
                    "--no-control-socket",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/health", timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise AssertionError(f"the web server did not answer:\n{self.log.read_text()[-4000:]}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def web():
    web = Web()
    try:
        web.start()
        yield web
    finally:
        web.stop()
        shutil.rmtree(web.data_dir, ignore_errors=True)


# The admin's run is the long one: it goes in two halves of the operations, at the same time as
# the viewer's (a process each: hypothesis is not thread-safe on 3.11, so one worker per process).
HALF = r"^/api/v1/(action-items|backup|channels|checklist|contacts|escalation)"
RUNS = [
    ("admin", 0, "--include-path-regex", HALF),
    ("admin", 0, "--exclude-path-regex", HALF),
    ("viewer", 1, None, None),
]


def test_schemathesis_finds_nothing_in_any_phase_as_admin_or_viewer(web):
    runs = [
        (role, schemathesis(web, web.tokens[token], role, *selection))
        for role, token, *selection in RUNS
    ]
    failed, tested = [], {"admin": 0, "viewer": 0}
    for role, run in runs:
        output, _ = run.communicate(timeout=1800)
        summary = "\n".join(
            line
            for line in output.splitlines()
            if re.search(r"^\s*(✅|❌|🚫|⚠️)|Selected:|Tested:|generated|=====", line)
        )
        log.info("schemathesis as %s:\n%s", role, summary)  # `make fuzz` shows each (log_cli)
        selected, count = (
            re.search(r"Selected: \d+/(\d+)", output),
            re.search(r"Tested: (\d+)", output),
        )
        if run.returncode != 0 or not (selected and count):
            failed.append(f"as {role} (exit {run.returncode}):\n{output[-20000:]}")
        else:
            total = int(selected.group(1))
            tested[role] += int(count.group(1))
    assert not failed, (
        "\n\n".join(failed) + "\n\nthe web server's log ends:\n" + web.log.read_text()[-6000:]
    )
    assert tested == {"admin": total, "viewer": total}, tested


def schemathesis(
    web, token: str, role: str, option: str | None, paths: str | None
) -> subprocess.Popen:
    # a viewer's writes stop at 403
    examples = EXAMPLES if role == "admin" else max(1, EXAMPLES // 4)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "--no-color",
            "run",
            f"{web.url}/api/schema/?format=json",
            "-H",
            f"Authorization: Token {token}",
            "--max-examples",
            str(examples),
            "--seed",
            str(SEED),
            *([option, paths] if option else []),
        ],
        cwd=ROOT,
        env={**web.env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_fuzz_checks_know_the_apis_state_codes():
    from core.errors import STATE_CODES

    assert fuzz_checks.STATE_CODES == STATE_CODES
