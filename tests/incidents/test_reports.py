import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse

from core.display import format_duration
from incidents.models import Severity, Status
from incidents.reports import build_report, charts, percentile
from tests.incidents.factories import make_incident, make_service
from tests.incidents.report_data import MARCH, NOW, T0, minutes, resolved

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def test_percentile_interpolates_linearly_between_ranks_like_percentile_cont():
    assert percentile([240, 360, 600, 1800], 0.95) == pytest.approx(1620)
    assert percentile([240, 360, 600, 1800], 0.5) == 480
    assert percentile([7], 0.95) == 7 and percentile([], 0.5) is None


def test_mtta_and_mttr_are_exact_on_a_hand_built_set(hand_built):
    report = build_report(period=MARCH, service=hand_built, now=NOW)
    total = report["total"]
    assert (total["incidents"], total["resolved"], total["open"]) == (5, 4, 1)
    assert total["mtta"] == {"mean": 750, "median": 480, "p95": pytest.approx(1620)}
    assert total["mttr"] == {"mean": 2850, "median": 2100, "p95": pytest.approx(5460)}
    sev1, sev2 = report["by_severity"][0], report["by_severity"][1]
    assert sev1["mtta"] == {"mean": 400, "median": 360, "p95": pytest.approx(576)}
    assert sev1["mttr"] == {"mean": 3200, "median": 2400, "p95": pytest.approx(5640)}
    assert sev2["mtta"] == {"mean": 1800, "median": 1800, "p95": 1800}
    assert (sev2["incidents"], sev2["open"]) == (2, 1)
    assert report["by_severity"][2]["mtta"] == {"mean": None, "median": None, "p95": None}
    assert total["downtime_seconds"] == 11400
    assert (total["rto_met"], total["rto_missed"]) == (3, 1)
    assert (
        total["postmortems_required"],
        total["postmortems_published"],
        total["postmortem_rate"],
    ) == (4, 1, 0.25)
    assert (total["action_items_open"], total["action_items_overdue"]) == (1, 1)
    assert [row["key"] for row in report["by_month"]] == ["2026-03"] and report["by_month"][0][
        "mtta"
    ]["mean"] == 750


def test_mttr_can_be_measured_from_the_impact_start(hand_built):
    make_incident(
        hand_built,
        severity="sev3",
        created_at=T0,
        impact_started_at=T0 - minutes(10),
        status=Status.RESOLVED,
        resolved_at=T0 + minutes(20),
    )
    report = build_report(period=MARCH, service=hand_built, from_impact=True, now=NOW)
    assert report["by_severity"][2]["mttr"]["mean"] == 1800


def test_the_reports_page_draws_svg_charts_with_tables_and_offers_csv(client_as, hand_built):
    client = client_as("manager")
    page = client.get(
        reverse("incidents:reports"),
        {"first": "2026-03", "last": "2026-03", "service": hand_built.pk},
    )
    html = page.content.decode()
    # Four report charts and three trends, each with its table of figures.
    assert page.status_code == 200 and html.count('class="bar-trend"') == 7
    assert html.count('class="chart-table"') == 7
    assert "12 min" in html  # the all-severity MTTA mean, 750 s
    download = client.get(
        reverse("incidents:reports"),
        {"first": "2026-03", "last": "2026-03", "service": hand_built.pk, "download": "csv"},
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    total = next(row for row in rows if row["grouping"] == "total")
    assert (total["incidents"], total["mtta_mean_s"], total["mttr_p95_s"]) == ("5", "750", "5460")


def test_the_report_charts_draw_the_months_medians_and_the_p95_per_severity(hand_built):
    report = build_report(period=MARCH, service=hand_built, now=NOW)
    count, mtta, mttr, p95 = charts(report)
    assert count["labels"] == ["2026-03"] and count["rows"][0]["cells"] == ["5"]
    assert mtta["rows"][0]["cells"] == [format_duration(480)]
    assert mttr["rows"][0]["cells"] == [format_duration(2100)]
    assert p95["labels"] == [str(label) for _value, label in Severity.choices]
    assert p95["rows"][0]["cells"][0] == format_duration(5640)
    assert all(len(group["bars"]) == 1 for group in mtta["groups"]) and not mtta["empty"]


def test_only_managers_see_reports(client_as, api_as):
    assert client_as("operator").get(reverse("incidents:reports")).status_code == 403
    assert api_as("operator").get("/api/v1/reports/incidents").status_code == 403


def test_bad_report_parameters_give_field_errors(client_as, api_as):
    page = client_as("manager").get(
        reverse("incidents:reports"), {"first": "2026-05", "last": "2026-01", "service": "x"}
    )
    assert page.status_code == 400 and {"last", "service"} <= set(page.context["form"].errors)
    api = api_as("manager").get("/api/v1/reports/incidents", {"first": "March", "last": "2020-01"})
    assert api.status_code == 400 and "first" in api.data


def test_the_api_gives_the_same_figures(api_as, hand_built):
    data = (
        api_as("manager")
        .get(
            "/api/v1/reports/incidents",
            {"first": "2026-03", "last": "2026-03", "service": hand_built.pk},
        )
        .data
    )
    assert data["total"]["mtta"]["median"] == 480 and data["total"]["mttr"]["mean"] == 2850
    assert data["by_severity"][0]["key"] == "sev1" and data["period"]["first"] == "2026-03"


def add_incidents(count):
    service = make_service()
    for index in range(count):
        resolved(
            service,
            ("sev1", "sev2", "sev3")[index % 3],
            minutes(index + 1),
            minutes(2 * index + 5),
            created_at=T0 - timedelta(days=index),
        )


def test_the_reports_page_and_endpoint_run_a_constant_number_of_queries(
    client_as, api_as, django_assert_max_num_queries
):
    client, api = client_as("manager"), api_as("manager")
    params = {"first": "2025-05", "last": "2026-04"}
    add_incidents(5)
    for _ in range(2):
        with django_assert_max_num_queries(12):
            assert client.get(reverse("incidents:reports"), params).status_code == 200
        with django_assert_max_num_queries(8):
            assert api.get("/api/v1/reports/incidents", params).status_code == 200
        add_incidents(60)
