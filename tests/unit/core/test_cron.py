"""The pure cron matcher: fields, steps, names, aliases, day/weekday OR, next runs, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infersight.core.cron import CronError, CronSchedule


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")


def test_fields_lists_ranges_steps() -> None:
    s = CronSchedule.parse("*/15 9-17 * * mon-fri")
    assert s.minutes == frozenset({0, 15, 30, 45})
    assert s.hours == frozenset(range(9, 18))
    assert s.weekdays == frozenset({1, 2, 3, 4, 5})
    assert CronSchedule.parse("5/20 0 * * *").minutes == frozenset({5, 25, 45})
    assert CronSchedule.parse("0-30/10,59 * * * *").minutes == frozenset({0, 10, 20, 30, 59})
    assert CronSchedule.parse("0 0 * jan,dec 7").weekdays == frozenset({0})  # 7 is Sunday
    assert CronSchedule.parse("0 0 * feb-mar *").months == frozenset({2, 3})


def test_matches_the_minute_holding_the_time() -> None:
    s = CronSchedule.parse("30 12 * * *")
    assert s.matches(ts("2024-05-01T12:30:00"))
    assert s.matches(ts("2024-05-01T12:30:59"))
    assert not s.matches(ts("2024-05-01T12:31:00"))
    # 2024-05-06 is a Monday
    weekdays = CronSchedule.parse("0 8 * * 1-5")
    assert weekdays.matches(ts("2024-05-06T08:00:00"))
    assert not weekdays.matches(ts("2024-05-05T08:00:00"))  # Sunday


def test_day_of_month_or_weekday_when_both_are_restricted() -> None:
    s = CronSchedule.parse("0 0 1 * mon")  # the 1st, or any Monday
    assert s.matches(ts("2024-05-01T00:00:00"))  # Wednesday the 1st
    assert s.matches(ts("2024-05-06T00:00:00"))  # Monday the 6th
    assert not s.matches(ts("2024-05-07T00:00:00"))
    only_dom = CronSchedule.parse("0 0 1 * *")
    assert not only_dom.matches(ts("2024-05-06T00:00:00"))


def test_aliases() -> None:
    assert CronSchedule.parse("@hourly").minutes == frozenset({0})
    assert CronSchedule.parse("@daily").hours == frozenset({0})
    assert CronSchedule.parse(" @Weekly ").weekdays == frozenset({0})


def test_next_at_or_after_counts_the_current_minute_and_rolls_over() -> None:
    hourly = CronSchedule.parse("0 * * * *")
    assert iso(hourly.next_at_or_after(ts("2024-05-01T10:00:00"))) == "2024-05-01 10:00"
    assert iso(hourly.next_at_or_after(ts("2024-05-01T10:00:30"))) == "2024-05-01 10:00"
    assert iso(hourly.next_at_or_after(ts("2024-05-01T10:01:00"))) == "2024-05-01 11:00"
    assert iso(hourly.next_at_or_after(ts("2024-12-31T23:59:00"))) == "2025-01-01 00:00"
    leap = CronSchedule.parse("0 0 29 2 *")
    assert iso(leap.next_at_or_after(ts("2025-03-01T00:00:00"))) == "2028-02-29 00:00"
    with pytest.raises(CronError, match="never fires"):
        CronSchedule.parse("0 0 30 2 *").next_at_or_after(ts("2024-01-01T00:00:00"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("* * * *", "has 4 fields; a cron schedule has 5"),
        ("", "has 0 fields"),
        ("60 * * * *", "minute field: 60 is out of range 0-59"),
        ("* 24 * * *", "hour field: 24 is out of range 0-23"),
        ("* * 0 * *", "day of month field: 0 is out of range 1-31"),
        ("* * * foo *", "month field: 'foo' is not a number or a name"),
        ("* * * * 8", "day of week field: 8 is out of range 0-7"),
        ("*/0 * * * *", "minute field: the step in '\\*/0' must be at least 1"),
        ("30-10 * * * *", "minute field: the range '30-10' runs backwards"),
        ("1,,2 * * * *", "minute field: cannot read ''"),
        ("@sometimes", "unknown alias '@sometimes'"),
    ],
)
def test_errors_name_the_field(text: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        CronSchedule.parse(text)
