"""The alarm state machine: M of N, the four missing-data treatments, transitions over time."""

from __future__ import annotations

import pytest

from infersight.core.alarms import (
    AlarmState,
    Datapoint,
    EvaluationSpec,
    canonical_instance,
    compare,
    judge,
    last_closed_end,
    period_slots,
    step,
    threshold_datapoints,
)
from infersight.core.clock import FakeClock

OK, ALARM, NODATA = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
KEEP = None  # judge() keeps the current state


def points(pattern: str) -> list[Datapoint]:
    """'X' breaching, '0' not breaching, '-' missing; oldest first, one per minute."""
    flags = {"X": True, "0": False, "-": None}
    return [
        Datapoint(60.0 * i, None if ch == "-" else 1.0, flags[ch]) for i, ch in enumerate(pattern)
    ]


def spec(n: int, m: int | None = None, missing: str = "missing") -> EvaluationSpec:
    return EvaluationSpec(n, m, missing)  # type: ignore[arg-type]


# pattern, M of N=3, expected state under missing / ignore / breaching / not_breaching
CASES = [
    ("000", 3, OK, OK, OK, OK),
    ("XXX", 3, ALARM, ALARM, ALARM, ALARM),
    ("X0X", 3, OK, OK, OK, OK),
    ("X0X", 2, ALARM, ALARM, ALARM, ALARM),  # M of N, not consecutive
    ("---", 3, NODATA, KEEP, ALARM, OK),
    ("---", 1, NODATA, KEEP, ALARM, OK),
    ("-X-", 3, ALARM, KEEP, ALARM, OK),  # the present datapoints all breach
    ("0--", 3, OK, OK, OK, OK),  # one good datapoint makes 3 of 3 impossible
    ("X--", 2, ALARM, KEEP, ALARM, OK),
    ("X0-", 2, OK, KEEP, ALARM, OK),  # undecided: the missing one would decide
    ("00-", 2, OK, OK, OK, OK),  # 2 good of 3: 2 breaching impossible
    ("XX-", 2, ALARM, ALARM, ALARM, ALARM),
    ("X--", 1, ALARM, ALARM, ALARM, ALARM),
]


@pytest.mark.parametrize(("pattern", "m", "missing", "ignore", "breaching", "not_breaching"), CASES)
def test_missing_data_treatments(
    pattern: str,
    m: int,
    missing: AlarmState,
    ignore: AlarmState | None,
    breaching: AlarmState,
    not_breaching: AlarmState,
) -> None:
    expected = {
        "missing": missing,
        "ignore": ignore,
        "breaching": breaching,
        "not_breaching": not_breaching,
    }
    for mode, want in expected.items():
        got, reason = judge(points(pattern), spec(3, m, mode))
        assert got == want, (pattern, m, mode, reason)
        assert reason


def test_fewer_datapoints_than_periods_count_the_oldest_as_missing() -> None:
    assert judge(points("X"), spec(3, 3, "breaching"))[0] == ALARM
    assert judge(points("X"), spec(3, 3, "not_breaching"))[0] == OK
    assert judge([], spec(3, 3, "missing"))[0] == NODATA


def test_only_the_last_n_datapoints_count() -> None:
    assert judge(points("XXX000"), spec(3))[0] == OK
    assert judge(points("000XXX"), spec(3))[0] == ALARM


def test_ignore_keeps_the_state_through_a_gap() -> None:
    s = spec(3, 2, "ignore")
    state, t = step(OK, points("XX0"), 0.0, s)
    assert (state, t is not None) == (ALARM, True)
    state, t = step(state, points("---"), 60.0, s)
    assert (state, t) == (ALARM, None)
    state, t = step(state, points("0--"), 120.0, s)
    assert state == ALARM and t is None  # 1 good of 3 with M=2: still undecided
    state, t = step(state, points("00-"), 180.0, s)
    assert state == OK and t is not None and t.previous == ALARM


def test_step_over_time_with_a_fake_clock() -> None:
    """A value stream evaluated each minute: OK -> ALARM after M of N, back when it clears."""
    clock = FakeClock(start=1_700_000_040.0)
    s = spec(3, 2, "missing")
    values: dict[float, float] = {}
    series = [0.5, 0.6, 1.5, 0.7, 1.8, 1.9, 0.4, 0.3, 0.2]
    state = NODATA
    history = []
    for v in series:
        now = clock.now()
        values[last_closed_end(now, 60.0) - 60.0] = v
        end = last_closed_end(now, 60.0)
        slots = period_slots(sorted(values.items()), end, 60.0, 3)
        state, t = step(state, threshold_datapoints(slots, ">", 1.0), now, s)
        if t is not None:
            history.append((t.previous.value, t.state.value, t.at - 1_700_000_040.0))
        clock.advance(60.0)
    assert history == [
        ("INSUFFICIENT_DATA", "OK", 0.0),
        ("OK", "ALARM", 240.0),  # 1.5 and 1.8: 2 of the last 3
        ("ALARM", "OK", 420.0),  # 1.9, 0.4, 0.3 -> only 1 of 3
    ]


def test_period_slots_align_and_mark_gaps() -> None:
    slots = period_slots([(0.0, 1.0), (120.0, 3.0)], 180.0, 60.0, 3)
    assert slots == [(0.0, 1.0), (60.0, None), (120.0, 3.0)]
    assert last_closed_end(179.9, 60.0) == 120.0
    assert last_closed_end(180.0, 60.0) == 180.0


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [(">", 2.0, True), (">", 1.0, False), (">=", 1.0, True), ("<", 0.5, True), ("<=", 1.0, True)],
)
def test_compare(op: str, value: float, expected: bool) -> None:
    assert compare(value, op, 1.0) is expected


def test_bad_specs() -> None:
    with pytest.raises(ValueError, match="datapoints_to_alarm"):
        EvaluationSpec(3, 4)
    with pytest.raises(ValueError, match="evaluation_periods"):
        EvaluationSpec(0)
    with pytest.raises(ValueError, match="treat_missing_data"):
        EvaluationSpec(3, None, "zero")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="comparison"):
        compare(1.0, "==", 1.0)


def test_canonical_instance() -> None:
    assert canonical_instance({"b": "2", "a": "1"}) == "a=1,b=2"
    assert canonical_instance(()) == ""
