"""PORTAL_FILE_ROOTS: the only folders probes may read and backups may read and write."""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def allowed_path(value: str | Path, *, roots: list[Path] | None = None) -> Path:
    """The resolved path if it lies under one of `roots` (settings.FILE_ROOTS), else
    ValidationError.

    Symlinks and `..` are resolved first, so a link inside a root that points
    outside it is refused too.
    """
    roots = settings.FILE_ROOTS if roots is None else roots
    if "\x00" in str(value):
        # resolve() would raise ValueError (a 500) on it; no real path holds one.
        raise ValidationError(_("A path cannot contain a NUL character."), code="nul_in_path")
    try:
        raw = Path(value).expanduser()
    except RuntimeError:  # ~someone who does not exist
        raw = Path(value)
    if not raw.is_absolute():
        raise ValidationError(_("Give an absolute path (it starts with /)."), code="relative_path")
    path = raw.resolve()
    for root in roots:
        if path == root or path.is_relative_to(root):
            return path
    raise ValidationError(
        _("%(path)s is outside the folders the portal may use (%(roots)s); see PORTAL_FILE_ROOTS."),
        code="outside_roots",
        params={"path": str(path), "roots": ", ".join(str(r) for r in roots) or _("none set")},
    )


def backup_path(value: str | Path) -> Path:
    """A path backups may read and write: under PORTAL_FILE_ROOTS or the data dir.

    Backups show nobody what they copy, and the portal keeps its own copies in
    the data dir (`backups/`), so unlike probes they may use it with no root named.
    """
    return allowed_path(value, roots=[*settings.FILE_ROOTS, Path(settings.DATA_DIR)])


def portal_own_paths(*, backups: bool = True) -> list[Path]:
    """What the portal itself keeps: its data dir (secret_key, the database, sessions), its code and
    settings, its database file wherever it is, and every backup destination (unless `backups` is
    False: a check running in a probe thread reads no database)."""
    paths = [Path(settings.DATA_DIR), Path(settings.BASE_DIR)]
    for database in settings.DATABASES.values():
        if database["ENGINE"].endswith("sqlite3") and str(database.get("NAME", "")).startswith("/"):
            paths.append(Path(database["NAME"]))
    if backups:
        destinations = apps.get_model("backups", "BackupTarget").objects.values_list(
            "destination", flat=True
        )
        paths += [Path(d) for d in destinations if d.startswith("/")]
    return [path.resolve() for path in paths]


def readable_path(value: str | Path, *, backups: bool = True) -> Path:
    """A path a probe may read: under PORTAL_FILE_ROOTS and not one of the portal's own files.

    Whatever a probe reads ends up, in part, in a result every viewer sees: a
    probe on secret_key or the database would hand its secrets to anyone with a role.
    """
    path = allowed_path(value)
    for own in portal_own_paths(backups=backups):
        if path == own or path.is_relative_to(own):
            raise ValidationError(
                _(
                    "%(path)s belongs to the portal itself (its data, code or backups); probes "
                    "may not read it."
                ),
                code="portal_own_path",
                params={"path": str(path)},
            )
    return path
