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


def test_no_message_is_defined_twice():
    """Two branches may append the same msgid; pybabel compiles that silently (the later wins),
    msgfmt refuses it."""
    import re
    from collections import Counter

    keys, context, current, field = [], "", None, None
    for line in [*CATALOG.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith(("msgctxt ", "msgid ", "msgid_plural ", "msgstr")) or not line.strip():
            if current is not None and field != "msgid":
                keys.append((context, current))
                context, current = "", None
            field = line.split(" ", 1)[0].split("[")[0] if line.strip() else None
        text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', line))
        if field == "msgctxt":
            context = (context if line.startswith('"') else "") + text
        elif field == "msgid":
            current = (current if line.startswith('"') else "") + text
    duplicates = [key for key, count in Counter(key for key in keys if key[1]).items() if count > 1]
    assert duplicates == []
