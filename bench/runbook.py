"""Runbook import benchmark (issue 25); prints one JSON list of rows.

    PORTAL_DATA_DIR=/tmp/rb-bench .venv/bin/python manage.py migrate
    PORTAL_DATA_DIR=/tmp/rb-bench .venv/bin/python bench/runbook.py

Each scenario is a crafted file of about 1 MiB (PORTAL_RUNBOOK_MAX_BYTES): the dry run
(read_runbook and the plan as the API returns it) must answer, plan or refusal, within
1 s. On main before the caps, the first took 20 s (its details were joined quadratically)
and the second 47 s (markdown-it over 80 000 headings). The last row renders the dry-run
page of a file at the caps (500 sections, 5 000 items): one page of 50 sections.
"""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from checklists import importer

BUDGET_S = 1.0
SIZE = settings.RUNBOOK_MAX_BYTES
USERNAME = "bench-runbook-import"


def fill(head: str, unit: str) -> bytes:
    return (head + unit * ((SIZE - len(head)) // len(unit))).encode()[:SIZE]


def at_the_caps() -> bytes:
    sections, items = (
        settings.RUNBOOK_MAX_SECTIONS,
        settings.RUNBOOK_MAX_ITEMS // settings.RUNBOOK_MAX_SECTIONS,
    )
    width = SIZE // (sections * items) - 40
    return "".join(
        f"## Check {n} daily 09:00\n"
        + "".join(f"- [ ] item {n}.{i} {'x' * width}\n" for i in range(items))
        for n in range(sections)
    ).encode()[:SIZE]


FILES = [
    ("one item, 175k detail bullets (main: 20 s)", fill("# Daily 09:00\n- [ ] a\n", "  - b\n")),
    ("80k tiny sections (main: 47 s)", fill("", "## s\n- [ ] a\n")),
    ("500 sections × 10 items, long lines", at_the_caps()),
    (
        "one paragraph of prose",
        fill("# Daily\n- [ ] a\n\n", "words words words words words words words\n"),
    ),
    ("350k short paragraphs", fill("# Daily\n- [ ] a\n\n", "a\n\n")),
    ("260k horizontal rules", fill("# Daily\n- [ ] a\n\n", "***\n")),
    ("a table of 100k rows", fill("# Daily\n- [ ] a\n\n| a | b |\n|---|---|\n", "| x | y |\n")),
    ("an item on a line of 1 M spaces", fill("# Daily\n\n□ a", " ")),
    (
        "1 MiB of code in one fence",
        fill("# Daily\n- [ ] a\n  ```\n", "  echo a b c d e f g h i j k l m n\n"),
    ),
]


def dry_run(data: bytes) -> tuple[float, str]:
    began, cpu = time.perf_counter(), time.process_time()
    try:
        plan = importer.read_runbook(data, filename="crafted.md")
        json.dumps(plan.as_dict())
        outcome = f"{len(plan.entries)} entries"
    except importer.RunbookError:
        outcome = "refused"
    return (
        time.perf_counter() - began,
        f"{outcome}, CPU {(time.process_time() - cpu) * 1000:.0f} ms",
    )


# The manifest storage needs `collectstatic`, which a page rendered in-process can do without.
@override_settings(
    STORAGES={
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
)
def page() -> tuple[float, str]:
    user = get_user_model().objects.filter(
        username=USERNAME
    ).first() or get_user_model().objects.create_superuser(USERNAME, password=os.urandom(12).hex())
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    # the URL resolver and templates load once per process
    client.get("/checklists/templates/import/")
    began, cpu = time.perf_counter(), time.process_time()
    response = client.post(
        "/checklists/templates/import/", {"file": SimpleUploadedFile("caps.md", at_the_caps())}
    )
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    user.delete()
    return (
        elapsed,
        f"HTTP {response.status_code}, {len(response.content) // 1024} KB, CPU {cpu * 1000:.0f} ms",
    )


def row(scenario: str, elapsed: float, outcome: str) -> dict:
    return {
        "scenario": scenario,
        "figure": f"{elapsed * 1000:.0f} ms, {outcome}",
        "baseline": "main: 15 s API, 33 s page",
        "ratio": round(elapsed / BUDGET_S, 3),
        "budget": f"≤ {BUDGET_S:.0f} s",
        "verdict": "PASS" if elapsed <= BUDGET_S else "MISS",
    }


def main() -> None:
    rows = [row(f"runbook dry run: {name}", *dry_run(data)) for name, data in FILES]
    rows.append(row("runbook dry-run page at the caps", *page()))
    print(json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
