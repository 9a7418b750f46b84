"""What a new user does in the first hour, clicked through in a real browser (issue 9).

Every flow runs once in English and once with the browser set to Korean; elements are found by
role, label and text (the catalog's), never by CSS class, so restyling does not break them.
"""

import http.server
import re
import threading

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import free_port

pytestmark = pytest.mark.browser


def expect_message(page, text):
    """The flash message after a form (other live regions, such as "still running", may be on the
    page)."""
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def fact(page, term):
    """The value next to a term in a description list ("Status" → "succeeded")."""
    assert '"' not in term
    return page.locator(f'xpath=//dt[normalize-space()="{term}"]/following-sibling::dd[1]')


PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def test_login_shows_the_dashboard(log_in, t, shot):
    page = log_in("olivia")
    for panel in (
        "Portal health",
        "Open incidents by severity, with age",
        "Today's checklists",
        "Backup freshness",
    ):
        expect(page.get_by_role("heading", name=t(panel))).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("Disk usage at 86 % on the data hub volume")
    nav = page.get_by_role("navigation", name=t("Main"))
    expect(nav.get_by_role("link", name=t("Incidents"), exact=True)).to_be_visible()
    shot(page, "login-dashboard", readme="dashboard")


def test_incident_from_declaration_to_a_published_postmortem(log_in, t, shot, locale, tmp_path):
    title = f"Checkout API answers 500 ({locale})"
    page = log_in("olivia")
    page.get_by_role("navigation", name=t("Main")).get_by_role(
        "link", name=t("Incidents"), exact=True
    ).click()
    page.get_by_role("link", name=t("Declare an incident")).click()
    page.get_by_label(t.label("service")).select_option(label="Internal API")
    page.get_by_label(t.label("title")).fill(title)
    page.get_by_label(t.label("severity")).select_option("sev2")
    page.get_by_label(t.label("scope")).select_option("partial")
    page.get_by_label(t.label("category")).fill("API down")
    page.get_by_label(t.label("description")).fill(
        "Half of the checkout requests fail since the 10:05 deploy."
    )
    shot(page, "incident-1-declare")
    page.get_by_role("button", name=t("Declare incident")).click()

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(title)
    expect_message(page, t("Incident declared. The escalation policy is running."))
    incident_url = page.url
    state = page.locator("section", has=page.get_by_role("heading", name=t("State")))
    expect(state).to_contain_text(t("triggered"))

    page.get_by_role("button", name=t("Acknowledge"), exact=True).click()
    expect(state).to_contain_text(t("acknowledged"))
    page.get_by_label(t("Note")).fill("Rolled back to the previous release; error rate falling.")
    page.get_by_role("button", name=t("Add note")).click()
    timeline = page.locator("section", has=page.get_by_role("heading", name=t("Timeline")))
    expect(timeline).to_contain_text("Rolled back to the previous release")
    page.get_by_label(t("Resolution summary")).fill(
        "Rolled back to the previous release; checkout works."
    )
    page.get_by_role("button", name=t("Resolve"), exact=True).click()
    expect(state).to_contain_text(t("resolved"))
    shot(page, "incident-2-resolved", readme="incident")

    page.get_by_role("link", name=t("Write postmortem")).click()
    expect(page.get_by_role("heading", name=t("Write a postmortem"))).to_be_visible()
    page.get_by_role("textbox", name=t.label("summary")).fill(
        "A bad connection-pool setting shipped; checkout failed."
    )
    page.get_by_role("textbox", name=t.label("trigger")).fill("Release 2026.11.3 at 10:05.")
    page.get_by_role("textbox", name=t.label("root cause(s)")).fill(
        "The pool size came from a staging default."
    )
    items = page.get_by_role("group", name=t("Action item"))
    expect(items).to_have_count(1)
    page.get_by_role("button", name=t("Add an action item")).click()
    expect(items).to_have_count(2)
    for item, (text, kind, priority) in zip(
        items.all(),
        [
            ("Validate pool settings in CI", "prevent", "high"),
            ("Alert on checkout 5xx above 1 %", "detect", "medium"),
        ],
        strict=True,
    ):
        item.get_by_label(t.label("description")).fill(text)
        item.get_by_label(t.label("kind")).select_option(kind)
        item.get_by_label(t("Owner")).select_option(label="Mina Seo")
        item.get_by_label(t.label("priority")).select_option(priority)
        item.get_by_label(t.label("due date")).fill("2099-01-15")
    shot(page, "incident-3-postmortem-form")
    page.get_by_role("button", name=t("Submit for review")).click()
    expect_message(page, t("Postmortem submitted for review."))
    postmortem_url = page.url
    page.context.close()

    manager = log_in("max")
    manager.get_by_role("navigation", name=t("Main")).get_by_role(
        "link", name=t("Postmortems")
    ).click()
    manager.get_by_role("link", name=title).click()
    expect(manager).to_have_url(postmortem_url)
    manager.get_by_role("button", name=t("Publish")).click()
    expect_message(manager, t("Postmortem published."))
    expect(manager.get_by_text("Validate pool settings in CI")).to_be_visible()
    shot(manager, "incident-4-published")
    with manager.expect_download() as download:
        manager.get_by_role("link", name=t("Download Markdown")).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    markdown = saved.read_text(encoding="utf-8")
    assert saved.name.startswith("incident-report-")
    assert markdown.startswith("# " + t("Incident Report: %(day)s", day=""))
    assert title in markdown
    assert "- [ ] Validate pool settings in CI" in markdown
    assert "- [ ] Alert on checkout 5xx above 1 %" in markdown
    manager.goto(incident_url)
    expect(manager.get_by_role("link", name=t("View postmortem"))).to_be_visible()

    manager.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Reports")).click()
    expect(manager.get_by_role("heading", name=t("Incident reports"), level=1)).to_be_visible()
    expect(manager.get_by_role("main")).to_contain_text("MTTA")
    shot(manager, "incident-5-reports", readme="reports")


def test_shift_checklist_ticked_on_a_phone_and_handed_over(log_in, t, shot):
    page = log_in("olivia", **PHONE)
    page.get_by_role("link", name="Daily 09:00 check").first.click()
    expect(page.get_by_role("heading", name="Daily 09:00 check", level=1)).to_be_visible()
    run_url = page.url
    progress = page.get_by_text(t("%(handled)s / %(total)s handled", handled=1, total=4))
    expect(progress).to_be_visible()
    still_open = page.get_by_text(
        t.plural(
            "%(counter)s required item is still open.",
            "%(counter)s required items are still open.",
            3,
        )
    )
    expect(still_open).to_be_visible()

    def item(text):
        return page.get_by_role("listitem").filter(has=page.get_by_text(text, exact=True))

    dashboards = item("Dashboards show no new errors overnight")
    dashboards.get_by_role("button", name=t("done"), exact=True).tap()
    expect(dashboards.get_by_role("button", name=t("Undo"))).to_be_visible()
    expect(
        page.get_by_text(t("%(handled)s / %(total)s handled", handled=2, total=4))
    ).to_be_visible()

    backup = item("Last night's backup is verified")
    # Refused inline, next to the reason's field (issue 23), not in a dialog box.
    backup.get_by_role("button", name=t("skipped"), exact=True).tap()
    expect(backup.get_by_role("alert")).to_have_text(t("Say why the item is skipped."))
    expect(backup.get_by_label(t("Note or reason"))).to_be_focused()
    expect(backup.get_by_role("button", name=t("skipped"), exact=True)).to_be_visible()
    backup.get_by_label(t("Note or reason")).fill("Backup server under maintenance until 11:00")
    backup.get_by_role("button", name=t("skipped"), exact=True).tap()
    expect(backup).to_contain_text("Backup server under maintenance until 11:00")
    expect(backup).to_contain_text(t("skipped"))

    disk = item("Disk use below 80 %")
    disk.get_by_label(t("Value")).fill("86 %")
    disk.get_by_role("button", name=t("failed"), exact=True).tap()
    expect(
        page.get_by_text(t("%(handled)s / %(total)s handled", handled=4, total=4))
    ).to_be_visible()
    expect(still_open).to_be_hidden()
    shot(page, "checklist-1-ticked")
    backup.evaluate("item => item.scrollIntoView({block: 'start'})")
    shot(page, "checklist-1-phone-screen", readme="checklist-phone", full_page=False)

    disk.get_by_role("link", name=t("Open incident")).tap()
    expect(
        page.get_by_role("heading", name=t("Open an incident for a failed item"))
    ).to_be_visible()
    page.get_by_label(t("Severity")).select_option("sev3")
    page.get_by_role("button", name=t("Open incident")).tap()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Disk use below 80 %")
    incident_title = page.get_by_role("heading", level=1).inner_text()
    shot(page, "checklist-2-incident")

    page.goto(run_url)
    expect(
        item("Disk use below 80 %").get_by_role("link", name=incident_title.split(" ")[0])
    ).to_be_visible()
    page.get_by_role("link", name=t("Complete checklist")).tap()
    expect(page.get_by_role("heading", name=t("Handover note for the next shift"))).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(incident_title)
    page.get_by_label(t("Risks")).fill("Data hub volume is filling up; cleanup planned.")
    page.get_by_label(t("Notes for the next shift")).fill("Disk incident open; check it first.")
    shot(page, "checklist-3-handover")
    page.get_by_role("button", name=t("Complete checklist")).tap()
    expect_message(page, t("Checklist completed."))
    expect(page.get_by_role("main")).to_contain_text(t("completed"))
    shot(page, "checklist-4-completed")
    page.context.close()

    next_shift = log_in("max")
    next_shift.goto("/checklists/")
    # The run is named after its day ("Daily 09:00 check — 2026-12-07"), as the scheduler names it.
    before, after = t("Handover from %(run)s", run="\n").split("\n")
    handover = next_shift.get_by_role(
        "region",
        name=re.compile(f"{re.escape(before)}Daily 09:00 check — [0-9-]+{re.escape(after)}"),
    )
    expect(handover).to_contain_text("Disk incident open; check it first.")
    handover.get_by_role("button", name=t("Acknowledge handover")).click()
    expect_message(next_shift, t("Handover acknowledged."))


RUNBOOK = """# Data hub runbook

## Daily 09:00
- [ ] Import queue below 100 jobs
- [ ] Yesterday's export file exists
  ```bash
  ls -l /srv/datahub/export/
  ```

## 매주 월요일 10:00
- [ ] 지난주 장애 목록 정리
- [ ] 용량 추이 확인

## Import stuck
### Symptoms
The nightly import does not finish.
### Resolution
```bash
systemctl restart datahub-import
```
"""


def test_runbook_imported_through_the_upload_form_after_its_dry_run(log_in, t, shot, tmp_path):
    runbook = tmp_path / "datahub.md"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    page = log_in("max")
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("My shift")).click()
    page.get_by_role("link", name=t("Templates")).click()
    page.get_by_role("link", name=t("Import a runbook")).click()
    page.get_by_label(t("Runbook (markdown, at most 1 MiB)")).set_input_files(runbook)
    page.get_by_label(t("Service")).select_option(label="Data hub")
    page.get_by_role("button", name=t("Show what would be imported")).click()

    main = page.get_by_role("main")
    expect(main).to_contain_text(
        t(
            "Dry run of %(file)s: nothing is saved until you press Import. "
            "Choose what each section becomes.",
            file="datahub.md",
        )
    )

    def section(title):
        return page.locator("section").filter(has=page.get_by_role("heading", name=title))

    daily, weekly = (
        section("Data hub runbook · Daily 09:00"),
        section("Data hub runbook · 매주 월요일 10:00"),
    )
    expect(daily.get_by_label(t("Schedule (cron)"))).to_have_value("0 9 * * *")
    expect(daily).to_contain_text("ls -l /srv/datahub/export/")
    expect(weekly.get_by_label(t("Schedule (cron)"))).to_have_value("0 10 * * 1")
    expect(section("Import stuck")).to_contain_text(
        t("Playbook for incidents of category “%(category)s”.", category="Import stuck")
    )
    weekly.get_by_label(t("Schedule (cron)")).fill("30 10 * * 1")
    shot(page, "import-1-dry-run")
    page.get_by_role("button", name=t("Import"), exact=True).click()

    expect_message(
        page, t("Imported: %(c)d created, %(u)d updated, %(n)d unchanged.", c=3, u=0, n=0)
    )
    expect(page.get_by_role("row").filter(has_text="매주 월요일 10:00")).to_contain_text(
        "30 10 * * 1"
    )
    shot(page, "import-2-templates")
    page.get_by_role("link", name="Data hub runbook · Daily 09:00").click()
    expect(page.get_by_role("main")).to_contain_text("Yesterday's export file exists")
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Playbooks")).click()
    expect(page.get_by_role("link", name="Import stuck")).to_be_visible()


def test_backup_run_from_the_page_is_verified(log_in, t, shot):
    page = log_in("olivia")
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Backups")).click()
    page.get_by_role("row").filter(has_text="inventory-sample").get_by_role(
        "button", name=t("Run now")
    ).click()
    expect_message(page, t("Backup queued; this page shows its progress."))
    expect(page.get_by_role("heading", level=1)).to_contain_text("inventory-sample")
    # The page refreshes itself while the backup runs.
    expect(fact(page, t("Verification"))).to_contain_text(t("passed"), timeout=90_000)
    expect(fact(page, t("Status"))).to_contain_text(t("succeeded"))
    shot(page, "backup-1-verified")
    page.get_by_role("link", name=t("Back to the target")).click()
    expect(page.get_by_role("row").filter(has_text=t("manual")).first).to_contain_text(t("passed"))
    shot(page, "backup-2-target")


class Target:
    """A local HTTP service the probe watches; stop() and start() it like a real one."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args):
            pass

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/health"
        self.server = None

    def start(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self.Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def target():
    target = Target()
    target.start()
    yield target
    target.stop()


def test_probe_goes_red_when_its_target_stops_and_green_again(log_in, t, shot, locale, target):
    name = f"Data hub health ({locale})"
    page = log_in("max")
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Probes")).click()
    page.get_by_role("link", name=t("New probe")).click()
    page.get_by_role("link", name=t("HTTP(S) endpoint"), exact=True).click()
    page.get_by_label(t.label("service")).select_option(label="Data hub")
    page.get_by_label(t.label("name")).fill(name)
    page.get_by_label(t("URL")).fill(target.url)
    # exact: the warning-level expectations' label starts with the same words
    page.get_by_role("textbox", name=t("JSON expectations") + ":", exact=True).fill(
        "status in [ok, healthy]"
    )
    shot(page, "probe-1-form")
    page.get_by_role("button", name=t("Save")).click()
    expect_message(page, t("Probe saved."))
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    state = page.locator("section").filter(has=page.get_by_role("heading", name=t("State")))
    run_now = page.get_by_role("button", name=t("Run now"))

    run_now.click()
    expect(state).to_contain_text(t("ok"))
    shot(page, "probe-2-green")

    target.stop()
    run_now.click()
    expect(state).to_contain_text(t("critical"))
    # in words, in the reader's language
    expect(fact(page, t("Message"))).to_contain_text(t("connection refused"))
    page.get_by_role("link", name=t("← All probes")).click()
    card = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=name))
    expect(card).to_contain_text(t("critical"))
    shot(page, "probe-3-red")

    target.start()
    card.get_by_role("link", name=name).click()
    run_now.click()
    expect(state).to_contain_text(t("ok"))
    expect(page.get_by_role("table")).to_contain_text(t("critical"))
    shot(page, "probe-4-green-again")
