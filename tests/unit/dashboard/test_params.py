"""Query parameters: parsing, the 400 reasons, time windows and the automatic step."""

from __future__ import annotations

import pytest

from infersight.dashboard.params import (
    MAX_POINTS,
    STEP_PARAM,
    TIME_PARAMS,
    ApiError,
    Param,
    auto_step_s,
    parse_query,
    time_window,
)

NOW = 1_767_225_600.0
PARAMS = (
    *TIME_PARAMS,
    STEP_PARAM,
    Param("n", "integer", "", default=5, minimum=1, maximum=10),
    Param("offset", "integer", "", default=0, minimum=0),
    Param("x", "number", ""),
    Param("flag", "boolean", ""),
    Param("kind", "string", "", choices=("a", "b")),
    Param("label", "label", "", repeat=True),
)


def parse(**query: str | list[str]) -> dict[str, object]:
    q = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    return parse_query(q, PARAMS)


def reason(**query: str | list[str]) -> str:
    with pytest.raises(ApiError) as info:
        window = parse(**query)
        time_window(window, NOW)
    assert info.value.status == 400
    return info.value.message


def test_defaults_types_and_repeats() -> None:
    v = parse()
    assert (v["n"], v["x"], v["flag"], v["label"]) == (5, None, None, [])
    v = parse(n="7", x="0.25", flag="false", kind="b", label=["a=1", "b = 2"], step="5m")
    assert (v["n"], v["x"], v["flag"], v["kind"], v["step"]) == (7, 0.25, False, "b", 300.0)
    assert v["label"] == [("a", "1"), ("b", "2")]
    assert parse(x="")["x"] is None  # an empty form field means "not given"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"n": "seven"}, "'n': 'seven' is not a whole number"),
        ({"n": "11"}, "above the maximum 10"),
        ({"n": "0"}, "below the minimum 1"),
        ({"offset": "9" * 23}, "'offset': 99999999999999999999999 is out of range"),
        ({"offset": "9223372036854775808"}, "is out of range"),
        ({"x": "nan"}, "not a finite number"),
        ({"flag": "yes"}, "write true or false"),
        ({"kind": "c"}, "is not one of: a, b"),
        ({"label": "a"}, "is not KEY=VALUE"),
        ({"step": "5 minutes"}, "is not a duration"),
        ({"step": "-5"}, "positive number of seconds"),
        ({"n": ["1", "2"]}, "given 2 times"),
        ({"bogus": "1"}, "unknown query parameter 'bogus'"),
        ({"start": "2026-01-01T00:00:00"}, "has no time zone"),
        ({"range": "500d"}, "at most 400 days"),
        ({"range": "30d", "step": "60"}, f"at most {MAX_POINTS}"),
    ],
)
def test_bad_values_name_the_parameter_and_the_fix(
    query: dict[str, str | list[str]], expected: str
) -> None:
    assert expected in reason(**query)


def test_time_windows() -> None:
    def window(**query: str) -> tuple[float, float, float]:
        w = time_window(parse(**query), NOW)
        return w.start, w.end, w.step_s

    assert window() == (NOW - 3600, NOW, 30.0)
    assert window(range="24h") == (NOW - 86400, NOW, 600.0)
    assert window(range="30d") == (NOW - 30 * 86400, NOW, 14400.0)
    assert window(start="2025-12-31T23:00:00Z", end="now") == (NOW - 3600, NOW, 30.0)
    assert window(start=str(NOW - 600), range="5m") == (NOW - 600, NOW - 300, 15.0)
    assert window(end=str(NOW - 60), range="1h", step="1m") == (NOW - 3660, NOW - 60, 60.0)


@pytest.mark.parametrize(
    ("range_s", "step_s"),
    [
        (900, 15),
        (3600, 30),
        (6 * 3600, 120),
        (86400, 600),
        (7 * 86400, 3600),
        (30 * 86400, 14400),
        (400 * 86400, 172800),
    ],
)
def test_auto_step_gives_at_most_200_nice_buckets(range_s: float, step_s: float) -> None:
    assert auto_step_s(range_s) == step_s
    assert range_s / step_s <= 200
