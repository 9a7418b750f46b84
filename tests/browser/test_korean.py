"""A Korean reader walks an incident from declaration to the audit trail and meets no English
sentence (issue 23): not in the timeline, the postmortem, the reports or the audit page, in light
and dark.

The English the portal could show is its own catalogue: every msgid whose Korean differs. None of
those sentences may be on a page, and no run of three English words may be left once the data the
portal holds (demo names, titles, roles: what people typed, not what the portal says) is taken out.
"""

import json
import re
import time

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from tests.browser.conftest import ROOT

pytestmark = pytest.mark.browser

CATALOGUE = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[sdfr]|%[sd]|\{\{[^}]*\}\}|\{[a-z_]+\}")
WORD = r"[A-Za-z][A-Za-z'’]*"
ENGLISH_RUN = re.compile(rf"{WORD}(?:[ \t]+{WORD}){{2,}}")
# Names the portal shows as they are in any language.
PROPER_NOUNS = ["Ops Portal", "Prometheus Alertmanager", "Microsoft Teams", "Apprise URL"]
# Every string the portal's own tables hold, to tell data from the portal's sentences.
DATA_DUMP = """
import json
from django.apps import apps
from django.db import models
from core.roles import PORTAL_APPS
values = set()
for label in PORTAL_APPS:
    for model in apps.get_app_config(label).get_models():
        label_lower = model._meta.label_lower
        skipped = label_lower.startswith(("incidents.timelineevent", "portal."))
        if skipped or "historical" in label_lower:
            continue
        names = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField))
        ]
        for row in model.objects.values_list(*names) if names else ():
            values.update(v for v in row if isinstance(v, str) and v.strip())
print(json.dumps(sorted(values)))
"""


@pytest.fixture(scope="session")
def locale():
    return "ko"


def catalogue_sentences() -> list[str]:
    """The English fragments of every translated msgid: its text between placeholders, where that
    text is at least two words (one word alone, "API" or "MTTA", may well be the same in Korean)."""
    with CATALOGUE.open("rb") as po:
        catalog = read_po(po)
    fragments = set()
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            if msgid in strings:
                continue
            for fragment in PLACEHOLDER.split(msgid):
                fragment = fragment.strip(" .,:;()·–—\n")
                if len(re.findall(WORD, fragment)) >= 2:
                    fragments.add(fragment)
    return sorted(fragments, key=len, reverse=True)


@pytest.fixture(scope="session")
def sentences():
    return catalogue_sentences()


def no_english(page, sentences, data, where):
    body = page.locator("body").inner_text()
    for value in [*sorted(data, key=len, reverse=True), *PROPER_NOUNS]:
        body = body.replace(value, "\n")
    found = [
        (s, body[max(body.find(s) - 60, 0) : body.find(s) + len(s) + 60])
        for s in sentences
        if s in body
    ]
    assert not found, f"{where}: English from the catalogue on the page: {found[:10]}"
    runs = ENGLISH_RUN.findall(body)
    assert not runs, f"{where}: English words on the page: {runs[:10]}"


def reload_until(page, locator, text, timeout=60):
    """The incident page does not refresh itself: reload until the workers' events are on it."""
    deadline = time.monotonic() + timeout
    while text not in locator.inner_text():
        assert time.monotonic() < deadline, f"{text!r} not on the page after {timeout} s"
        time.sleep(0.5)
        page.reload()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_korean_reader_meets_no_english_from_declaration_to_the_audit_trail(
    log_in, t, shot, portal, sentences, scheme
):
    title = f"결제 API 500 응답 ({scheme})"
    page = log_in("olivia", color_scheme=scheme)
    nav = page.get_by_role("navigation", name=t("Main"))
    nav.get_by_role("link", name=t("Incidents"), exact=True).click()
    page.get_by_role("link", name=t("Declare an incident")).click()
    page.get_by_label(t.label("service")).select_option(label="Internal API")
    page.get_by_label(t.label("title")).fill(title)
    page.get_by_label(t.label("severity")).select_option("sev2")
    page.get_by_label(t.label("category")).fill("API 장애")
    page.get_by_label(t.label("description")).fill("10:05 배포 후 결제 요청의 절반이 실패합니다.")
    page.get_by_role("button", name=t("Declare incident")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    incident_url = page.url

    # The policy pages Tier 1 at once: the escalation and its e-mail come from the workers.
    timeline = page.locator("section", has=page.get_by_role("heading", name=t("Timeline")))
    reload_until(page, timeline, t("escalation step"))
    reload_until(page, timeline, t("notification sent"))
    expect(timeline).to_contain_text(
        t("%(channel)s sent to %(who)s.", channel=t("e-mail"), who="Mina Seo")
    )
    state = page.locator("section", has=page.get_by_role("heading", name=t("State")))
    page.get_by_role("button", name=t("Acknowledge"), exact=True).click()
    expect(state).to_contain_text(t("acknowledged"))
    page.get_by_label(t("Note")).fill("이전 릴리스로 되돌렸습니다.")
    page.get_by_role("button", name=t("Add note")).click()
    expect(timeline).to_contain_text("이전 릴리스로 되돌렸습니다.")  # the note's page has loaded
    page.get_by_label(t("Resolution summary")).fill("이전 릴리스로 되돌려 복구했습니다.")
    page.get_by_role("button", name=t("Resolve"), exact=True).click()
    expect(state).to_contain_text(t("resolved"))
    expect(timeline).to_contain_text(t("Opened: %(title)s", title=title))
    expect(timeline).to_contain_text(
        t("%(from)s → %(to)s", **{"from": t("acknowledged"), "to": t("resolved")})
    )
    shot(page, f"korean-1-incident-{scheme}")

    page.get_by_role("link", name=t("Write postmortem")).click()
    page.get_by_role("textbox", name=t.label("summary")).fill(
        "잘못된 연결 풀 설정이 배포되었습니다."
    )
    page.get_by_role("textbox", name=t.label("root cause(s)")).fill(
        "풀 크기가 스테이징 기본값이었습니다."
    )
    page.get_by_role("button", name=t("Submit for review")).click()
    expect(
        page.get_by_role("status").filter(has_text=t("Postmortem submitted for review."))
    ).to_be_visible()
    postmortem_url = page.url
    page.context.close()

    manager = log_in("max", color_scheme=scheme)
    manager.goto(postmortem_url)
    manager.get_by_role("button", name=t("Publish")).click()
    expect(
        manager.get_by_role("status").filter(has_text=t("Postmortem published."))
    ).to_be_visible()
    data = set(json.loads(portal.manage("shell", "-c", DATA_DUMP).strip().splitlines()[-1]))
    no_english(manager, sentences, data, "postmortem")
    shot(manager, f"korean-2-postmortem-{scheme}")

    manager.goto(incident_url)
    timeline = manager.locator("section", has=manager.get_by_role("heading", name=t("Timeline")))
    expect(timeline).to_contain_text(t("Postmortem published."))
    no_english(manager, sentences, data, "incident")

    manager.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Reports")).click()
    expect(manager.get_by_role("heading", name=t("Incident reports"), level=1)).to_be_visible()
    no_english(manager, sentences, data, "reports")
    shot(manager, f"korean-3-reports-{scheme}")

    manager.goto("/audit/")
    expect(manager.get_by_role("heading", name=t("Audit"), level=1)).to_be_visible()
    expect(manager.get_by_role("main")).to_contain_text(title)
    no_english(manager, sentences, data, "audit")
    shot(manager, f"korean-4-audit-{scheme}")
