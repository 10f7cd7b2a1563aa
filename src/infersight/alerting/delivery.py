"""Delivering one notification to every notifier: concurrently, with a timeout per attempt,
retries with exponential backoff, and every failure recorded. `deliver` never raises.

The backoff waits go through an injected `sleep`, so tests do not wait for them; a notifier
that hangs is cut off after its `timeout_s` and cannot hold up the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infersight.alerting.notifier_base import NotificationView, Notifier
from infersight.core.clock import Clock

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one notifier. The wait before retry k (k = 1, 2, ...) is
    backoff_s * 2**(k-1), capped at max_backoff_s."""

    max_attempts: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 10.0
    max_backoff_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_s < 0 or self.timeout_s <= 0 or self.max_backoff_s < 0:
            raise ValueError(
                "backoff_s and max_backoff_s must be >= 0 and timeout_s > 0, got "
                f"{self.backoff_s}, {self.max_backoff_s}, {self.timeout_s}"
            )

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2 = the first retry); 0 before the first."""
        if attempt <= 1:
            return 0.0
        return float(min(self.backoff_s * 2.0 ** (attempt - 2), self.max_backoff_s))


@dataclass(frozen=True)
class DeliveryFailure:
    """One failed attempt."""

    notifier: str
    attempt: int  # 1-based
    error: str  # what went wrong, e.g. "webhook 'ops': http://h:1/x answered HTTP 500: ..."
    at: float  # Unix s the attempt ended (clock.now())

    def to_dict(self) -> dict[str, Any]:
        return {
            "notifier": self.notifier,
            "attempt": self.attempt,
            "error": self.error,
            "at": self.at,
        }


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one notification at one notifier."""

    notifier: str
    delivered: bool
    attempts: int  # attempts made, successful one included
    failures: tuple[DeliveryFailure, ...] = field(default=())
    duration_s: float = 0.0  # first attempt start to the end, backoff waits included

    @property
    def error(self) -> str | None:
        """The last failure's reason when not delivered, else None."""
        return None if self.delivered or not self.failures else self.failures[-1].error

    def to_dict(self) -> dict[str, Any]:
        return {
            "notifier": self.notifier,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "duration_s": self.duration_s,
            "error": self.error,
            "failures": [f.to_dict() for f in self.failures],
        }


def policy_of(notifier: Notifier, default: RetryPolicy) -> RetryPolicy:
    """A notifier's own `retry` policy (the notifiers built from settings have one), else
    `default`."""
    own = getattr(notifier, "retry", None)
    return own if isinstance(own, RetryPolicy) else default


def _reason(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s (timeout_s)"
    text = str(exc).strip()
    return text if text else type(exc).__name__


async def deliver_one(
    notifier: Notifier,
    notification: NotificationView,
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    policy: RetryPolicy | None = None,
) -> DeliveryResult:
    """Send to one notifier, retrying as its policy says; never raises (but lets a
    cancellation through)."""
    policy = policy or policy_of(notifier, RetryPolicy())
    name = getattr(notifier, "name", type(notifier).__name__)
    start = clock.monotonic()
    failures: list[DeliveryFailure] = []
    for attempt in range(1, policy.max_attempts + 1):
        delay = policy.delay_before(attempt)
        if delay > 0:
            await sleep(delay)
        try:
            await asyncio.wait_for(notifier.send(notification), timeout=policy.timeout_s)
        except Exception as exc:
            reason = _reason(exc, policy.timeout_s)
            failures.append(DeliveryFailure(name, attempt, reason, clock.now()))
            last = attempt == policy.max_attempts
            log.log(
                logging.ERROR if last else logging.WARNING,
                "notifier %r: attempt %d/%d for rule %r failed: %s%s",
                name,
                attempt,
                policy.max_attempts,
                notification.rule,
                reason,
                "; giving up" if last else f"; retrying in {policy.delay_before(attempt + 1):g} s",
            )
            continue
        return DeliveryResult(name, True, attempt, tuple(failures), clock.monotonic() - start)
    return DeliveryResult(
        name, False, policy.max_attempts, tuple(failures), clock.monotonic() - start
    )


async def deliver(
    notifiers: Iterable[Notifier] | Mapping[str, Notifier],
    notification: NotificationView,
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    default_policy: RetryPolicy | None = None,
) -> list[DeliveryResult]:
    """Send `notification` to every notifier at once; one DeliveryResult per notifier, in the
    order given. Never raises: a failing or hanging notifier is recorded in its result and
    holds up no other."""
    chosen = list(notifiers.values() if isinstance(notifiers, Mapping) else notifiers)
    default = default_policy or RetryPolicy()
    results = await asyncio.gather(
        *(
            deliver_one(n, notification, clock=clock, sleep=sleep, policy=policy_of(n, default))
            for n in chosen
        ),
        return_exceptions=True,
    )
    out: list[DeliveryResult] = []
    for n, result in zip(chosen, results, strict=True):
        if isinstance(result, DeliveryResult):
            out.append(result)
        elif isinstance(result, asyncio.CancelledError):
            raise result
        else:  # a bug in deliver_one itself; still no exception for the engine
            name = getattr(n, "name", type(n).__name__)
            log.error("notifier %r: delivery crashed: %r", name, result)
            failure = DeliveryFailure(name, 1, f"delivery crashed: {result!r}", clock.now())
            out.append(DeliveryResult(name, False, 1, (failure,)))
    return out
