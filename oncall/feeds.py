"""Calendar feeds (RFC 5545, through the icalendar library): a schedule's shifts and one person's
own."""

from datetime import datetime, timedelta

from django.urls import reverse
from icalendar import Calendar, Event

from oncall.models import PersonalFeed, Schedule

FEED_DAYS_BACK = 7
FEED_DAYS_AHEAD = 90


def schedule_feed_path(schedule: Schedule) -> str:
    return reverse("oncall:feed", args=[schedule.pk, schedule.feed_token])


def personal_feed_path(contact) -> str:
    feed, _created = PersonalFeed.objects.get_or_create(contact=contact)
    return reverse("oncall:personal-feed", args=[contact.pk, feed.token])


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//Ops Portal//On call//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    return calendar


def _event(
    calendar: Calendar, *, uid: str, summary: str, start: datetime, end: datetime, now: datetime
) -> None:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", end)
    calendar.add_component(event)


def _window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=FEED_DAYS_BACK), now + timedelta(days=FEED_DAYS_AHEAD)


def _names(ids) -> dict[int, str]:
    from incidents.models import Contact

    return dict(Contact.objects.filter(pk__in=ids).values_list("pk", "name"))


def schedule_calendar(schedule: Schedule, *, now: datetime) -> bytes:
    start, end = _window(now)
    shifts = [s for s in schedule.shifts(start, end) if s.contact is not None]
    names = _names({s.contact for s in shifts})
    calendar = _calendar(schedule.name)
    for shift in shifts:
        _event(
            calendar,
            uid=f"oncall-{schedule.pk}-{shift.contact}-{int(shift.starts_at.timestamp())}",
            summary=f"{names.get(shift.contact, '?')} · {schedule.name}",
            start=shift.starts_at,
            end=shift.ends_at,
            now=now,
        )
    return calendar.to_ical()


def personal_calendar(contact, *, now: datetime) -> bytes:
    from oncall.services import schedules_with_rotations

    start, end = _window(now)
    calendar = _calendar(contact.name)
    for schedule in schedules_with_rotations(Schedule.objects.order_by("name")):
        for shift in schedule.shifts(start, end):
            if shift.contact == contact.pk:
                _event(
                    calendar,
                    uid=f"oncall-{schedule.pk}-{contact.pk}-{int(shift.starts_at.timestamp())}",
                    summary=f"On call · {schedule.name}",
                    start=shift.starts_at,
                    end=shift.ends_at,
                    now=now,
                )
    return calendar.to_ical()
