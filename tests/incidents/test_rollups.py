"""Per-day rollups (issue 22): reports read them, and they must equal the direct computation."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from incidents import rollups, services
from incidents.models import (
    Incident,
    IncidentMonthRollup,
    IncidentRollup,
    Postmortem,
    PostmortemStatus,
    Status,
)
from incidents.reports import Period, build_report, build_report_direct
from tests.incidents.factories import make_incident, make_service

pytestmark = pytest.mark.django_db

# Around a month boundary in Seoul (UTC+9): local days and months differ from UTC ones.
BASE = datetime(2026, 1, 20, 0, 0, tzinfo=UTC)
PERIOD = Period(first=date(2026, 1, 1), last=date(2026, 4, 1))
MS = timedelta(milliseconds=1)
# SQLite's direct computation works in milliseconds (julianday), PostgreSQL's in microseconds with
# interval rounding in AVG and percentile_cont: the figures agree to the bit on SQLite, to 1 µs on
# PostgreSQL.
TOLERANCE = 1e-6 if connection.vendor == "postgresql" else 0


@pytest.fixture(autouse=True)
def _seoul(settings):
    settings.TIME_ZONE = "Asia/Seoul"


def assert_same_report(ours: dict, direct: dict, path="report"):
    if isinstance(direct, dict):
        assert ours.keys() == direct.keys(), path
        for key in direct:
            assert_same_report(ours[key], direct[key], f"{path}.{key}")
    elif isinstance(direct, list):
        assert len(ours) == len(direct), path
        for index, (mine, theirs) in enumerate(zip(ours, direct, strict=True)):
            assert_same_report(mine, theirs, f"{path}[{index}]")
    elif isinstance(direct, float) and TOLERANCE:
        assert ours == pytest.approx(direct, abs=TOLERANCE), path
    else:
        assert ours == direct, path


def assert_rollups_equal_direct(services_):
    for service in [None, *services_]:
        for from_impact in (False, True):
            kwargs = {"period": PERIOD, "service": service, "from_impact": from_impact, "now": BASE}
            assert_same_report(build_report(**kwargs), build_report_direct(**kwargs))


def ms(n):
    return n * MS


# One incident's life: when it opens (ms after BASE, up to ~70 days), its impact start (ms before),
# its severity and service, when it is acknowledged and resolved (ms after opening, each optional),
# and what happens after the fact: re-opened (and maybe resolved again), impact start or severity or
# service edited.
incident_lives = st.fixed_dictionaries(
    {
        "opened": st.integers(0, 70 * 86_400_000),
        "impact": st.one_of(st.none(), st.integers(0, 3 * 3_600_000)),
        "severity": st.sampled_from(["sev1", "sev2", "sev3", "sev4"]),
        "service": st.integers(0, 2),
        "ack": st.one_of(st.none(), st.integers(1, 6 * 3_600_000)),
        "fix": st.one_of(st.none(), st.integers(1, 3 * 86_400_000)),
        "reopen": st.one_of(
            st.none(),
            st.tuples(st.integers(1, 86_400_000), st.one_of(st.none(), st.integers(1, 86_400_000))),
        ),
        "new_impact": st.one_of(st.none(), st.integers(-86_400_000, 3_600_000)),
        "new_severity": st.one_of(st.none(), st.sampled_from(["sev1", "sev2", "sev3", "sev4"])),
        "new_service": st.one_of(st.none(), st.integers(0, 2)),
    }
)


def live(life: dict, services_) -> None:
    opened = BASE + ms(life["opened"])
    with time_machine.travel(opened, tick=False):
        incident, _ = services.open_incident(
            service=services_[life["service"]],
            title="life",
            severity=life["severity"],
            impact_started_at=opened - ms(life["impact"]) if life["impact"] is not None else None,
        )
    if life["ack"] is not None and (life["fix"] is None or life["ack"] < life["fix"]):
        with time_machine.travel(opened + ms(life["ack"]), tick=False):
            services.acknowledge(incident=incident, by=None)
    if life["fix"] is None:
        return
    resolved = opened + ms(life["fix"])
    with time_machine.travel(resolved, tick=False):
        services.resolve(incident=incident, by=None)
    if life["reopen"]:
        after, again = life["reopen"]
        with time_machine.travel(resolved + ms(after), tick=False):
            services.reopen(incident=incident, by=None)
        if again is not None:
            with time_machine.travel(resolved + ms(after + again), tick=False):
                services.resolve(incident=incident, by=None)


def edit_after_the_fact(incident: Incident, life: dict, services_) -> None:
    changes = {}
    if life["new_impact"] is not None:
        changes["impact_started_at"] = incident.created_at + ms(life["new_impact"])
    if life["new_severity"]:
        changes["severity"] = life["new_severity"]
    if life["new_service"] is not None:
        changes["service"] = services_[life["new_service"]]
    if changes:
        services.edit_incident(
            incident=incident, by=None, changes=changes, now=BASE + timedelta(days=80)
        )


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lives=st.lists(incident_lives, min_size=1, max_size=8),
    published=st.lists(st.booleans(), max_size=8),
)
def test_reports_from_rollups_equal_the_direct_computation_for_random_histories(lives, published):
    with transaction.atomic():
        services_ = [
            make_service(f"svc-{index}", rto=timedelta(minutes=30 * index) if index else None)
            for index in range(3)
        ]
        for life in lives:
            live(life, services_)
        # Edits after the fact, once every incident has lived: oldest first.
        for incident, life in zip(Incident.objects.order_by("pk"), lives, strict=True):
            edit_after_the_fact(incident, life, services_)
        for incident, publish in zip(Incident.objects.order_by("pk"), published, strict=False):
            if publish:
                Postmortem.objects.create(
                    incident=incident,
                    title="pm",
                    severity=incident.severity,
                    occurred_at=incident.created_at,
                    status=PostmortemStatus.PUBLISHED,
                )
        assert_rollups_equal_direct(services_)
        transaction.set_rollback(True)


def test_a_reopened_incident_leaves_the_mttr_until_resolved_again():
    service = make_service("API")
    opened = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
    with time_machine.travel(opened, tick=False):
        incident, _ = services.open_incident(service=service, title="down", severity="sev1")
    with time_machine.travel(opened + timedelta(minutes=20), tick=False):
        services.resolve(incident=incident, by=None)
    feb = Period(first=date(2026, 2, 1), last=date(2026, 2, 1))
    assert build_report(period=feb, now=opened)["total"]["mttr"]["mean"] == 1200
    with time_machine.travel(opened + timedelta(minutes=30), tick=False):
        services.reopen(incident=incident, by=None)
    report = build_report(period=feb, now=opened)
    assert report["total"]["mttr"]["mean"] is None and report["total"]["open"] == 1
    with time_machine.travel(opened + timedelta(minutes=50), tick=False):
        services.resolve(incident=incident, by=None)
    assert build_report(period=feb, now=opened)["total"]["mttr"]["mean"] == 3000


def test_opening_an_incident_counts_it_without_reading_its_days_other_incidents():
    # An alert storm opens 1 000 incidents on one day in one transaction: reading the whole day
    # for each made it quadratic. A new incident only adds one to its row's count.
    service = make_service("API")
    opened = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
    with time_machine.travel(opened, tick=False):
        first, _ = services.open_incident(service=service, title="first", severity="sev2")
        services.resolve(incident=first, by=None)  # a duration the next open must keep
    with (
        time_machine.travel(opened + timedelta(hours=1), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        services.open_incident(service=service, title="second", severity="sev2")
    day_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"incidents_incident"."created_at" >=' in q["sql"]
    ]
    assert day_reads == []
    row = IncidentRollup.objects.get()
    assert (row.incidents, row.ttr_us) == (2, [0])
    with time_machine.travel(opened + timedelta(hours=2), tick=False):
        services.open_incident(service=make_service("DB"), title="third", severity="sev2")
    assert IncidentRollup.objects.count() == 2  # a day's first incident creates its row
    assert_rollups_equal_direct([service])


def test_moving_an_incident_to_another_service_moves_it_between_rollups():
    api, db = make_service("API"), make_service("DB")
    with time_machine.travel(datetime(2026, 2, 3, 1, 0, tzinfo=UTC), tick=False):
        incident, _ = services.open_incident(service=api, title="down", severity="sev2")
    assert list(IncidentRollup.objects.values_list("service__name", "severity", "incidents")) == [
        ("API", "sev2", 1)
    ]
    services.edit_incident(incident=incident, by=None, changes={"service": db, "severity": "sev1"})
    assert list(IncidentRollup.objects.values_list("service__name", "severity", "incidents")) == [
        ("DB", "sev1", 1)
    ]


def test_the_day_is_the_portals_local_day():
    # 2026-01-31 20:00 UTC is 1 February 05:00 in Seoul.
    with time_machine.travel(datetime(2026, 1, 31, 20, 0, tzinfo=UTC), tick=False):
        services.open_incident(service=make_service(), title="late", severity="sev3")
    assert IncidentRollup.objects.get().day == date(2026, 2, 1)


def test_rebuild_rollups_recomputes_them_from_incidents_written_directly(make_user):
    service = make_service("API", rto=timedelta(minutes=45))
    start = datetime(2026, 2, 10, 3, 0, tzinfo=UTC)
    Incident.objects.bulk_create(
        [
            Incident(
                service=service,
                title=f"bulk {n}",
                severity=("sev1", "sev2")[n % 2],
                created_at=start + n * MS * 7e6,
                status=Status.RESOLVED,
                acknowledged_at=start + n * MS * 7e6 + ms(60_000 + n),
                resolved_at=start + n * MS * 7e6 + ms(1_800_000 + 977 * n * n),
            )
            for n in range(40)
        ]
    )
    assert not IncidentRollup.objects.exists()
    call_command("rebuild_rollups", stdout=io.StringIO())
    assert IncidentRollup.objects.exists()
    assert_rollups_equal_direct([service])


def test_deleting_an_incident_in_the_admin_takes_it_out_of_the_rollups(client):
    admin = make_admin()
    client.force_login(admin)
    # A row with no timeline yet (one with events is kept: their admin deletes nothing).
    incident = make_incident(severity="sev4", created_at=datetime(2026, 2, 3, 1, 0, tzinfo=UTC))
    assert IncidentRollup.objects.count() == 1
    response = client.post(
        reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"}
    )
    assert response.status_code == 302 and not Incident.objects.exists()
    assert not IncidentRollup.objects.exists()


def make_admin():
    from django.contrib.auth.models import User

    return User.objects.create_superuser("root", password="pw-123456!")


def seed_days(count: int, services_) -> None:
    for n in range(count):
        opened = BASE + timedelta(days=n % 60, hours=n % 24)
        with time_machine.travel(opened, tick=False):
            incident, _ = services.open_incident(
                service=services_[n % len(services_)],
                title=f"i{n}",
                severity=("sev1", "sev2", "sev3", "sev4")[n % 4],
            )
        with time_machine.travel(opened + timedelta(minutes=5 + n), tick=False):
            services.resolve(incident=incident, by=None)


def test_the_report_reads_three_queries_whatever_the_incidents(django_assert_num_queries):
    services_ = [make_service(f"s{n}") for n in range(3)]
    seed_days(4, services_)
    with django_assert_num_queries(3):
        build_report(period=PERIOD, now=BASE)
    seed_days(40, services_)
    with django_assert_num_queries(3):
        build_report(period=PERIOD, now=BASE)


def page_queries(client, url, params=None) -> int:
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    # Within the dashboard's last 30 days of the seeded incidents.
    with (
        time_machine.travel(BASE + timedelta(days=20), tick=False),
        CaptureQueriesContext(conn) as captured,
    ):
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


def test_the_reports_page_and_dashboard_queries_do_not_grow_with_incidents(client_as):
    client = client_as("manager")
    services_ = [make_service(f"s{n}") for n in range(3)]
    params = {"first": "2026-01", "last": "2026-04"}
    seed_days(3, services_)
    page_queries(client, reverse("incidents:reports"), params)  # warm: sessions, content types
    page_queries(client, reverse("dashboard"))
    reports_few, dashboard_few = (
        page_queries(client, reverse("incidents:reports"), params),
        page_queries(client, reverse("dashboard")),
    )
    seed_days(50, services_)
    assert page_queries(client, reverse("incidents:reports"), params) == reports_few
    assert page_queries(client, reverse("dashboard")) == dashboard_few


def test_the_dashboard_shows_the_last_30_days_from_the_rollups(client_as):
    service = make_service("API")
    now = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    for ago, (ack, fix) in ((1, (4, 40)), (2, (10, 100)), (40, (1, 1))):  # the last one is too old
        opened = now - timedelta(days=ago)
        with time_machine.travel(opened, tick=False):
            incident, _ = services.open_incident(service=service, title="x", severity="sev1")
        with time_machine.travel(opened + timedelta(minutes=ack), tick=False):
            services.acknowledge(incident=incident, by=None)
        with time_machine.travel(opened + timedelta(minutes=fix), tick=False):
            services.resolve(incident=incident, by=None)
    client = client_as("viewer")
    with time_machine.travel(now, tick=False):
        response = client.get(reverse("dashboard"))
    panel = next(p["context"] for p in response.context["panels"] if "recent" in p["context"])
    sev1 = panel["recent"][0]
    assert (sev1["incidents"], sev1["resolved"], sev1["mtta_median"], sev1["mttr_median"]) == (
        2,
        2,
        420,
        4200,
    )
    assert sev1["mttr_text"] in response.content.decode()


# Month rollups: the day rows of a month merged, which reports of whole months read.


def month_rows() -> dict:
    return {
        (row.month, row.service_id, row.severity): (
            row.incidents,
            row.tta_us,
            row.ttr_us,
            row.downtime_us,
        )
        for row in IncidentMonthRollup.objects.all()
    }


def days_merged() -> dict:
    merged = {}
    for row in IncidentRollup.objects.order_by("day"):
        key = (row.day.replace(day=1), row.service_id, row.severity)
        count, *lists = merged.get(key, (0, [], [], []))
        merged[key] = (
            count + row.incidents,
            *(
                sorted(old + new)
                for old, new in zip(lists, (row.tta_us, row.ttr_us, row.downtime_us), strict=True)
            ),
        )
    return merged


def test_month_rollups_are_their_days_merged_through_opens_resolves_edits_and_reopens():
    api, db = make_service("API"), make_service("DB")
    seed_days(40, [api, db])  # 60 days from 20 January: three months in Seoul
    assert len({month for month, _service, _severity in month_rows()}) == 3
    moved, reopened = Incident.objects.order_by("pk")[:2]
    services.edit_incident(
        incident=moved,
        by=None,
        changes={"service": db, "severity": "sev1", "impact_started_at": BASE - timedelta(days=2)},
    )
    with time_machine.travel(BASE + timedelta(days=70), tick=False):
        services.reopen(incident=reopened, by=None)
    assert month_rows() == days_merged()
    built = month_rows()
    call_command("rebuild_rollups", stdout=io.StringIO())
    assert month_rows() == built


def test_a_deleted_days_last_incident_leaves_no_month_row():
    incident = make_incident(severity="sev4", created_at=datetime(2026, 2, 3, 1, 0, tzinfo=UTC))
    assert len(month_rows()) == 1
    key = rollups.key_of(incident)
    incident.delete()
    rollups.refresh([key])
    assert month_rows() == {} and days_merged() == {}


def test_a_new_incident_recreates_a_missing_month_row_from_its_days():
    service = make_service("API")
    opened = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
    with time_machine.travel(opened, tick=False):
        first, _ = services.open_incident(service=service, title="first", severity="sev2")
        services.resolve(incident=first, by=None)
    IncidentMonthRollup.objects.all().delete()  # as rollups written before the month rows were
    with time_machine.travel(opened + timedelta(hours=1), tick=False):
        services.open_incident(service=service, title="second", severity="sev2")
    [(count, *_lists)] = month_rows().values()
    assert count == 2 and month_rows() == days_merged()


def test_the_report_and_its_trend_charts_read_the_month_rollups_once_not_the_day_rows(client_as):
    client = client_as("manager")
    seed_days(20, [make_service("API"), make_service("DB")])
    with CaptureQueriesContext(connection) as queries:
        build_report(period=PERIOD, now=BASE)
    assert not [q for q in queries.captured_queries if '"incidents_incidentrollup"' in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("incidents:reports"), {"first": "2026-01", "last": "2026-04"})
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([q for q in sql if '"incidents_incidentmonthrollup"' in q]) == 1
    # The incidents per week by service: the day rows' (day, service, incidents) index alone.
    assert len([q for q in sql if '"incidents_incidentrollup"' in q]) == 1
