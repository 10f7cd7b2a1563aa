"""A small, pure cron matcher: the five classic fields, evaluated in UTC.

    ┌ minute        0-59
    │ ┌ hour        0-23
    │ │ ┌ day       1-31
    │ │ │ ┌ month   1-12 or jan-dec
    │ │ │ │ ┌ weekday 0-7 or sun-sat (0 and 7 are Sunday)
    * * * * *

Each field is `*`, a number, a range `a-b`, a list `a,b,c` and any of those with a step
(`*/15`, `0-30/10`, `5/20` = from 5 to the end every 20). Aliases: @hourly, @daily (@midnight),
@weekly, @monthly, @yearly (@annually). As in Vixie cron, when both day-of-month and weekday are
restricted (neither is `*`), a day matches when either matches.

`CronSchedule.parse(text)` raises CronError saying which field is wrong and why;
`matches(ts)` tells whether the minute holding Unix time `ts` is scheduled;
`next_at_or_after(ts)` is the start of the first scheduled minute that ends after `ts` (the
minute holding `ts` counts). Times are UTC: a schedule in local time needs its hours shifted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

MINUTE_S: Final = 60.0
# (name, low, high) of each field, in order.
FIELDS: Final = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
ALIASES: Final = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTH_NAMES: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_MONTHS: Final = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS: Final = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_TERM: Final = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")
# A schedule that never matches (Feb 30) is found within this many days (8 years: leap days).
_MAX_SEARCH_DAYS: Final = 366 * 8 + 2


class CronError(ValueError):
    """A cron expression that cannot be used; the message names the field and the fix."""


def _value(text: str, index: int) -> int:
    name, low, high = FIELDS[index]
    names = _MONTHS if index == 3 else _DAYS if index == 4 else {}
    if text in names:
        return names[text]
    if not text.isdigit():
        known = f" or a name ({', '.join(names)})" if names else ""
        raise CronError(f"{name} field: {text!r} is not a number{known}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name} field: {value} is out of range {low}-{high}")
    return value


def _field(text: str, index: int) -> frozenset[int]:
    name, low, high = FIELDS[index]
    out: set[int] = set()
    for part in text.split(","):
        m = _TERM.match(part)
        if m is None:
            raise CronError(
                f"{name} field: cannot read {part!r} (use *, N, A-B, lists A,B and steps */N)"
            )
        base, step_text = m.group(1), m.group(2)
        step = int(step_text) if step_text is not None else 1
        if step < 1:
            raise CronError(f"{name} field: the step in {part!r} must be at least 1")
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, stop = _value(a, index), _value(b, index)
            if start > stop:
                raise CronError(f"{name} field: the range {base!r} runs backwards")
        else:
            start = _value(base, index)
            stop = high if step_text is not None else start  # "5/20": from 5 to the end
        out.update(range(start, stop + 1, step))
    if index == 4 and 7 in out:  # 7 is Sunday too
        out.discard(7)
        out.add(0)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed five-field schedule (UTC)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        expr = " ".join(text.strip().lower().split())
        expr = ALIASES.get(expr, expr)
        if expr.startswith("@"):
            raise CronError(f"unknown alias {text.strip()!r}; known: {', '.join(ALIASES)}")
        parts = expr.split(" ")
        if len(parts) != 5 or not expr:
            raise CronError(
                f"{text.strip()!r} has {len(parts) if expr else 0} fields; a cron schedule has 5: "
                "minute hour day-of-month month day-of-week, e.g. '0 * * * *' (hourly)"
            )
        sets = [_field(p, i) for i, p in enumerate(parts)]
        return cls(
            text=text.strip(),
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=sets[4],
            day_restricted=parts[2] != "*",
            weekday_restricted=parts[4] != "*",
        )

    def _day_matches(self, d: datetime) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return dom or dow
        return dom and dow

    def matches(self, ts: float) -> bool:
        """Whether the minute holding Unix time `ts` is scheduled."""
        d = datetime.fromtimestamp(ts, UTC)
        return self._day_matches(d) and d.hour in self.hours and d.minute in self.minutes

    def next_at_or_after(self, ts: float) -> float:
        """Start (Unix seconds) of the first scheduled minute ending after `ts`.

        CronError when nothing matches within eight years (e.g. '0 0 30 2 *')."""
        d = datetime.fromtimestamp(ts, UTC).replace(second=0, microsecond=0)
        day = d.replace(hour=0, minute=0)
        for _ in range(_MAX_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= d:
                            return candidate.timestamp()
            day += timedelta(days=1)
        raise CronError(f"the schedule {self.text!r} never fires (no matching date)")


def parse_cron(text: str) -> CronSchedule:
    return CronSchedule.parse(text)


__all__ = ["ALIASES", "CronError", "CronSchedule", "parse_cron"]
