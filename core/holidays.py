"""Working days: Monday to Friday, minus the country's public holidays and the company's days off.

The public holidays come from the `holidays` library for settings.PORTAL_HOLIDAYS
(for KR that includes 설날 and 추석, computed from the lunar calendar, and the
substitute holidays 대체공휴일); company days are rows of portal.CompanyDay, added
in the admin. A WorkCalendar reads the company days once, so code that asks about
many days (a sweep, a due date walk) holds one and passes it along.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import holidays
from django.apps import apps
from django.conf import settings

WORK_DAYS = (0, 1, 2, 3, 4)  # ISO weekdays, Monday = 0


@cache
def _public(country: str) -> holidays.HolidayBase:
    # Expands year by year on lookup; the rules are fixed for a process, so one per country.
    return holidays.country_holidays(country)


@dataclass(frozen=True)
class WorkCalendar:
    country: str = ""
    company_days: dict[date, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "WorkCalendar":
        # By name: the rows belong to the site app (portal), which sits above this base layer.
        company_days = apps.get_model("portal", "CompanyDay").objects.values_list("date", "name")
        return cls(settings.PORTAL_HOLIDAYS, dict(company_days))

    def holiday(self, day: date) -> str | None:
        """The name of the holiday or company day `day` is, else None."""
        if day in self.company_days:
            return self.company_days[day]
        if self.country:
            return _public(self.country).get(day)
        return None

    def is_working_day(self, day: date, work_days=WORK_DAYS) -> bool:
        return day.weekday() in work_days and self.holiday(day) is None

    def next_working_day(self, day: date, work_days=WORK_DAYS) -> date:
        """`day` itself if it is a working day, else the first one after it."""
        if not work_days:
            raise ValueError("no working weekday")
        while not self.is_working_day(day, work_days):
            day += timedelta(days=1)
        return day
