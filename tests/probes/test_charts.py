"""Charts that show something: a point for every hour with a sample (one result still shows), the
probe's own value with its unit (not only latency), axes and time labels; the grid says a value
once."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from probes import services
from probes.kinds import Result
from probes.models import Kind
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def record(probe, result, at):
    services.record_results(outcomes=[(probe, result, at)])
    probe.refresh_from_db()


def dots(page, svg_class):
    svg = re.search(rf'<svg class="{svg_class}".*?</svg>', page, re.S)
    assert svg, page
    return re.findall(
        r'<circle class="chart-dot" cx="([\d.]+)" cy="([\d.]+)"', svg.group(0)
    ), svg.group(0)


def test_a_one_result_cpu_probe_draws_one_visible_point_of_its_value_with_axes_and_times(client_as):
    with time_machine.travel(START, tick=False):
        probe = make_probe(make_service(), kind=Kind.CPU, name="CPU")
        record(probe, Result("ok", 20.8, None, "20.8 % CPU"), START)
        page = client_as("viewer").get(probe.get_absolute_url()).content.decode()
    points, svg = dots(page, "history-chart")
    assert len(points) == 1
    assert "Value, last 24 hours" in page
    labels = re.findall(r"<text[^>]*>([^<]+)</text>", svg)
    assert labels == ["20.8 %", "0 %", "10:00", "21:00", "09:30"]
    assert "<line" in svg  # the axes
    assert "<title>20.8 %</title>" in svg
    with time_machine.travel(START, tick=False):
        korean = (
            client_as("viewer")
            .get(probe.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ko")
            .content.decode()
        )
    assert "값, 최근 24시간 (시간별 평균)" in korean
    assert len(dots(korean, "history-chart")[0]) == 1


def test_no_sample_in_24_hours_says_so_instead_of_drawing_an_empty_box(client_as):
    probe = make_probe(make_service(), kind=Kind.MEMORY)
    page = client_as("viewer").get(probe.get_absolute_url()).content.decode()
    assert "history-chart" not in page
    assert "No value measured in the last 24 hours." in page


def test_a_disk_probe_charts_its_percent_not_latency_and_a_heartbeat_the_hours_between_pings(
    client_as,
):
    disk = make_probe(make_service(), kind=Kind.DISK, config={"path": "/"})
    beat = make_probe(
        make_service(), kind=Kind.HEARTBEAT, config={"grace_seconds": 60}, interval=3600
    )
    with time_machine.travel(START, tick=False) as traveller:
        for hour, used in enumerate([40.0, 41.5, 43.0]):
            record(disk, Result("ok", used, None, "fine"), START + timedelta(hours=hour))
        services.record_ping(probe=beat, now=START)
        beat.refresh_from_db()
        services.record_ping(probe=beat, now=START + timedelta(hours=2))
        beat.refresh_from_db()
        traveller.move_to(START + timedelta(hours=2, minutes=5))
        viewer = client_as("viewer")
        disk_page = viewer.get(disk.get_absolute_url()).content.decode()
        beat_page = viewer.get(beat.get_absolute_url()).content.decode()
        grid = viewer.get("/probes/").content.decode()
    disk_points, disk_svg = dots(disk_page, "history-chart")
    assert len(disk_points) == 3
    assert ">43 %</text>" in disk_svg
    assert [float(y) for _x, y in disk_points] == sorted(
        (float(y) for _x, y in disk_points), reverse=True
    )
    assert beat.last_value == 2.0
    beat_points, beat_svg = dots(beat_page, "history-chart")
    assert len(beat_points) == 1 and ">2 h</text>" in beat_svg
    assert grid.count('<svg class="sparkline"') == 2


def test_the_grid_shows_a_value_once_with_its_unit(client_as):
    service = make_service()
    cpu = make_probe(service, kind=Kind.CPU, name="CPU")
    http = make_probe(service, kind=Kind.HTTP, name="Health", config={"url": "http://127.0.0.1/"})
    now = datetime.now(UTC)
    record(cpu, Result("ok", 20.8, None, "20.8 % CPU on average over the last 60 s"), now)
    record(http, Result("ok", 16.5, 16.5, "HTTP 200"), now)
    page = client_as("viewer").get("/probes/").content.decode()
    assert page.count("20.8") == 2  # the value, and the sparkline's label for screen readers
    assert '<span class="probe-value">20.8 %</span>' in page
    assert '<span class="probe-value">16.5 ms</span>' in page
    # a healthy probe's message is not repeated
    assert "HTTP 200" not in page and "on average" not in page
    record(http, Result("critical", None, None, "HTTP 503, expected 200"), now)
    assert "HTTP 503, expected 200" in client_as("viewer").get("/probes/").content.decode()
