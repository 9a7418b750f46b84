import pytest
from django.core.exceptions import ValidationError

from core.paths import allowed_path


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


def test_dot_dot_that_stays_inside_a_root_is_allowed_as_the_resolved_path(settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    assert allowed_path(f"{tmp_path}/a/../b/x.db") == tmp_path / "b" / "x.db"


def test_a_sibling_folder_sharing_the_roots_name_as_prefix_is_refused(settings, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    settings.FILE_ROOTS = [root]
    with pytest.raises(ValidationError):
        allowed_path(f"{root}-evil/x.db")


def test_a_symlinked_file_leading_outside_is_refused_and_one_staying_inside_is_allowed(
    settings, tmp_path
):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.db").write_text("")
    (root / "real.db").write_text("")
    (root / "out.db").symlink_to(outside / "secret.db")
    (root / "in.db").symlink_to(root / "real.db")
    settings.FILE_ROOTS = [root]
    with pytest.raises(ValidationError):
        allowed_path(root / "out.db")
    assert allowed_path(root / "in.db") == root / "real.db"


def test_a_symlinked_root_is_compared_by_its_real_path(settings, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    settings.FILE_ROOTS = [real]
    assert allowed_path(tmp_path / "alias" / "x.db") == real / "x.db"


@pytest.mark.parametrize("value", ["", "~nobody-here/x", "/tmp/a\x00b", "{root}/\x00"])
def test_empty_unexpandable_and_nul_paths_are_refused_without_an_error(settings, tmp_path, value):
    settings.FILE_ROOTS = [tmp_path]
    with pytest.raises(ValidationError):
        allowed_path(value.format(root=tmp_path))
