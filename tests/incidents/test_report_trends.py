"""The reports page's trend charts (issue 22): MTTA/MTTR per month by severity and incidents per
week by service, read from the per-day rollups."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from core.display import format_duration
from incidents.models import Severity, Status
from incidents.reports import Period, build_report, trend_charts
from tests.incidents.factories import make_incident, make_service
from tests.incidents.report_data import MARCH, NOW, T0, minutes, resolved

pytestmark = pytest.mark.django_db

SPRING = Period(first=date(2026, 3, 1), last=date(2026, 4, 1))


def by_name(chart):
    return {row["name"]: row["cells"] for row in chart["rows"]}


def test_mtta_and_mttr_per_month_by_severity_are_the_reports_means(hand_built):
    mtta, mttr, _ = trend_charts(period=MARCH, service=hand_built)
    report = build_report(period=MARCH, service=hand_built, now=NOW)
    assert mtta["labels"] == ["2026-03"] and list(by_name(mtta)) == [
        str(label) for _, label in Severity.choices
    ]
    for chart, metric in ((mtta, "mtta"), (mttr, "mttr")):
        for row, severity in zip(chart["rows"], report["by_severity"], strict=True):
            mean = severity[metric]["mean"]
            assert row["cells"] == ["–" if mean is None else format_duration(mean)]
    assert by_name(mtta)[str(Severity.SEV1.label)] == ["6 min 40 s"]  # (4 + 10 + 6) / 3 minutes


def test_mttr_can_be_drawn_from_the_impact_start():
    service = make_service("Impact")
    make_incident(
        service,
        severity="sev3",
        created_at=T0,
        impact_started_at=T0 - minutes(10),
        status=Status.RESOLVED,
        resolved_at=T0 + minutes(20),
    )
    _, mttr, _ = trend_charts(period=MARCH, service=service, from_impact=True)
    assert by_name(mttr)[str(Severity.SEV3.label)] == ["30 min"]


def test_incidents_per_week_are_stacked_for_the_top_services_and_the_rest_as_other():
    counts = {"S1": 7, "S2": 6, "S3": 5, "S4": 4, "S5": 3, "S6": 2, "S7": 1}
    for name, count in counts.items():
        service = make_service(name)
        for n in range(count):
            resolved(
                service, "sev3", minutes(1), minutes(5), created_at=T0 + timedelta(days=7 * (n % 2))
            )
    weekly = trend_charts(period=SPRING)[2]
    rows = by_name(weekly)
    assert list(rows) == ["S1", "S2", "S3", "S4", "S5", "Other"]
    # T0 is Monday 2 March: the weeks start on the Monday on or before 1 March.
    assert weekly["labels"][:3] == ["02-23", "03-02", "03-09"] and weekly["labels"][-1] == "04-27"
    # S6 2 → 1 + 1, S7 1 → 1 + 0
    assert rows["S1"][1:3] == ["4", "3"] and rows["Other"][1:3] == [
        "2",
        "1",
    ]
    assert (
        weekly["groups"][1]["bars"][0]["css"] == "series-0"
        and len(weekly["groups"][1]["bars"]) == 6
    )
    assert weekly["empty"] == ""


def test_the_trends_cost_two_queries_whatever_the_number_of_incidents(django_assert_num_queries):
    service = make_service()
    for count in (1, 40):
        for n in range(count):
            resolved(
                service,
                ("sev1", "sev2")[n % 2],
                minutes(n + 1),
                minutes(n + 9),
                created_at=T0 + timedelta(hours=n * 7),
            )
        with django_assert_num_queries(2):
            trend_charts(period=SPRING)


def test_the_reports_page_says_when_there_is_nothing_to_draw(client_as):
    page = client_as("manager").get(
        reverse("incidents:reports"), {"first": "2026-03", "last": "2026-04"}
    )
    html = page.content.decode()
    assert page.status_code == 200 and 'class="bar-trend"' not in html
    # Two of the three trends and three of the report's four charts are of resolved incidents.
    assert (
        html.count("No resolved incidents in this period.") == 5
        and html.count("No incidents in this period.") == 2
    )
    assert html.count('<details class="chart-data">') == 7


def test_the_reports_page_draws_the_trends_with_their_tables(client_as, hand_built):
    page = client_as("manager").get(
        reverse("incidents:reports"),
        {"first": "2026-03", "last": "2026-03", "service": hand_built.pk},
    )
    html = page.content.decode()
    # The three trends and the report's four charts.
    assert html.count('class="bar-trend"') == 7 and "MTTR per month by severity (mean)" in html
    assert "<title>2026-03, SEV1 · critical: 6 min 40 s</title>" in html
    assert 'style="' not in html


def test_the_dashboard_draws_the_median_mttr_of_each_of_the_last_30_days(client_as):
    service = make_service("API")
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    resolved(service, "sev1", minutes(1), minutes(40), created_at=now - timedelta(days=1))
    resolved(service, "sev2", minutes(1), minutes(20), created_at=now - timedelta(days=1))
    resolved(service, "sev2", minutes(1), minutes(100), created_at=now - timedelta(days=1))
    # too old
    resolved(service, "sev3", minutes(1), minutes(5), created_at=now - timedelta(days=45))
    with time_machine.travel(now, tick=False):
        page = client_as("viewer").get(reverse("dashboard"))
    panel = next(p["context"] for p in page.context["panels"] if "mttr_trend" in p["context"])
    trend = panel["mttr_trend"]
    assert (
        trend["labels"][0] == "03-02"
        and trend["labels"][-1] == "03-31"
        and len(trend["labels"]) == 30
    )
    assert trend["rows"][0]["cells"][-2:] == ["40 min", "–"] and set(
        trend["rows"][0]["cells"][:-2]
    ) == {"–"}
    html = page.content.decode()
    assert (
        "Median MTTR per day, last 30 days" in html
        and "<title>03-30, Median MTTR: 40 min</title>" in html
    )


def test_the_dashboard_says_so_when_nothing_was_resolved_lately(client_as):
    page = client_as("viewer").get(reverse("dashboard"))
    panel = next(p["context"] for p in page.context["panels"] if "mttr_trend" in p["context"])
    assert panel["mttr_trend"]["empty"] == "No resolved incidents in this period."
    assert "No resolved incidents in this period." in page.content.decode()
