"""Turn a markdown runbook into checklist templates and playbooks (DESIGN §4).

Two steps, so a dry run shows exactly what the import would do:

    plan = read_runbook(data, filename="ops.md")     # parse, nothing written
    plan.override({key: {"action": "skip"}})         # optional, per section
    result = import_plan(plan=plan, service=svc)     # one transaction

Parsing uses markdown-it-py tokens, never line regexes: a `# comment` inside a
fenced code block is code, not a heading. Headings with checkbox items
(`- [ ]`, `- [x]`, `□`, also inside fenced blocks) become templates; a schedule
phrase in the heading becomes its cron; headings describing failures
(symptoms/cause/resolution…) become playbooks; everything else is skipped.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

from checklists import schedules
from checklists.markdown import parser
from checklists.models import Kind, Playbook, Template
from checklists.services import replace_sections
from core.errors import DomainError

TEMPLATE, PLAYBOOK, SKIP = "template", "playbook", "skip"
ACTIONS = (TEMPLATE, PLAYBOOK, SKIP)

_CHECKBOX = re.compile(r"^\[([ xX])\]\s+(.+)$", re.S)
# No lazy group before `\s*$` and no leading `\s*` in a search: on a line of spaces either
# backtracks quadratically. Whitespace is stripped in code instead.
_BOX_LINE = re.compile(r"^\s*(?:[-*+]\s+\[[ xX]\]|□|☐)\s+(.+)$")
_OPTIONAL = re.compile(r"[(（](?:optional|선택)[)）]", re.I)
# What the size check counts, line by line, before markdown-it (whose cost grows with the
# number of blocks) sees the text: headings (ATX, or a setext underline) and blocks.
_FENCE_LINE = re.compile(r"^ {0,3}(?:>\s*)*(```|~~~)")
_HEADING_LINE = re.compile(r"^ {0,3}(?:>\s*)*#{1,6}(?:[ \t]|$)")
_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")  # a heading when under text, a rule when not
# markdown-it's inline rules are most of its time on a large file, so the importer runs only
# its block rules and reads inline text itself when there is no markup in it (see _plain).
_BLOCKS = (
    MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"]).disable("inline")
)
_INLINE_MARKUP = re.compile(r"[\\`*_~\[\]!<&]")
_BOX_PREFIX = re.compile(r"\[[ xX]\](?=\s)")
# Other lines that start a block of their own even right under text: a list item, a rule,
# a link reference, a quote or a table row.
_BLOCK_LINE = re.compile(
    r"^[ \t>]*(?:[-*+]|\d{1,9}[.)]|□|☐)(?:[ \t]|$)|^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$"
    r"|^ {0,3}(?:\[|>)|.*\|"
)
_FAILURE = re.compile(
    r"증상|원인|해결|조치|복구\s*절차|롤백|트러블\s*슈팅|symptom|cause|resolution|playbook|"
    r"troubleshoot|diagnos|rollback",
    re.I,
)
_LEADING_JUNK = re.compile(r"^[^\w(\[]+")
_CATEGORY_PREFIX = re.compile(
    r"^(?:type|문제|유형|problem|issue|level|case)\s*\d+\s*[:.)\-–]\s*", re.I
)
_NUMBERING = re.compile(r"^\d+(?:\.\d+)*\.?\s+")
_KIND_WORDS = [
    (Kind.RECOVERY, re.compile(r"복구|recovery|restore|재해", re.I)),
    (Kind.INCIDENT, re.compile(r"장애|긴급|incident|outage|emergency", re.I)),
    (Kind.DEPLOYMENT, re.compile(r"배포|deploy|release|릴리스", re.I)),
]
# Markdown shown as an example (a report template) is a document, not a checklist.
_DOCUMENT_FENCES = ("markdown", "md")


class RunbookError(DomainError):
    """The file cannot be imported; `problems` lists every reason, with line numbers."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems), code="bad_runbook", field="file")
        self.problems = problems


@dataclass
class PlannedItem:
    text: str
    command: str = ""
    details: str = ""
    required: bool = True


@dataclass
class PlannedSection:
    title: str
    items: list[PlannedItem] = field(default_factory=list)


@dataclass
class Entry:
    key: str
    title: str
    line: int
    level: int
    action: str
    choices: list[str]
    kind: str = ""
    cron: str = ""
    phrase: str = ""
    sections: list[PlannedSection] = field(default_factory=list)
    body: str = ""
    category: str = ""
    note: str = ""

    def item_count(self) -> int:
        return sum(len(s.items) for s in self.sections)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "line": self.line,
            "action": self.action,
            "choices": self.choices,
            "kind": self.kind,
            "cron": self.cron,
            "phrase": self.phrase,
            "category": self.category,
            "note": self.note,
            "sections": [
                {"title": s.title, "items": [vars(i) for i in s.items]} for s in self.sections
            ],
            "body": self.body,
        }


@dataclass
class Plan:
    filename: str
    entries: list[Entry]

    def override(self, choices: dict[str, dict]) -> None:
        """Apply the user's per-section choices ({key: {"action": …, "cron": …}}); bad ones raise
        RunbookError."""
        problems = []
        by_key = {e.key: e for e in self.entries}
        for key, choice in choices.items():
            entry = by_key.get(key)
            if entry is None:
                problems.append(_("There is no section “%(key)s” in this file.") % {"key": key})
                continue
            action = choice.get("action", entry.action)
            if action not in entry.choices:
                problems.append(
                    _("“%(title)s” cannot become a %(action)s.")
                    % {"title": entry.title, "action": action}
                )
                continue
            entry.action = action
            if action == PLAYBOOK and not entry.category:
                entry.category = category_of(entry.title)
            if "cron" in choice and action == TEMPLATE:
                cron = (choice.get("cron") or "").strip()
                try:
                    entry.cron = schedules.validate(cron) if cron else ""
                except schedules.ScheduleError as exc:
                    problems.append(f"{entry.title}: {exc}")
                if entry.cron and entry.kind in (Kind.INCIDENT, Kind.RECOVERY):
                    entry.kind = Kind.ROUTINE
        if problems:
            raise RunbookError(problems)

    def templates(self) -> list[Entry]:
        return [e for e in self.entries if e.action == TEMPLATE]

    def playbooks(self) -> list[Entry]:
        return [e for e in self.entries if e.action == PLAYBOOK]

    def as_dict(self) -> dict:
        return {"filename": self.filename, "entries": [e.as_dict() for e in self.entries]}

    def as_text(self) -> str:
        lines = [
            _("%(file)s: %(t)d template(s), %(p)d playbook(s)")
            % {"file": self.filename, "t": len(self.templates()), "p": len(self.playbooks())}
        ]
        for e in self.entries:
            where = _("line %(line)d") % {"line": e.line}
            if e.action == TEMPLATE:
                cron = e.cron or _("no schedule")
                lines.append(
                    f"  [{where}] {e.title} → {_('template')} ({e.kind}, {cron}), "
                    + _("%(s)d section(s), %(i)d item(s)")
                    % {"s": len(e.sections), "i": e.item_count()}
                )
                for section in e.sections:
                    lines.append(f"      § {section.title}")
                    for item in section.items:
                        mark = "" if item.required else _(" (optional)")
                        lines.append(
                            f"        - [ ] {item.text}{mark}" + (" ⌘" if item.command else "")
                        )
            elif e.action == PLAYBOOK:
                lines.append(
                    f"  [{where}] {e.title} → {_('playbook')} ({_('category')}: {e.category})"
                )
            else:
                lines.append(
                    f"  [{where}] {e.title} → {_('skipped')}" + (f" ({e.note})" if e.note else "")
                )
        return "\n".join(lines)


@dataclass
class Result:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


# Reading ---------------------------------------------------------------------------------


def max_bytes() -> int:
    return settings.RUNBOOK_MAX_BYTES


def decode(data: bytes) -> str:
    if len(data) > max_bytes():
        limit = max_bytes()
        size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit / 2**10:g} KiB"
        raise RunbookError(
            [_("The file is larger than %(size)s (PORTAL_RUNBOOK_MAX_BYTES).") % {"size": size}]
        )
    if b"\x00" in data:
        raise RunbookError([_("This is a binary file, not a markdown text.")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RunbookError(
            [_("The file is not UTF-8 text (byte %(pos)d).") % {"pos": exc.start}]
        ) from None
    if not text.strip():
        raise RunbookError([_("The file is empty.")])
    return text


@dataclass
class _Node:
    title: str
    level: int
    line: int  # 0-based line of the heading
    end: int = 0  # 0-based line where the subtree ends (exclusive)
    tokens: list = field(default_factory=list)
    children: list = field(default_factory=list)
    parent: "_Node | None" = None
    items: list[PlannedItem] = field(default_factory=list)
    phrase: schedules.Phrase | None = None
    frequency: str | None = None
    key: str = ""

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def has_items(self) -> bool:
        return any(n.items for n in self.walk())


def check_size(lines: list[str]) -> None:
    """Refuse a file with more headings or blocks (list items, paragraphs, code blocks…) than the
    settings allow, before parsing it.

    A line scan, linear and cheap, that follows fenced code blocks (a `# comment` in a
    shell block is no heading) but not every markdown rule: it may count a line markdown
    would not, never the other way round for the lines that cost markdown-it the most.
    """
    sections = blocks = 0
    fence = None
    for previous, line in zip(["", *lines], lines, strict=False):
        opened = _FENCE_LINE.match(line)
        if fence:
            if opened and opened.group(1) == fence:
                fence = None
            elif _BOX_LINE.match(line):
                blocks += 1  # a fenced "□ item" is an item too
            continue
        if opened:
            fence = opened.group(1)
            blocks += 1  # possibly an item's command
        elif _HEADING_LINE.match(line) or (previous.strip() and _UNDERLINE.match(line)):
            sections += 1
        elif _BLOCK_LINE.match(line) or (line.strip() and not previous.strip()):
            blocks += 1
        if sections > settings.RUNBOOK_MAX_SECTIONS:  # no need to read further to say so
            raise RunbookError(
                [
                    _(
                        "The file has more than %(limit)d headings, more than may be imported at "
                        "once (PORTAL_RUNBOOK_MAX_SECTIONS): split it."
                    )
                    % {"limit": settings.RUNBOOK_MAX_SECTIONS}
                ]
            )
        if blocks > settings.RUNBOOK_MAX_ITEMS:
            raise RunbookError(
                [
                    _(
                        "The file has more than %(limit)d list items, paragraphs and other "
                        "blocks, more than may be imported at once (PORTAL_RUNBOOK_MAX_ITEMS): "
                        "split it."
                    )
                    % {"limit": settings.RUNBOOK_MAX_ITEMS}
                ]
            )


def read_runbook(data: bytes, *, filename: str) -> Plan:
    """Parse a runbook into a plan; raise RunbookError (nothing written) when it cannot be
    imported."""
    text = decode(data)
    lines = text.splitlines()
    check_size(lines)
    env: dict = {}
    root = _tree(_BLOCKS.parse(text, env), len(lines))
    problems = []
    for node in root.walk():
        if node is root:
            continue
        node.items = _extract_items(node.tokens, env)
        inherited = node.parent.frequency if node.parent else None
        try:
            node.phrase = schedules.parse_phrase(node.title, inherited)
        except schedules.ScheduleError as exc:
            problems.append(
                _("Line %(line)d, heading “%(title)s”: %(error)s")
                % {"line": node.line + 1, "title": node.title, "error": exc}
            )
        node.frequency = (
            node.phrase.frequency
            if node.phrase
            else (schedules.find_frequency(node.title) or inherited)
        )
    if problems:
        raise RunbookError(problems)
    _assign_keys(root)
    entries: list[Entry] = []
    if root.items:
        entries.append(_template_entry(root, lines, filename_title(filename), [root]))
    for child in root.children:
        _plan(child, lines, entries)
    entries.sort(key=lambda e: e.line)
    if not any(e.action != SKIP for e in entries):
        raise RunbookError(
            [_("Found no checklist (“- [ ] item” lines) and no failure section in this file.")]
        )
    return Plan(filename=filename, entries=entries)


def filename_title(filename: str) -> str:
    return re.sub(r"\.(md|markdown|txt)$", "", filename.rsplit("/", 1)[-1], flags=re.I) or filename


def clean_title(title: str) -> str:
    return _LEADING_JUNK.sub("", title).strip() or title.strip()


def category_of(title: str) -> str:
    return _CATEGORY_PREFIX.sub("", _NUMBERING.sub("", clean_title(title))).strip()[:100]


def _tree(tokens, line_count: int) -> _Node:
    root = _Node(title="", level=0, line=0, end=line_count)
    stack = [root]
    current = root
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1:])
            node = _Node(title=tokens[i + 1].content.strip(), level=level, line=tok.map[0])
            while stack[-1].level >= level:
                stack.pop().end = tok.map[0]
            node.parent = stack[-1]
            stack[-1].children.append(node)
            stack.append(node)
            current = node
            i += 3
            continue
        current.tokens.append(tok)
        i += 1
    for node in stack[1:]:
        node.end = line_count
    return root


def _assign_keys(root: _Node) -> None:
    seen: dict[str, int] = {}
    for node in root.walk():
        if node is root:
            continue
        path = []
        up = node
        while up is not None and up is not root:
            path.append(clean_title(up.title))
            up = up.parent
        key = " / ".join(reversed(path))[:400]
        seen[key] = seen.get(key, 0) + 1
        node.key = key if seen[key] == 1 else f"{key} #{seen[key]}"


def _plain(inline, env: dict) -> str:
    """The text of an inline token: what markdown-it's inline rules leave of it as text and code."""
    content = inline.content
    box = _BOX_PREFIX.match(content)
    if not env.get("references") and not _INLINE_MARKUP.search(content, box.end() if box else 0):
        # Nothing for the inline rules to do but line breaks, which drop the spaces around them.
        return "\n".join(line.lstrip(" \t").rstrip(" ") for line in content.split("\n"))
    parts = []
    for child in parser().parseInline(content, env)[0].children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def _item(text: str) -> PlannedItem:
    first, _sep, rest = text.strip().partition("\n")
    parts = _OPTIONAL.split(first)
    required = len(parts) == 1
    first = " ".join(part.strip() for part in parts).strip()
    return PlannedItem(text=first[:500], details=rest.strip(), required=required)


def _extract_items(tokens, env: dict) -> list[PlannedItem]:
    items: list[PlannedItem] = []
    # Details and commands gather in lists joined once at the end: joining onto the string
    # built so far would copy it for every line, quadratic in an item's length.
    details: dict[int, list[str]] = {}
    commands: dict[int, list[str]] = {}
    owners: list[PlannedItem | None] = []  # per open list item: the checkbox item it holds
    first_para: list[bool] = []
    after_list: PlannedItem | None = None  # the last item of a list that just closed
    for tok in tokens:
        kind = tok.type
        if kind == "list_item_open":
            owners.append(None)
            first_para.append(True)
            continue
        if kind == "list_item_close":
            done = owners.pop()
            first_para.pop()
            if done is not None:
                after_list = done
            continue
        if kind == "bullet_list_close" or kind == "ordered_list_close":
            continue
        if kind == "inline":
            text = _plain(tok, env)
            if owners and first_para[-1]:
                first_para[-1] = False
                match = _CHECKBOX.match(text)
                if match:
                    item = _item(match.group(2))
                    items.append(item)
                    owners[-1] = item
                    continue
            boxed = [m.group(1) for m in map(_BOX_LINE.match, text.splitlines()) if m]
            if boxed:
                items.extend(_item(b) for b in boxed)
                continue
            owner = next((o for o in reversed(owners) if o is not None), None)
            if owner is not None:
                details.setdefault(id(owner), []).append(f"- {text.strip()}")
            continue
        if kind == "fence":
            info = (tok.info or "").strip().split(" ")[0].lower()
            boxed = [m.group(1) for m in map(_BOX_LINE.match, tok.content.splitlines()) if m]
            if boxed and info not in _DOCUMENT_FENCES:
                items.extend(_item(b) for b in boxed)
                after_list = None
                continue
            owner = next((o for o in reversed(owners) if o is not None), None) or after_list
            if owner is not None and info not in _DOCUMENT_FENCES:
                commands.setdefault(id(owner), []).append(tok.content.rstrip("\n"))
            after_list = None
            continue
        if kind in ("paragraph_open", "paragraph_close", "bullet_list_open", "ordered_list_open"):
            if kind == "paragraph_open" and not owners:
                after_list = None
            continue
        if not owners:
            after_list = None
    for item in items:
        item.details = "\n".join(filter(None, [item.details, *details.get(id(item), ())]))
        item.command = "\n".join(filter(None, [item.command, *commands.get(id(item), ())]))
    return items


def _body(node: _Node, lines: list[str]) -> str:
    return "\n".join(lines[node.line + 1 : node.end]).strip()


def _plan(node: _Node, lines: list[str], entries: list[Entry]) -> None:
    if not node.has_items():
        if _is_playbook(node):
            entries.append(_playbook_entry(node, lines))
            return
        entries.append(
            Entry(
                key=node.key,
                title=clean_title(node.title),
                line=node.line + 1,
                level=node.level,
                action=SKIP,
                choices=[SKIP, PLAYBOOK] if _body(node, lines) else [SKIP],
                note=_("no checklist items, no failure section"),
            )
        )
        for child in node.children:
            _plan(child, lines, entries)
        return
    scheduled_below = any(n.phrase and n.has_items() for n in node.walk() if n is not node)
    if not scheduled_below:
        parts = [n for n in node.walk() if n.items]
        # "## Deployment / ### Before deploying": one list, named after its own heading.
        name = clean_title(parts[0].title) if len(parts) == 1 and not node.items else _name(node)
        entries.append(_template_entry(node, lines, name, list(node.walk())))
        return
    # Parts of this heading run on their own schedules: each becomes its own template.
    if node.items:
        entries.append(_template_entry(node, lines, _name(node), [node]))
    else:
        entries.append(
            Entry(
                key=node.key,
                title=clean_title(node.title),
                line=node.line + 1,
                level=node.level,
                action=SKIP,
                choices=[SKIP],
                note=_("holds checklists with their own schedules"),
            )
        )
    for child in node.children:
        _plan(child, lines, entries)


def _name(node: _Node) -> str:
    title = clean_title(node.title)
    parent = node.parent
    # A heading that is little more than its schedule ("매일 확인", "Weekly (Monday)")
    # says little on its own in a list of runs: name it with its parent.
    if node.phrase and len(title) <= 16 and parent is not None and parent.level > 0:
        return f"{clean_title(parent.title)} · {title}"
    return title


def _template_entry(node: _Node, lines: list[str], name: str, parts: list[_Node]) -> Entry:
    sections = [
        PlannedSection(title=clean_title(part.title) or name, items=part.items)
        for part in parts
        if part.items
    ]
    phrase = node.phrase
    words = " ".join([n.title for n in parts] + [a.title for a in _ancestors(node)])
    kind = Kind.ROUTINE
    if phrase is None:
        kind = next((k for k, pattern in _KIND_WORDS if pattern.search(words)), Kind.ROUTINE)
    return Entry(
        key=node.key or name,
        title=name,
        line=node.line + 1,
        level=node.level,
        action=TEMPLATE,
        choices=[TEMPLATE, PLAYBOOK, SKIP],
        kind=kind,
        cron=phrase.cron if phrase else "",
        phrase=node.title if phrase else "",
        sections=sections,
        body=_body(node, lines),
    )


def _playbook_entry(node: _Node, lines: list[str]) -> Entry:
    return Entry(
        key=node.key,
        title=clean_title(node.title),
        line=node.line + 1,
        level=node.level,
        action=PLAYBOOK,
        choices=[PLAYBOOK, SKIP],
        body=_body(node, lines),
        category=category_of(node.title),
    )


def _ancestors(node: _Node):
    up = node.parent
    while up is not None and up.level > 0:
        yield up
        up = up.parent


def _own_failure_label(node: _Node) -> bool:
    for tok in node.tokens:
        if tok.type != "inline":
            continue
        strongs = re.findall(r"\*\*([^*]+)\*\*|__([^_]+)__", tok.content)
        if any(_FAILURE.search(a or b) for a, b in strongs):
            return True
        if re.match(
            r"^\s*(?:증상|원인|해결|조치|symptoms?|cause|resolution)\s*[:：]", tok.content, re.I
        ):
            return True
    return False


def _is_playbook(node: _Node) -> bool:
    if any(_FAILURE.search(child.title) for child in node.children):
        return True
    if _own_failure_label(node):
        return True
    if _FAILURE.search(node.title):
        # "Troubleshooting" over "Problem 1", "Problem 2": the problems are the playbooks.
        return not any(_is_playbook(child) for child in node.children)
    return False


# Writing -----------------------------------------------------------------------------------


def source_key(filename: str, key: str) -> str:
    full = f"{filename_title(filename)} :: {key}"
    if len(full) <= 255:
        return full
    return full[:200] + " #" + hashlib.sha256(full.encode()).hexdigest()[:16]


def _due_window(cron: str) -> timedelta:
    if not cron:
        return timedelta(hours=2)
    kind = schedules.frequency(cron)
    return {
        "weekly": timedelta(days=1),
        "monthly": timedelta(days=3),
        "quarterly": timedelta(days=7),
        "yearly": timedelta(days=14),
    }.get(kind, timedelta(hours=2))


def _signature(template: Template) -> tuple:
    sections = [
        (
            s.title,
            [
                (i.text, i.command, i.details, i.required)
                for i in s.items.order_by("position", "id")
            ],
        )
        for s in template.sections.order_by("position", "id")
    ]
    return template.name, template.kind, template.schedule, template.service_id, sections


def _planned_signature(entry: Entry, service) -> tuple:
    sections = [
        (s.title, [(i.text, i.command, i.details, i.required) for i in s.items])
        for s in entry.sections
    ]
    return entry.title[:200], entry.kind, entry.cron, service.pk if service else None, sections


def import_plan(*, plan: Plan, service=None) -> Result:
    """Write the plan in one transaction. Importing the same file again updates (new version),
    never duplicates."""
    result = Result()
    with transaction.atomic():
        for entry in plan.templates():
            key = source_key(plan.filename, entry.key)
            template = Template.objects.filter(source_key=key).first()
            sections = [
                {"title": s.title, "items": [vars(i) for i in s.items]} for s in entry.sections
            ]
            if template is None:
                template = Template(source_key=key)
                bucket = result.created
            elif _signature(template) == _planned_signature(entry, service):
                result.unchanged.append(template.name)
                continue
            else:
                template.version += 1
                bucket = result.updated
            template.name = entry.title[:200]
            template.kind = entry.kind
            template.schedule = entry.cron
            template.service = service
            template.due_window = _due_window(entry.cron)
            template.description = template.description or _(
                "Imported from %(file)s, line %(line)d."
            ) % {"file": plan.filename, "line": entry.line}
            template.full_clean(exclude=["source_key"])
            template.save()
            replace_sections(template, sections)
            bucket.append(template.name)
        for entry in plan.playbooks():
            key = source_key(plan.filename, entry.key)
            playbook = Playbook.objects.filter(source_key=key).first()
            fields = {
                "title": entry.title[:200],
                "service": service,
                "category": entry.category or entry.title[:100],
                "body": entry.body or entry.title,
            }
            if playbook is None:
                Playbook.objects.create(source_key=key, **fields)
                result.created.append(entry.title)
            elif all(getattr(playbook, k) == v for k, v in fields.items()):
                result.unchanged.append(entry.title)
            else:
                for name, value in fields.items():
                    setattr(playbook, name, value)
                playbook.save()
                result.updated.append(entry.title)
    return result
