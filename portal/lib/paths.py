"""PORTAL_FILE_ROOTS: the only folders probes may read and backups may read and write."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def allowed_path(value: str | Path) -> Path:
    """The resolved path if it lies under one of settings.FILE_ROOTS, else ValidationError.

    Symlinks and `..` are resolved first, so a link inside a root that points
    outside it is refused too.
    """
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
    for root in settings.FILE_ROOTS:
        if path == root or path.is_relative_to(root):
            return path
    roots = ", ".join(str(r) for r in settings.FILE_ROOTS)
    raise ValidationError(
        _("%(path)s is outside the folders the portal may use (%(roots)s); see PORTAL_FILE_ROOTS."),
        code="outside_roots", params={"path": str(path), "roots": roots},
    )
