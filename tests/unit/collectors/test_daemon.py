"""CollectorDaemon: state, collector_up, backoff and "unavailable", driven by a FakeClock.

Ticks are called directly with the fake clock's time; nothing sleeps to wait for a loop (the
timeout test waits 50 ms of real time for the timeout itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from infersight.collectors.base import (
    CollectorDaemon,
    CollectorError,
    CollectorUnavailable,
    backoff_delay_s,
)
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample


class ListSink:
    def __init__(self) -> None:
        self.samples: list[MetricSample] = []

    def submit_many(self, samples: Sequence[MetricSample]) -> None:
        self.samples.extend(samples)

    def named(self, name: str) -> list[MetricSample]:
        return [s for s in self.samples if s.name == name]


class Scripted:
    """Returns or raises the next scripted outcome on each collect; the last one repeats."""

    def __init__(self, *outcomes: list[MetricSample] | BaseException, name: str = "fake") -> None:
        self.name = name
        self.outcomes = list(outcomes)
        self.calls = 0
        self.closed = False
        self.notes: list[str] = []

    async def collect(self, now: float) -> list[MetricSample]:
        self.calls += 1
        outcome = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return [MetricSample(s.name, now, s.value, s.labels) for s in outcome]

    async def aclose(self) -> None:
        self.closed = True


OK = [MetricSample.make("thing_ratio", 0.0, 0.5, a="b")]


def daemon(collector: Scripted, sink: ListSink, clock: FakeClock, **kw: float) -> CollectorDaemon:
    args: dict[str, float] = {"interval_s": 5.0, "timeout_s": 1.0, **kw}
    return CollectorDaemon(collector, sink, clock=clock, **args)  # type: ignore[arg-type]


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_success_hands_samples_and_up_to_the_sink() -> None:
    clock, sink, c = FakeClock(), ListSink(), Scripted(OK)
    d = daemon(c, sink, clock)
    assert d.name == "collector:fake" and d.state.status == "starting"
    run(d.tick(clock.now()))
    assert [s.name for s in sink.samples] == [
        "thing_ratio",
        "collector_up",
        "collector_duration_seconds",
    ]
    up = sink.named("collector_up")[0]
    assert up.value == 1.0 and up.labels == (("collector", "fake"),) and up.ts == clock.now()
    st = d.state
    assert st.up and st.last_success_at == clock.now() and st.consecutive_failures == 0
    assert st.samples_last == 1 and st.last_error is None


def test_backoff_skips_attempts_but_ticks_keep_reporting_down() -> None:
    clock, sink = FakeClock(), ListSink()
    c = Scripted(*([CollectorError("engine down: connection refused")] * 4), OK)
    d = daemon(c, sink, clock)
    t0 = clock.now()
    attempts_at: list[float] = []
    for _ in range(16):  # 16 ticks, 5 s apart
        before = c.calls
        run(d.tick(clock.now()))
        if c.calls > before:
            attempts_at.append(clock.now() - t0)
        clock.advance(5.0)
    # failures 1..4 wait 5, 10, 20, 40 s; the fifth attempt succeeds.
    assert attempts_at == [0.0, 5.0, 15.0, 35.0, 75.0]
    ups = [s.value for s in sink.named("collector_up")]
    assert ups == [0.0] * 15 + [1.0]  # a 0 on every tick while down, attempted or skipped
    st = d.state
    assert st.up and st.consecutive_failures == 0 and st.last_error is not None


def test_state_while_down_names_the_reason() -> None:
    clock, sink = FakeClock(), ListSink()
    d = daemon(Scripted(CollectorError("http://x/metrics answered HTTP 404")), sink, clock)
    run(d.tick(clock.now()))
    run(d.tick(clock.now() + 5.0))
    st = d.state
    assert st.status == "down" and not st.up
    assert st.last_error == "http://x/metrics answered HTTP 404"
    assert st.consecutive_failures == 2 and st.last_error_at == clock.now() + 5.0
    assert st.next_attempt_at == clock.now() + 5.0 + 10.0
    assert st.last_success_at is None


def test_backoff_is_capped() -> None:
    assert [backoff_delay_s(n, 5.0, 60.0) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert backoff_delay_s(1000, 5.0, 60.0) == 60.0


def test_timeout_is_a_failure_with_a_reason() -> None:
    class Hangs:
        name = "slow"

        async def collect(self, now: float) -> list[MetricSample]:
            await asyncio.Event().wait()
            return []

    clock, sink = FakeClock(), ListSink()
    d = CollectorDaemon(Hangs(), sink, clock=clock, interval_s=5.0, timeout_s=0.05)
    run(d.tick(clock.now()))
    st = d.state
    assert st.status == "down" and st.last_error is not None
    assert "timeout_s=0.05" in st.last_error
    assert [s.value for s in sink.named("collector_up")] == [0.0]


def test_unexpected_exception_never_escapes() -> None:
    clock, sink = FakeClock(), ListSink()
    d = daemon(Scripted(RuntimeError("boom")), sink, clock)
    run(d.tick(clock.now()))
    assert d.state.status == "down" and d.state.last_error == "unexpected RuntimeError: boom"


def test_unavailable_is_reported_once_and_retried_rarely(caplog: pytest.LogCaptureFixture) -> None:
    clock, sink = FakeClock(), ListSink()
    c = Scripted(CollectorUnavailable("NVML could not start (no driver)"), name="nvml")
    d = daemon(c, sink, clock, unavailable_retry_s=300.0)
    with caplog.at_level(logging.WARNING):
        for _ in range(121):  # ten minutes of 5 s ticks
            run(d.tick(clock.now()))
            clock.advance(5.0)
    assert c.calls == 3  # t=0, 300, 600
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "no driver" in warnings[0].getMessage()
    assert sink.samples == []  # no collector_up series for a GPU the host does not have
    st = d.state
    assert st.status == "unavailable" and st.last_error == "NVML could not start (no driver)"


def test_sink_failure_is_contained() -> None:
    class Broken:
        def submit_many(self, samples: Sequence[MetricSample]) -> None:
            raise RuntimeError("store gone")

    clock = FakeClock()
    d = CollectorDaemon(Scripted(OK), Broken(), clock=clock, interval_s=5.0, timeout_s=1.0)
    run(d.tick(clock.now()))
    assert d.state.up


def test_notes_and_close() -> None:
    clock, sink, c = FakeClock(), ListSink(), Scripted(OK)
    c.notes.append("GPU 0 is in MIG mode")
    d = daemon(c, sink, clock)
    assert d.state.notes == ("GPU 0 is in MIG mode",)
    run(d.on_stop())
    assert c.closed


def test_bad_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        daemon(Scripted(OK), ListSink(), FakeClock(), timeout_s=0.0)
