"""deliver(): concurrent sends, retries with exponential backoff through an injected sleep,
per-attempt timeouts, every failure recorded, never an exception.

The notifiers here are small in-process implementations of the Notifier protocol (the real
ones against real servers are in tests/integration/test_notifiers_live.py)."""

from __future__ import annotations

import asyncio

import pytest
from tests_support.notifications import firing_note

from infersight.alerting.delivery import (
    DeliveryResult,
    RetryPolicy,
    deliver,
    deliver_one,
    policy_of,
)
from infersight.alerting.notifier_base import NotificationView, Notifier, NotifierError
from infersight.core.clock import FakeClock


class Flaky:
    """Fails its first `failures` sends, then succeeds."""

    def __init__(self, name: str, failures: int, retry: RetryPolicy | None = None) -> None:
        self.name = name
        self.failures = failures
        self.calls = 0
        self.sent: list[NotificationView] = []
        if retry is not None:
            self.retry = retry

    async def send(self, notification: NotificationView) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise NotifierError(f"{self.name}: answered HTTP 500 (call {self.calls})")
        self.sent.append(notification)


class Hangs:
    """Never answers until released."""

    def __init__(self, name: str, retry: RetryPolicy) -> None:
        self.name = name
        self.retry = retry
        self.release = asyncio.Event()
        self.calls = 0

    async def send(self, notification: NotificationView) -> None:
        self.calls += 1
        await self.release.wait()


class Sleeps:
    """The injected sleep: records each wait and advances the fake clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


def run_deliver(notifiers: list[Notifier], clock: FakeClock, sleep: Sleeps) -> list[DeliveryResult]:
    return asyncio.run(deliver(notifiers, firing_note(), clock=clock, sleep=sleep))


def test_policy_delays_double_and_cap() -> None:
    p = RetryPolicy(max_attempts=6, backoff_s=1.5, max_backoff_s=5.0)
    assert [p.delay_before(k) for k in range(1, 7)] == [0.0, 1.5, 3.0, 5.0, 5.0, 5.0]
    with pytest.raises(ValueError, match="max_attempts must be >= 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="timeout_s > 0"):
        RetryPolicy(timeout_s=0)


def test_delivered_on_the_third_attempt_after_backoff() -> None:
    clock = FakeClock()
    sleep = Sleeps(clock)
    flaky = Flaky("hook", failures=2, retry=RetryPolicy(max_attempts=3, backoff_s=2.0))
    [result] = run_deliver([flaky], clock, sleep)
    assert result.delivered and result.attempts == 3 and result.error is None
    assert sleep.waits == [2.0, 4.0]
    assert [(f.notifier, f.attempt) for f in result.failures] == [("hook", 1), ("hook", 2)]
    assert "answered HTTP 500 (call 1)" in result.failures[0].error
    assert [f.at - clock.now() for f in result.failures] == [-6.0, -4.0]  # before each wait
    assert result.duration_s == 6.0  # the fake clock moved only by the backoff waits
    assert result.to_dict()["failures"][0]["attempt"] == 1


def test_gives_up_after_max_attempts_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    sleep = Sleeps(clock)
    broken = Flaky("hook", failures=99, retry=RetryPolicy(max_attempts=4, backoff_s=1.0))
    fine = Flaky("other", failures=0)
    with caplog.at_level("WARNING", logger="infersight.alerting.delivery"):
        results = run_deliver([broken, fine], clock, sleep)
    assert [r.notifier for r in results] == ["hook", "other"]
    bad, good = results
    assert not bad.delivered and bad.attempts == 4 and len(bad.failures) == 4
    assert bad.error == "hook: answered HTTP 500 (call 4)"
    assert good.delivered and good.attempts == 1 and len(fine.sent) == 1
    assert sleep.waits == [1.0, 2.0, 4.0]
    messages = [r.getMessage() for r in caplog.records]
    assert any("attempt 1/4" in m and "retrying in 1 s" in m for m in messages)
    assert any("attempt 4/4" in m and "giving up" in m for m in messages)
    assert caplog.records[-1].levelname == "ERROR"


def test_a_hanging_notifier_times_out_without_holding_up_others() -> None:
    clock = FakeClock()
    sleep = Sleeps(clock)
    hang = Hangs("slow", RetryPolicy(max_attempts=2, backoff_s=0.0, timeout_s=0.05))
    fine = Flaky("fast", failures=0)

    async def go() -> list[DeliveryResult]:
        return await deliver({"slow": hang, "fast": fine}, firing_note(), clock=clock, sleep=sleep)

    slow, fast = asyncio.run(go())
    assert fast.delivered
    assert not slow.delivered and hang.calls == 2
    assert slow.error == "no answer within 0.05 s (timeout_s)"


def test_unexpected_exceptions_are_recorded_too() -> None:
    class Crashes:
        name = "crash"
        retry = RetryPolicy(max_attempts=1)

        async def send(self, notification: NotificationView) -> None:
            raise RuntimeError()

    [result] = run_deliver([Crashes()], FakeClock(), Sleeps(FakeClock()))
    assert not result.delivered and result.error == "RuntimeError"


def test_default_policy_applies_to_notifiers_without_one() -> None:
    flaky = Flaky("plain", failures=1)
    assert policy_of(flaky, RetryPolicy(max_attempts=7)).max_attempts == 7
    clock = FakeClock()
    sleep = Sleeps(clock)
    result = asyncio.run(
        deliver_one(
            flaky, firing_note(), clock=clock, sleep=sleep, policy=RetryPolicy(backoff_s=0.5)
        )
    )
    assert result.delivered and result.attempts == 2 and sleep.waits == [0.5]


def test_nothing_to_deliver_to() -> None:
    assert run_deliver([], FakeClock(), Sleeps(FakeClock())) == []
