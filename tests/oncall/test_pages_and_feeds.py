"""On-call pages (everyone with a role reads) and the calendar feeds (a secret URL, no login)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from icalendar import Calendar

from oncall.models import Override, PersonalFeed
from tests.incidents.factories import make_contact
from tests.oncall.factories import make_layer, make_override, make_schedule

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=SEOUL)  # a Wednesday of ann's week


@pytest.fixture
def rota(db, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    ann, bob, carol = (
        make_contact("ann", phone="010-1111-2222"),
        make_contact("bob"),
        make_contact("carol"),
    )
    schedule = make_schedule("primary")
    make_layer(schedule, [ann, bob])
    make_override(
        schedule,
        carol,
        datetime(2026, 3, 10, 9, tzinfo=SEOUL),
        datetime(2026, 3, 11, 9, tzinfo=SEOUL),
    )
    return {"ann": ann, "bob": bob, "carol": carol, "schedule": schedule}


def feed_url(schedule, token=None):
    return f"/oncall/{schedule.pk}/feed/{token or schedule.feed_token}.ics"


def test_the_schedule_feed_is_valid_icalendar_with_each_shift(client, rota):
    with time_machine.travel(NOW, tick=False):
        response = client.get(feed_url(rota["schedule"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    assert len({e["uid"] for e in events}) == len(events)
    starts = [(str(e["summary"]), e.decoded("dtstart").astimezone(SEOUL)) for e in events[:4]]
    assert starts[1:4] == [
        ("bob · primary", datetime(2026, 3, 9, 9, tzinfo=SEOUL)),
        ("carol · primary", datetime(2026, 3, 10, 9, tzinfo=SEOUL)),
        ("bob · primary", datetime(2026, 3, 11, 9, tzinfo=SEOUL)),
    ]
    assert events[-1].decoded("dtend") <= NOW + timedelta(days=90)


def test_a_wrong_or_another_schedules_token_is_a_404(client, rota):
    other = make_schedule("secondary")
    assert client.get(feed_url(rota["schedule"], token="x" * 43)).status_code == 404
    assert client.get(feed_url(rota["schedule"], token=other.feed_token)).status_code == 404
    assert client.get(f"/oncall/99999/feed/{rota['schedule'].feed_token}.ics").status_code == 404


def test_a_personal_feed_lists_only_that_persons_shifts(client, rota):
    feed = PersonalFeed.objects.create(contact=rota["carol"])
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/oncall/people/{rota['carol'].pk}/feed/{feed.token}.ics")
        wrong = client.get(f"/oncall/people/{rota['ann'].pk}/feed/{feed.token}.ics")
    assert wrong.status_code == 404
    events = list(Calendar.from_ical(response.content).walk("VEVENT"))
    assert [
        (e.decoded("dtstart").astimezone(SEOUL), e.decoded("dtend").astimezone(SEOUL))
        for e in events
    ] == [(datetime(2026, 3, 10, 9, tzinfo=SEOUL), datetime(2026, 3, 11, 9, tzinfo=SEOUL))]


def test_the_schedule_page_shows_four_weeks_and_the_feed_links(client_as, rota):
    client = client_as("viewer")
    rota["bob"].user = client.user
    rota["bob"].save()
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/oncall/{rota['schedule'].pk}/")
    assert response.status_code == 200
    weeks = response.context["weeks"]
    assert len(weeks) == 4 and all(len(week) == 7 for week in weeks)
    tuesday = weeks[0][6]  # 2026-03-10, carol's override
    assert [s["contact"].name for s in tuesday["stretches"]] == ["bob", "carol"]
    assert rota["schedule"].feed_token in response.content.decode()
    personal = PersonalFeed.objects.get(contact=rota["bob"])
    assert personal.token in response.content.decode()


def on_call_rows(response) -> list[dict]:
    if "panel_context" in response.context:
        return response.context["panel_context"]["rows"]
    [panel] = [p["context"] for p in response.context["panels"] if "rows" in p["context"]]
    return panel["rows"]


@pytest.mark.parametrize("url", ["/incidents/who-to-call/", "/checklists/", "/oncall/"])
def test_who_to_call_now_and_my_shift_show_the_current_and_next_person(client_as, rota, url):
    with time_machine.travel(NOW, tick=False):
        response = client_as("viewer").get(url)
    assert response.status_code == 200
    [row] = on_call_rows(response)
    assert (row["current_contact"].name, row["next_contact"].name) == ("ann", "bob")
    assert row["next"].starts_at == datetime(2026, 3, 9, 9, tzinfo=SEOUL)
    assert "010-1111-2222" in response.content.decode()


def test_logs_never_show_a_feed_token(client, rota, caplog):
    from portal.logs import mask_log_text

    token = rota["schedule"].feed_token
    line = f'"GET /oncall/{rota["schedule"].pk}/feed/{token}.ics HTTP/1.1" 200'
    assert token not in mask_log_text(line)
    assert mask_log_text(line).endswith('.ics HTTP/1.1" 200')
    client.get(feed_url(rota["schedule"], token=token[:-1] + "x"))  # a 404 is logged with its path
    assert caplog.records
    assert all(token[:-1] not in mask_log_text(r.getMessage()) for r in caplog.records)


def override_post(schedule, **fields):
    body = {
        "covers_for": "",
        "starts_at": "2026-03-05T09:00",
        "ends_at": "2026-03-06T09:00",
        "reason": "leave",
    }
    return {**body, **fields}


def test_an_operator_covers_a_day_on_the_page_and_withdraws_it(client_as, rota):
    client = client_as("operator")
    rota["carol"].user = client.user
    rota["carol"].save()
    url = f"/oncall/{rota['schedule'].pk}/overrides/"
    # Naming someone else as on call is not the operator's to do: the form has no such field.
    response = client.post(
        url, override_post(rota["schedule"], contact=rota["bob"].pk, covers_for=rota["ann"].pk)
    )
    assert response.status_code == 302
    override = Override.objects.get(created_by=client.user)
    assert (override.contact, override.covers_for, override.created_by) == (
        rota["carol"],
        rota["ann"],
        client.user,
    )
    assert override.starts_at == datetime(2026, 3, 5, 9, tzinfo=SEOUL)
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/oncall/{rota['schedule'].pk}/")
    # Both carol's: the one she just made and the fixture's of 10 March; she may withdraw either.
    assert [o.starts_at.day for o in page.context["own_overrides"]] == [5, 10]
    assert client.post(f"/oncall/overrides/{override.pk}/delete/").status_code == 302
    assert not Override.objects.filter(pk=override.pk).exists()


def test_an_override_ending_before_it_starts_is_a_form_error(client_as, rota):
    client = client_as("manager")
    response = client.post(
        f"/oncall/{rota['schedule'].pk}/overrides/",
        override_post(rota["schedule"], contact=rota["bob"].pk, ends_at="2026-03-05T08:00"),
        follow=True,
    )
    assert response.status_code == 200
    assert "An override must end after it starts." in [str(m) for m in response.context["messages"]]
    assert Override.objects.count() == 1  # the fixture's


def test_an_operator_without_a_contact_cannot_cover_and_cannot_withdraw_others(client_as, rota):
    client = client_as("operator")
    response = client.post(
        f"/oncall/{rota['schedule'].pk}/overrides/", override_post(rota["schedule"]), follow=True
    )
    assert "Your login has no contact: ask a manager to link one." in [
        str(m) for m in response.context["messages"]
    ]
    theirs = Override.objects.get()  # the fixture's override of carol
    assert client.post(f"/oncall/overrides/{theirs.pk}/delete/").status_code == 403
    assert Override.objects.filter(pk=theirs.pk).exists()
    assert (
        client_as("viewer")
        .post(f"/oncall/{rota['schedule'].pk}/overrides/", override_post(rota["schedule"]))
        .status_code
        == 403
    )


def test_the_feed_answers_by_its_token_even_in_a_browser_logged_in_without_a_role(
    client, make_user, rota
):
    client.force_login(make_user(None))
    assert client.get(feed_url(rota["schedule"])).status_code == 200
    assert client.get(feed_url(rota["schedule"], token="x" * 43)).status_code == 404
