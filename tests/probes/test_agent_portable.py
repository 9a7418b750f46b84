"""The agent runs where nothing can be installed: Python 3.9 syntax, the standard library only,
and clean under `-X dev` in a virtualenv that has no third-party package at all."""

import ast
import subprocess
import sys

import pytest

from probes.models import ProbeResult
from tests.probes.agent_helpers import AGENT, make_host, portal_server, run_agent
from tests.probes.factories import make_probe

__all__ = ["portal_server"]


def test_the_agent_parses_as_python_3_9():
    source = AGENT.read_text()
    ast.parse(source, filename=str(AGENT), feature_version=(3, 9))
    subprocess.run([sys.executable, "-m", "py_compile", str(AGENT)], check=True)


def test_python_3_9_parsing_catches_newer_syntax():
    # The check above can fail: a `match` statement (3.10) is refused at feature version 3.9.
    with pytest.raises(SyntaxError):
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=(3, 9))


def test_the_agent_imports_the_standard_library_only():
    tree = ast.parse(AGENT.read_text())
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    modules |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert modules and modules <= set(sys.stdlib_module_names), modules - set(
        sys.stdlib_module_names
    )


@pytest.fixture
def bare_python(tmp_path):
    """A virtualenv without pip nor any package: only the standard library is importable."""
    venv = tmp_path / "bare"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    for module in ("requests", "django", "psutil", "pip"):
        probe = subprocess.run(
            [str(python), "-c", f"import {module}"], capture_output=True, check=False
        )
        assert probe.returncode != 0, f"{module} is importable in the bare venv"
    return python


def test_the_agent_runs_in_a_bare_venv_under_dev_mode(portal_server, bare_python, tmp_path):
    host, token = make_host()
    (tmp_path / "app.log").write_text("ERROR once\n")
    token_file = tmp_path / "token"
    token_file.write_text(token)
    probe = make_probe(
        host.service,
        kind="host_log_errors",
        host=host,
        next_run_at=None,
        config={"path": str(tmp_path / "app.log"), "pattern": "ERROR", "tail_kib": 64},
    )
    done = run_agent(
        portal_server.url, token_file, tmp_path / "spool", "--once", python=str(bare_python)
    )
    assert done.returncode == 0, done.stderr
    # -X dev shows ResourceWarnings (an unclosed file or socket) and deprecations: none.
    assert "Warning" not in done.stderr, done.stderr
    assert ProbeResult.objects.get(probe=probe).value == 1
