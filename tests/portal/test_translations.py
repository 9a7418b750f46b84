from pathlib import Path

from babel.messages.pofile import read_po
from django.utils import translation

CATALOG = Path(__file__).resolve().parents[2] / "locale" / "ko" / "LC_MESSAGES" / "django.po"


def entries():
    with CATALOG.open("rb") as fh:
        return [m for m in read_po(fh, locale="ko") if m.id]


def test_the_korean_catalog_has_no_missing_or_fuzzy_entry():
    problems = []
    for message in entries():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(message.id)
    assert problems == []


def test_korean_translations_keep_their_placeholders():
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]")
    for message in entries():
        source = message.id[0] if isinstance(message.id, tuple) else message.id
        target = message.string[0] if isinstance(message.string, tuple) else message.string
        assert set(placeholder.findall(source)) == set(placeholder.findall(target)), source


def test_the_compiled_catalog_is_used():
    with translation.override("ko"):
        assert translation.gettext("Dashboard") == "대시보드"
