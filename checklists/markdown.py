"""Markdown for playbooks: rendered by markdown-it-py, then sanitised by nh3.

Raw HTML in the source is not rendered at all (markdown-it's "html" option is
off), and nh3 strips whatever else could run: a playbook is edited by managers
but read by everyone, and an imported runbook is someone else's text.
"""

import nh3
from markdown_it import MarkdownIt

_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .enable("table")
    .enable("strikethrough")
)

_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "code": {"class"}, "pre": {"class"}}


def parser() -> MarkdownIt:
    return _md


def render(source: str) -> str:
    return nh3.clean(
        _md.render(source or ""), attributes=_ATTRIBUTES, link_rel="noopener noreferrer"
    )
