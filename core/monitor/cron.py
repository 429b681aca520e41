"""Five-field cron expressions (minute hour day-of-month month day-of-week), as a monitoring policy's schedule.

`parse_cron(text) -> CronSchedule` (raises SpecInvalid with the field at fault), `CronSchedule.matches(dt)` and
`CronSchedule.next_after(dt)`. The grammar is cron's: `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists,
three-letter month and day names; day-of-week 0 and 7 are Sunday; when both day fields are restricted, a day that
matches either runs (as in Vixie cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import SpecInvalid

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
          4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}


@dataclass(frozen=True)
class CronSchedule:
    text: str
    minutes: frozenset
    hours: frozenset
    days: frozenset
    months: frozenset
    weekdays: frozenset       # 0 = Sunday
    any_day: bool             # day of month is '*'
    any_weekday: bool         # day of week is '*'

    def _day_matches(self, dt: datetime) -> bool:
        dom, dow = dt.day in self.days, (dt.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def matches(self, dt: datetime) -> bool:
        """True when the schedule fires in the minute of `dt`."""
        return (dt.minute in self.minutes and dt.hour in self.hours and dt.month in self.months
                and self._day_matches(dt))

    def next_after(self, dt: datetime) -> datetime | None:
        """The first minute after `dt` at which the schedule fires (None if none within about four years)."""
        start = dt.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 4 + 1):
            if day.month in self.months and self._day_matches(day):
                for h in sorted(self.hours):
                    for m in sorted(self.minutes):
                        at = day.replace(hour=h, minute=m)
                        if at >= start:
                            return at
            day += timedelta(days=1)
        return None


def parse_cron(text: str) -> CronSchedule:
    """Parses a five-field cron expression. Raises: SpecInvalid naming the field at fault."""
    parts = str(text or "").split()
    if len(parts) != 5:
        raise SpecInvalid(f"{text!r} is not a cron schedule; give five fields, e.g. '0 6 * * *' (06:00 daily).")
    sets = [_field(p, i) for i, p in enumerate(parts)]
    weekdays = frozenset(0 if d == 7 else d for d in sets[4])
    return CronSchedule(" ".join(parts), sets[0], sets[1], sets[2], sets[3], weekdays,
                        any_day=parts[2] == "*", any_weekday=parts[4] == "*")


def _field(text: str, index: int) -> frozenset:
    name, low, high = _FIELDS[index]
    out: set[int] = set()
    for item in text.split(","):
        rng, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if rng == "*":
                a, b = low, high
            elif "-" in rng:
                a, b = (_value(v, index) for v in rng.split("-", 1))
            else:
                a = b = _value(rng, index)
                if step_text:
                    b = high
        except ValueError:
            raise SpecInvalid(f"The {name} field {text!r} of the schedule is not cron syntax (numbers, '*', ranges "
                              "a-b, steps */n, lists a,b).") from None
        if step < 1 or not low <= a <= b <= high:
            raise SpecInvalid(f"The {name} field {text!r} of the schedule is out of range: it takes {low}-{high}.")
        out.update(range(a, b + 1, step))
    return frozenset(out)


def _value(text: str, index: int) -> int:
    names = _NAMES.get(index)
    if names and text.lower() in names:
        return names.index(text.lower()) + (1 if index == 3 else 0)
    return int(text)
