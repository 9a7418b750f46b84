"""restic, run as a subprocess: the off-site copy, its retention, `check`, snapshot listing and
restore.

The repository password never reaches argv (anyone on the host can read /proc/*/cmdline):
it goes to restic through RESTIC_PASSWORD_FILE, a 0600 file in a private folder that lives
only as long as the command. restic's own messages (`Fatal: wrong password or no key found`,
ssh's `Connection refused`) are turned into sentences for people; the raw line is kept
after them, since it is what an SRE searches for.
"""

import json
import os
import re
import shlex
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

SCHEMES = ("sftp:", "s3:", "rest:", "b2:", "azure:", "gs:", "swift:", "rclone:")
# restic keeps a lock while it works; a lock left by a killed restic on this host is stale
# (its PID is gone) and `restic unlock` removes only such locks.
TIMEOUT = 6 * 3600
SHORT_TIMEOUT = 600

_SFTP_SHORT = re.compile(r"^sftp:(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>.+)$")
_SFTP_LONG = re.compile(
    r"^sftp://(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+)(?::(?P<port>\d+))?/(?P<path>.+)$"
)


class ResticError(Exception):
    """A restic command failed; str() is a sentence for people, `raw` what restic said."""

    def __init__(self, message: str, raw: str = "", *, locked: bool = False):
        super().__init__(f"{message} ({raw})" if raw else message)
        self.message = message
        self.raw = raw
        self.locked = locked


@dataclass(frozen=True)
class Repo:
    url: str
    password: str
    upload_limit_kib: int | None = None


def binary() -> str:
    return settings.RESTIC_BINARY


def sftp_command(url: str) -> str | None:
    """The ssh command restic starts for an sftp repository: BatchMode (a prompt would hang the
    worker forever), a connect timeout, and the portal's ssh config file if one is set."""
    match = _SFTP_LONG.match(url) or _SFTP_SHORT.match(url)
    if not url.startswith("sftp:") or not match:
        return None
    parts = ["ssh"]
    config = settings.RESTIC_SSH_CONFIG
    if config:
        parts += ["-F", str(config)]
    parts += ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    if match.groupdict().get("port"):
        parts += ["-p", match["port"]]
    parts += [f"{match['user']}@{match['host']}" if match["user"] else match["host"], "-s", "sftp"]
    return shlex.join(parts)


def validate_url(url: str) -> str | None:
    """None if restic can use the URL, else why not."""
    if url.startswith("sftp:"):
        return None if sftp_command(url) else _("Write an SFTP repository as sftp:user@host:/path.")
    if url.startswith(SCHEMES):
        return None
    if url.startswith("/"):
        return None
    return _(
        "Give an absolute path (a mounted NAS folder), sftp:user@host:/path, s3:host/bucket or "
        "rest:https://host/."
    )


@contextmanager
def _environment(repo: Repo) -> Iterator[dict]:
    with tempfile.TemporaryDirectory(prefix="restic-") as private:
        password_file = Path(private) / "password"
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(repo.password)
        env = {key: value for key, value in os.environ.items() if not key.startswith("RESTIC_")}
        env.update(
            {
                "RESTIC_REPOSITORY": repo.url,
                "RESTIC_PASSWORD_FILE": str(password_file),
                # restic's cache would otherwise go to the portal user's home.
                "RESTIC_CACHE_DIR": str(Path(settings.DATA_DIR) / "restic-cache"),
            }
        )
        yield env


def _argv(repo: Repo, args: list[str]) -> list[str]:
    argv = [binary()]
    command = sftp_command(repo.url)
    if command:
        argv += ["-o", f"sftp.command={command}"]
    if repo.upload_limit_kib:
        argv += ["--limit-upload", str(repo.upload_limit_kib)]
    return argv + args


def explain(stderr: str, returncode: int) -> ResticError:
    """restic's last words as a sentence for people."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    raw = lines[-1] if lines else f"exit status {returncode}"
    text = stderr.lower()
    if "wrong password" in text:
        return ResticError(_("The repository password is wrong (or the key was removed)."), raw)
    if any(
        s in text
        for s in (
            "connection refused",
            "could not resolve",
            "no route to host",
            "connection timed out",
            "permission denied (publickey",
            "host key verification",
            "unable to start the sftp session",
            "ssh command exited",
        )
    ):
        return ResticError(
            _(
                "The repository's host cannot be reached over SSH (refused, unknown host, "
                "or its key was not accepted)."
            ),
            raw,
        )
    if (
        "does not exist" in text
        or "unable to open config file" in text
        or "is there a repository" in text
    ):
        return ResticError(
            _(
                "There is no restic repository at this location: initialise it first, or "
                "check that the folder or bucket is mounted."
            ),
            raw,
        )
    if (
        "repository master key and config already initialized" in text
        or "config file already exists" in text
    ):
        return ResticError(_("A restic repository already exists at this location."), raw)
    if "repository is already locked" in text:
        return ResticError(
            _("Another restic command holds the repository's lock."), raw, locked=True
        )
    if "no space left" in text:
        return ResticError(_("The repository's disk is full."), raw)
    return ResticError(_("restic failed."), raw)


def run(
    repo: Repo,
    args: list[str],
    *,
    timeout: float = SHORT_TIMEOUT,
    stdout=None,
    on_line: Callable[[dict], None] | None = None,
) -> str:
    """Run one restic command; returns stdout (unless redirected); raises ResticError.

    With `on_line`, stdout is read line by line as JSON messages (`--json` progress); only the
    messages other than progress are kept, so a six-hour copy holds no six hours of progress."""
    with _environment(repo) as env, tempfile.TemporaryFile() as errors:
        try:
            # stderr to a file: restic may write much of it while we read stdout, and a full pipe
            # would stop it.
            process = subprocess.Popen(
                _argv(repo, args),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout or subprocess.PIPE,
                stderr=errors,
            )
        except FileNotFoundError:
            raise ResticError(
                _("restic is not installed on this host (apt-get install restic).")
            ) from None
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            process.kill()

        watchdog = threading.Timer(timeout, stop)
        watchdog.start()
        kept = []
        try:
            if stdout is None:
                for line in process.stdout:
                    if on_line is None:
                        kept.append(line)
                        continue
                    try:
                        message = json.loads(line)
                    except ValueError:
                        kept.append(line)
                        continue
                    if not isinstance(message, dict) or message.get("message_type") != "status":
                        kept.append(line)
                    if isinstance(message, dict):
                        on_line(message)
            process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    if timed_out.is_set():
        raise ResticError(
            _("restic did not finish within %(seconds)d seconds.") % {"seconds": timeout}
        )
    if process.returncode != 0:
        raise explain(err, process.returncode)
    return b"".join(kept).decode(errors="replace")


# --- The commands the portal uses ---------------------------------------------------------------


def init(repo: Repo) -> None:
    run(repo, ["init"])


def unlock(repo: Repo) -> None:
    run(repo, ["unlock"])


def unlocking(repo: Repo, command: Callable[[], object]):
    """Run `command`; if a lock stops it, remove the stale locks (`restic unlock` removes only those
    whose process is gone, as after a kill -9) and try once more. A live lock still fails."""
    try:
        return command()
    except ResticError as exc:
        if not exc.locked:
            raise
    unlock(repo)
    return command()


@dataclass
class Copied:
    snapshot_id: str
    bytes_added: int
    seconds: float


def backup(
    repo: Repo,
    path: Path,
    *,
    tags: list[str],
    host: str,
    progress: Callable[[int], None] | None = None,
) -> Copied:
    summary = {}

    def read(message: dict) -> None:
        if message.get("message_type") == "summary":
            summary.update(message)
        elif message.get("message_type") == "status" and progress:
            progress(int(message.get("bytes_done") or 0))

    args = ["backup", "--json", "--host", host]
    for tag in tags:
        args += ["--tag", tag]
    run(repo, [*args, "--", str(path)], timeout=TIMEOUT, on_line=read)
    if not summary.get("snapshot_id"):
        raise ResticError(_("restic finished without naming the snapshot it wrote."))
    return Copied(
        snapshot_id=summary["snapshot_id"],
        bytes_added=int(summary.get("data_added") or 0),
        seconds=float(summary.get("total_duration") or 0),
    )


def snapshots(repo: Repo, *, tags: list[str] = ()) -> list[dict]:
    args = ["snapshots", "--json"]
    for tag in tags:
        args += ["--tag", tag]
    return json.loads(run(repo, args) or "[]")


def forget(repo: Repo, *, tag: str, keep: dict[str, int]) -> list[str]:
    """`forget --prune` within the snapshots carrying `tag`, as one group; returns the forgotten
    ids.

    Every backup file has its own name, so restic's default grouping (host, paths) would put
    each snapshot in a group of one and keep them all."""
    rules = [arg for rule, count in keep.items() if count for arg in (f"--keep-{rule}", str(count))]
    if not rules:
        raise ResticError(_("The retention policy keeps nothing; refusing to forget snapshots."))
    out = run(
        repo,
        ["forget", "--prune", "--json", "--tag", tag, "--group-by", "host", *rules],
        timeout=TIMEOUT,
    )
    # The JSON report is one line; prune may print its progress around it.
    report = next((line for line in out.splitlines() if line.startswith("[")), "[]")
    return [
        snap.get("id") for group in json.loads(report) or [] for snap in group.get("remove") or []
    ]


def check(repo: Repo, *, subset: str = "5%") -> str:
    return run(repo, ["check", f"--read-data-subset={subset}"], timeout=TIMEOUT).strip()


def stats(repo: Repo) -> dict:
    return json.loads(run(repo, ["stats", "--json", "--mode", "raw-data"]) or "{}")


def dump(repo: Repo, snapshot_id: str, path: str, into: Path) -> None:
    """Write one file of a snapshot to `into` (restic streams it; nothing else of the snapshot)."""
    with open(into, "wb") as fh:
        run(repo, ["dump", snapshot_id, path], timeout=TIMEOUT, stdout=fh)
        fh.flush()
        os.fsync(fh.fileno())
