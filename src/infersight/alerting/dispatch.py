"""Handing one notification to its notifiers, and writing what became of it to the history.

`delivery.deliver_one` sends to one notifier with retries and per-attempt timeouts and never
raises; `dispatch` runs it for every notifier at once, each under an overall timeout and a
guard against anything else, so a notifier can never stop the alert engine or another
notifier. It records a `notified` event (who got it) and a `notify_failed` event per notifier
that did not (why), including names no notifier answers to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from infersight.alerting.delivery import (
    DeliveryFailure,
    DeliveryResult,
    RetryPolicy,
    deliver_one,
    policy_of,
)
from infersight.alerting.model import Notification, Notifier
from infersight.core.alarms import AlertEvent
from infersight.core.clock import Clock
from infersight.store.base import AlertStore

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


async def dispatch(
    n: Notification,
    targets: Sequence[str],
    *,
    notifiers: Mapping[str, Notifier],
    alerts: AlertStore,
    clock: Clock,
    sleep: Sleep,
    timeout_s: float,
    instance: str = "",
) -> list[DeliveryResult]:
    """Send `n` to the notifiers named in `targets`; record the outcome. Never raises."""
    chosen = [notifiers[name] for name in targets if name in notifiers]
    failed = [(name, "notifier not configured") for name in targets if name not in notifiers]

    async def one(notifier: Notifier) -> DeliveryResult:
        name = getattr(notifier, "name", type(notifier).__name__)
        policy = policy_of(notifier, RetryPolicy())
        try:
            return await asyncio.wait_for(
                deliver_one(notifier, n, clock=clock, sleep=sleep, policy=policy),
                timeout=timeout_s,
            )
        except Exception as exc:  # deliver_one never raises; a timeout or a bug still must not
            error = (
                f"no result within {timeout_s:g} s (alerting.delivery_timeout_s)"
                if isinstance(exc, TimeoutError)
                else repr(exc)
            )
            log.error("alerting: delivering %s to %r failed: %s", n.title, name, error)
            return DeliveryResult(name, False, 0, (DeliveryFailure(name, 0, error, clock.now()),))

    results = list(await asyncio.gather(*(one(x) for x in chosen)))
    events = delivery_events(n, instance, results, failed)
    try:
        await asyncio.to_thread(alerts.append_events, events)
    except Exception:
        log.warning("alerting: could not record delivery results", exc_info=True)
    return results


def delivery_events(
    n: Notification,
    instance: str,
    results: Sequence[DeliveryResult],
    failed: Sequence[tuple[str, str]] = (),
) -> list[AlertEvent]:
    """`notified` (when anyone got it) and one `notify_failed` per (notifier, reason)."""
    base: dict[str, Any] = {"ts": n.at, "rule": n.rule, "instance": instance, "state": n.state}
    events = []
    delivered = [r.notifier for r in results if r.delivered]
    if delivered:
        events.append(
            AlertEvent(
                **base,
                kind="notified",
                previous_state=n.previous_state,
                value=n.value,
                message=f"{n.status} sent to {', '.join(delivered)}",
                detail={"status": n.status, "repeat": n.repeat, "notifiers": delivered},
            )
        )
    failures = [(r.notifier, r.error or "failed") for r in results if not r.delivered]
    for name, error in [*failures, *failed]:
        events.append(
            AlertEvent(
                **base,
                kind="notify_failed",
                value=n.value,
                message=f"{n.status} to {name} failed: {error}",
                detail={"status": n.status, "notifier": name, "error": error},
            )
        )
    return events
