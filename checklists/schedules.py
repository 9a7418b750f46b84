"""Cron schedules of checklist templates, in the portal's time zone.

croniter does the cron arithmetic. We hand it aware local datetimes (zoneinfo)
so "09:00" stays 09:00 local time across DST changes, and convert back to UTC.
Presets and the runbooks' schedule phrases ("매주 월요일 오전 10:00",
"Weekly (Monday)") both come down to one cron string.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter
from django.utils import timezone
from django.utils.translation import gettext as _

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # cron: mon=1 … sun=0/7
QUARTER_FIRST_MONTHS = "1,4,7,10"
QUARTER_LAST_MONTHS = "3,6,9,12"


class ScheduleError(ValueError):
    pass


def validate(cron: str) -> str:
    cron = " ".join((cron or "").split())
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ScheduleError(
            _("“%(cron)s” is not a cron expression (five fields, e.g. 0 9 * * * for 09:00 daily).")
            % {"cron": cron}
        )
    return cron


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment)


def next_after(cron: str, moment: datetime) -> datetime:
    return croniter(cron, _local(moment)).get_next(datetime)


def latest_at_or_before(cron: str, moment: datetime) -> datetime:
    """The newest occurrence ≤ moment. croniter's get_prev is strict, so start a second later."""
    base = _local(moment).replace(microsecond=0) + timedelta(seconds=1)
    return croniter(cron, base).get_prev(datetime)


def occurrences_between(cron: str, after: datetime, until: datetime, limit: int) -> list[datetime]:
    """Occurrences in (after, until], oldest first; at most the `limit` newest."""
    found = []
    it = croniter(cron, _local(until).replace(microsecond=0) + timedelta(seconds=1))
    while len(found) < limit:
        moment = it.get_prev(datetime)
        if moment <= after:
            break
        found.append(moment)
    return list(reversed(found))


# Presets ------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """daily | weekly | monthly | monthly_last | quarterly | quarterly_last | yearly."""

    frequency: str
    hour: int = 9
    minute: int = 0
    weekday: int = 0  # 0 = Monday
    day: int = 1
    month: int = 1

    def cron(self) -> str:
        m, h = self.minute, self.hour
        dow = (self.weekday + 1) % 7
        return {
            "daily": f"{m} {h} * * *",
            "weekly": f"{m} {h} * * {dow}",
            "monthly": f"{m} {h} {self.day} * *",
            "monthly_last": f"{m} {h} * * L{dow}",
            "quarterly": f"{m} {h} * {QUARTER_FIRST_MONTHS} {dow}#1",
            "quarterly_last": f"{m} {h} * {QUARTER_LAST_MONTHS} L{dow}",
            "yearly": f"{m} {h} 1 {self.month} *",
        }[self.frequency]


PRESET_FREQUENCIES = (
    "daily",
    "weekly",
    "monthly",
    "monthly_last",
    "quarterly",
    "quarterly_last",
    "yearly",
)


# Reading a cron back: the period of a run and a human description ----------


def frequency(cron: str) -> str:
    _minute, hour, dom, month, dow = cron.split()
    if month != "*":
        return "quarterly" if len(month.split(",")) == 4 or "/3" in month else "yearly"
    if dow != "*":
        return "monthly" if ("L" in dow or "#" in dow) else "weekly"
    if dom != "*":
        return "monthly"
    if hour == "*" or "," in hour or "/" in hour or "-" in hour:
        return "intraday"
    return "daily"


def period_label(cron: str, occurrence: datetime) -> str:
    """The period a run covers, in local time: 2026-03-03, 2026-W10, 2026-03, 2026-Q1, 2026."""
    local = _local(occurrence)
    kind = frequency(cron)
    if kind == "weekly":
        year, week, _day = local.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "monthly":
        return f"{local:%Y-%m}"
    if kind == "quarterly":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    if kind == "yearly":
        return f"{local.year}"
    if kind == "intraday":
        return f"{local:%Y-%m-%d %H:%M}"
    return f"{local:%Y-%m-%d}"


def describe(cron: str) -> str:
    try:
        kind = frequency(cron)
    except ValueError:
        return cron
    labels = {
        "daily": _("daily"),
        "weekly": _("weekly"),
        "monthly": _("monthly"),
        "quarterly": _("quarterly"),
        "yearly": _("yearly"),
        "intraday": _("several times a day"),
    }
    return f"{labels[kind]} ({cron})"


# Schedule phrases in runbook headings -----------------------------------------

_KO_DAYS = {"월": 0, "화": 1, "수": 2, "목": 3, "금": 4, "토": 5, "일": 6}
_EN_DAYS = {name: i for i, name in enumerate(WEEKDAYS)}

_FREQ_WORDS = [
    ("quarterly", r"분기|quarterly|every quarter"),
    ("yearly", r"연\s*1\s*회|매년|년\s*1\s*회|yearly|annually|every year|once a year"),
    ("monthly", r"매월|매달|월간|monthly|every month"),
    ("weekly", r"매주|주간|weekly|every week"),
    ("daily", r"매일|일일|daily|every day"),
]
_KO_WEEKDAY = re.compile(r"([월화수목금토일])요일")
_EN_WEEKDAY = re.compile(
    r"\b(mon|tue|wed|thu|fri|sat|sun)(?:day|s|sday|nesday|r|rs|rsday|urday)?\b", re.I
)
# Something that looks like a weekday but is not one ("Funday", "화성일"): refuse it.
_BAD_EN_WEEKDAY = re.compile(r"\b([a-z]+day)\b", re.I)
_BAD_KO_WEEKDAY = re.compile(r"(\S+)요일")
_CLOCK = re.compile(
    r"(오전|오후|저녁|아침|밤|새벽)?\s*(\d{1,2})\s*(?::\s*(\d{2})|시(?:\s*(\d{1,2})\s*분)?)"
    r"(?:\s*(am|pm|a\.m\.|p\.m\.))?",
    re.I,
)
_EN_HOUR = re.compile(r"\b(\d{1,2})\s*(am|pm)\b", re.I)
_DAY_OF_MONTH = re.compile(
    r"(?<![\d:])(\d{1,2})\s*일(?!\s*[회간])|\bday\s+(\d{1,2})\b|\b(\d{1,2})(?:st|nd|rd|th)\b", re.I
)
_MONTH = re.compile(
    r"(\d{1,2})\s*월(?!요일)|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I
)
_EN_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_LAST = re.compile(r"마지막|\blast\b", re.I)
_FIRST_WEEK = re.compile(r"첫\s*(?:째\s*)?주|first week", re.I)
_LAST_WEEK = re.compile(r"마지막\s*주|last week", re.I)
_EVENING = re.compile(r"저녁|evening", re.I)
_MORNING = re.compile(r"아침|morning", re.I)


@dataclass(frozen=True)
class Phrase:
    cron: str
    frequency: str
    text: str


def find_frequency(text: str) -> str | None:
    for name, pattern in _FREQ_WORDS:
        if re.search(pattern, text, re.I):
            return name
    return None


def _weekday(text: str) -> int | None:
    match = _KO_WEEKDAY.search(text)
    if match:
        return _KO_DAYS[match.group(1)]
    match = _EN_WEEKDAY.search(text)
    if match:
        return _EN_DAYS[match.group(1).lower()[:3]]
    return None


def _refuse_bad_weekday(text: str) -> None:
    # Only asked when the heading names a schedule: "Holiday plan" alone is no schedule.
    bad = _BAD_KO_WEEKDAY.search(text) or _BAD_EN_WEEKDAY.search(text)
    if bad and bad.group(1).lower() not in ("today", "everyday"):
        raise ScheduleError(_("“%(word)s” is not a weekday.") % {"word": bad.group(0)})


def _clock(text: str) -> tuple[int, int] | None:
    match = _CLOCK.search(text)
    if match:
        period, hour, minute = (
            match.group(1),
            int(match.group(2)),
            int(match.group(3) or match.group(4) or 0),
        )
        suffix = (match.group(5) or "").lower().replace(".", "")
    else:
        match = _EN_HOUR.search(text)
        if not match:
            return None
        period, hour, minute, suffix = None, int(match.group(1)), 0, match.group(2).lower()
    afternoon = period in ("오후", "저녁", "밤") or suffix == "pm"
    if (period or suffix) and not 0 <= hour <= 12:
        raise ScheduleError(
            _("“%(time)s” is not a time of day.") % {"time": match.group(0).strip()}
        )
    if afternoon and hour < 12:
        hour += 12
    elif (period in ("오전", "아침", "새벽") or suffix == "am") and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ScheduleError(
            _("“%(time)s” is not a time of day.") % {"time": match.group(0).strip()}
        )
    return hour, minute


def parse_phrase(text: str, inherited: str | None = None) -> Phrase | None:
    """The cron of a heading like "매일 오전 09:00" or "Weekly (Monday)"; None when it names no
    schedule.

    `inherited` is the frequency of an enclosing heading ("### 매주" over "#### 월요일 09:00").
    Raises ScheduleError when the heading names a schedule that makes no sense.
    """
    own = find_frequency(text)
    weekday = _weekday(text)
    last = bool(_LAST.search(text))
    if own is None and last and weekday is not None:
        own = "monthly"  # "마지막 금요일" / "last Friday" on its own
    freq = own or inherited
    if freq is None:
        return None
    if weekday is None and own is not None:
        _refuse_bad_weekday(text)
    clock = _clock(text)
    if (
        own is None
        and clock is None
        and weekday is None
        and not _DAY_OF_MONTH.search(text)
        and not _FIRST_WEEK.search(text)
        and not _LAST_WEEK.search(text)
    ):
        return None  # a heading under "매주" that names no time of its own
    if clock is None:
        clock = (18, 0) if _EVENING.search(text) else (9, 0)
    hour, minute = clock
    if freq == "daily":
        preset = Preset("daily", hour, minute)
    elif freq == "weekly":
        preset = Preset("weekly", hour, minute, weekday=0 if weekday is None else weekday)
    elif freq == "monthly":
        if last or weekday is not None:
            preset = Preset("monthly_last", hour, minute, weekday=4 if weekday is None else weekday)
        else:
            preset = Preset("monthly", hour, minute, day=_day_of_month(text))
    elif freq == "quarterly":
        kind = "quarterly_last" if _LAST_WEEK.search(text) or last else "quarterly"
        preset = Preset(kind, hour, minute, weekday=0 if weekday is None else weekday)
    else:
        preset = Preset("yearly", hour, minute, month=_month(text))
    cron = preset.cron()
    validate(cron)
    return Phrase(cron=cron, frequency=freq, text=text)


def _day_of_month(text: str) -> int:
    match = _DAY_OF_MONTH.search(text)
    if not match:
        return 1
    day = int(next(g for g in match.groups() if g))
    if not 1 <= day <= 31:
        raise ScheduleError(_("“%(day)s” is not a day of the month.") % {"day": match.group(0)})
    return day


def _month(text: str) -> int:
    match = _MONTH.search(text)
    if not match:
        return 1
    if match.group(1):
        month = int(match.group(1))
        if not 1 <= month <= 12:
            raise ScheduleError(_("“%(month)s” is not a month.") % {"month": match.group(0)})
        return month
    return _EN_MONTHS.index(match.group(2).lower()[:3]) + 1
