"""A backup target's page charts the size and duration of its recent runs (issue 22)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from backups.models import BackupRun, RunStatus
from backups.views import RECENT_RUNS

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def add_runs(target, count, *, first=0):
    for n in range(first, first + count):
        started = START + timedelta(days=n)
        BackupRun.objects.create(
            target=target,
            trigger="schedule",
            status=RunStatus.SUCCEEDED,
            started_at=started,
            finished_at=started + timedelta(seconds=60 + n),
            size=(n + 1) * 1024 * 1024,
        )


def charts_of(client, target):
    page = client.get(reverse("backups:target", args=[target.pk]))
    assert page.status_code == 200
    return page, page.context["trends"]


def test_the_page_charts_size_and_duration_of_the_successful_runs_oldest_first(
    client_as, make_target
):
    target = make_target()
    add_runs(target, 3)
    BackupRun.objects.create(
        target=target,
        trigger="manual",
        status=RunStatus.FAILED,
        started_at=START,
        finished_at=START + timedelta(seconds=5),
        error="disk full",
    )
    page, (size, duration) = charts_of(client_as("viewer"), target)
    assert size["rows"] == [{"name": "Size", "cells": ["1.0\xa0MB", "2.0\xa0MB", "3.0\xa0MB"]}]
    assert duration["rows"][0]["cells"] == ["1 min", "1 min 1 s", "1 min 2 s"]
    assert size["labels"] == [
        f"#{pk}"
        for pk in target.runs.filter(status="succeeded").order_by("id").values_list("pk", flat=True)
    ]
    html = page.content.decode()
    assert html.count('class="bar-trend"') == 2 and "Backup duration, recent runs" in html


def test_a_target_without_a_successful_run_says_so_instead_of_an_empty_chart(
    client_as, make_target
):
    page, charts = charts_of(client_as("viewer"), make_target())
    assert 'class="bar-trend"' not in page.content.decode()
    assert [chart["empty"] for chart in charts] == ["No successful backup yet."] * 2


def test_the_charts_are_bounded_to_the_recent_runs_and_cost_no_extra_query(
    client_as, make_target, django_assert_max_num_queries
):
    target = make_target()
    client = client_as("viewer")
    add_runs(target, 2)
    with django_assert_max_num_queries(30) as few:
        charts_of(client, target)
    add_runs(target, RECENT_RUNS + 10, first=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        _, (size, _) = charts_of(client, target)
    assert (
        len(size["labels"]) == RECENT_RUNS
        and size["rows"][0]["cells"][-1] == f"{RECENT_RUNS + 12}.0\xa0MB"
    )


def test_the_size_axis_reads_in_round_megabytes(client_as, make_target):
    target = make_target()
    add_runs(target, 3)
    _, (size, _) = charts_of(client_as("viewer"), target)
    assert [tick["text"] for tick in size["ticks"]] == [
        "0\xa0bytes",
        "1.0\xa0MB",
        "2.0\xa0MB",
        "3.0\xa0MB",
        "4.0\xa0MB",
    ]
