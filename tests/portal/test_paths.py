import pytest
from django.core.exceptions import ValidationError

from portal.lib.paths import allowed_path


def test_a_path_under_a_root_is_allowed(settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    assert allowed_path(tmp_path / "db" / "x.sqlite3") == tmp_path / "db" / "x.sqlite3"


@pytest.mark.parametrize("value", ["/etc/passwd", "relative/file", "{root}/../outside"])
def test_paths_outside_the_roots_are_refused(settings, tmp_path, value):
    root = tmp_path / "root"
    root.mkdir()
    settings.FILE_ROOTS = [root]
    with pytest.raises(ValidationError):
        allowed_path(value.format(root=root))


def test_a_symlink_leading_outside_is_refused(settings, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to("/etc")
    settings.FILE_ROOTS = [root]
    with pytest.raises(ValidationError):
        allowed_path(root / "link" / "passwd")
