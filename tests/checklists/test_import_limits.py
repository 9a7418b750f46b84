"""Runbook imports are bounded (issue 25): a 1 MiB crafted file took 15 s to dry-run through the
API and 33 s / 26 MB of HTML on the page. Caps on bytes, headings and list items, details joined
once, and a dry-run page of 50 sections at a time. (The timing itself is in `make bench`.)"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from checklists import importer
from checklists.models import Template


def runbook(sections: int, items: int = 1) -> bytes:
    return "".join(
        f"## Check {n:03}\n" + "".join(f"- [ ] item {n}.{i}\n" for i in range(items))
        for n in range(sections)
    ).encode()


def refusal(data: bytes) -> str:
    with pytest.raises(importer.RunbookError) as caught:
        importer.read_runbook(data, filename="big.md")
    return " ".join(caught.value.problems)


@pytest.mark.django_db
def test_more_headings_than_the_setting_allows_are_refused_with_the_count_and_the_setting(settings):
    settings.RUNBOOK_MAX_SECTIONS = 3
    assert len(importer.read_runbook(runbook(3), filename="ok.md").entries) == 3
    message = refusal(runbook(4))
    assert "more than 3 headings" in message and "PORTAL_RUNBOOK_MAX_SECTIONS" in message


@pytest.mark.django_db
def test_underlined_headings_count_too(settings):
    settings.RUNBOOK_MAX_SECTIONS = 3
    assert "PORTAL_RUNBOOK_MAX_SECTIONS" in refusal(
        b"".join(b"Check %d\n===\n- [ ] a\n" % n for n in range(4))
    )


@pytest.mark.django_db
def test_more_list_items_than_the_setting_allows_are_refused(settings):
    settings.RUNBOOK_MAX_ITEMS = 10
    assert importer.read_runbook(runbook(2, items=5), filename="ok.md").entries[0].item_count() == 5
    message = refusal(runbook(1, items=11))
    assert "more than 10 list items" in message and "PORTAL_RUNBOOK_MAX_ITEMS" in message
    # Bullets under an item (its details) cost the parser as much as items do.
    assert "PORTAL_RUNBOOK_MAX_ITEMS" in refusal(b"# Daily\n- [ ] a\n" + b"  - detail\n" * 10)


@pytest.mark.django_db
def test_paragraphs_and_rules_count_as_blocks(settings):
    settings.RUNBOOK_MAX_ITEMS = 10
    assert "PORTAL_RUNBOOK_MAX_ITEMS" in refusal(b"# Daily\n- [ ] a\n\n" + b"text\n\n" * 10)
    assert "PORTAL_RUNBOOK_MAX_ITEMS" in refusal(b"# Daily\n- [ ] a\n\n" + b"***\n" * 10)
    # One paragraph of many lines is one block.
    assert importer.read_runbook(
        b"# Daily\n- [ ] a\n\n" + b"text\n" * 100, filename="ok.md"
    ).entries


@pytest.mark.django_db
def test_comments_in_code_blocks_are_not_counted_as_headings(settings):
    settings.RUNBOOK_MAX_SECTIONS = 1
    text = (
        b"# Daily 09:00\n- [ ] back up\n  ```sh\n"
        + b"  # a comment\n" * 20
        + b"  tar czf x.tgz /srv\n  ```\n"
    )
    [entry] = importer.read_runbook(text, filename="ok.md").entries
    assert entry.sections[0].items[0].command.count("# a comment") == 20


def test_the_api_refuses_a_file_past_the_default_caps_with_the_file_field(api_as):
    response = api_as("manager").post(
        "/api/v1/runbook-imports",
        {"file": SimpleUploadedFile("big.md", runbook(501))},
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_runbook" and "more than 500 headings" in " ".join(body["file"])
    assert Template.objects.count() == 0


def test_the_byte_cap_follows_the_setting(api_as, settings):
    settings.RUNBOOK_MAX_BYTES = 2048
    response = api_as("manager").post(
        "/api/v1/runbook-imports",
        {"file": SimpleUploadedFile("big.md", b"# Daily\n- [ ] a\n" + b"x" * 2048)},
        format="multipart",
    )
    assert response.status_code == 400 and "2 KiB" in " ".join(response.json()["file"])


@pytest.mark.django_db
def test_an_item_with_thousands_of_detail_lines_and_commands_keeps_them_all_in_order():
    # Each line was once joined onto everything before it: quadratic in the item's length.
    text = (
        "# Daily\n- [ ] check\n  first line\n"
        + "".join(f"  - step {n}\n" for n in range(3000))
        + "".join(f"  ```\n  cmd {n}\n  ```\n" for n in range(500))
    )
    [item] = importer.read_runbook(text.encode(), filename="x.md").entries[0].sections[0].items
    assert item.details.splitlines() == ["first line", *(f"- step {n}" for n in range(3000))]
    assert item.command.splitlines() == [f"cmd {n}" for n in range(500)]


@pytest.mark.django_db
def test_long_runs_of_spaces_around_an_item_and_its_optional_mark_are_stripped():
    # These regexes backtracked quadratically on a line of spaces (20 000 spaces: 10 s).
    text = "# Daily\n\n□ rotate logs" + " " * 5000 + "(optional)" + " " * 5000 + "\n"
    [item] = importer.read_runbook(text.encode(), filename="x.md").entries[0].sections[0].items
    assert item.text == "rotate logs" and item.required is False


def shown_sections(page: str) -> list[str]:
    return re.findall(r"<h2>(Check \d+)", page)


def test_the_dry_run_page_shows_fifty_sections_at_a_time_and_keeps_choices_across_pages(client_as):
    client = client_as("manager")
    response = client.post(
        reverse("checklists:import"), {"file": SimpleUploadedFile("ops.md", runbook(120))}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert shown_sections(page) == [f"Check {n:03}" for n in range(50)]
    assert "Page 1 of 3" in page
    # The other pages' choices ride along, so an import from any page imports every section.
    assert 'type="hidden" name="action_119" value="template"' in page

    plan = importer.read_runbook(runbook(120), filename="ops.md")
    data = {f"action_{n}": e.action for n, e in enumerate(plan.entries)}
    data.update({f"cron_{n}": "" for n in range(120)})
    data["action_0"] = "skip"
    response = client.post(reverse("checklists:import"), {**data, "page": "3"})
    page = response.content.decode()
    assert response.status_code == 200 and Template.objects.count() == 0
    assert shown_sections(page) == [f"Check {n:03}" for n in range(100, 120)]
    assert 'type="hidden" name="action_0" value="skip"' in page

    assert client.post(reverse("checklists:import"), data).status_code == 302
    assert (
        Template.objects.count() == 119 and not Template.objects.filter(name="Check 000").exists()
    )


def test_a_wrong_schedule_on_a_later_page_shows_that_page(client_as):
    client = client_as("manager")
    client.post(reverse("checklists:import"), {"file": SimpleUploadedFile("ops.md", runbook(120))})
    data = {f"action_{n}": "template" for n in range(120)} | {f"cron_{n}": "" for n in range(120)}
    data["cron_75"] = "every day"
    response = client.post(reverse("checklists:import"), data)
    assert response.status_code == 400
    assert shown_sections(response.content.decode())[0] == "Check 050"
    assert Template.objects.count() == 0
