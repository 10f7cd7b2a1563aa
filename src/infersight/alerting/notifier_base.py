"""The notifier port: what the alert engine hands to a notifier, and how a notifier fails.

`NotificationView` is the read-only shape notifiers render; the engine's `Notification`
dataclass (:mod:`infersight.alerting.model`) satisfies it. Keeping the port a Protocol means
notifiers depend on the fields they show, not on the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


class NotificationView(Protocol):
    """The fields of a notification that notifiers show (read-only)."""

    @property
    def rule(self) -> str: ...  # the rule's name
    @property
    def kind(self) -> str: ...  # the rule's kind: threshold, band, anomaly, ...
    @property
    def state(self) -> str: ...  # "ALARM", "OK" or "INSUFFICIENT_DATA"
    @property
    def previous_state(self) -> str: ...
    @property
    def value(self) -> float | None: ...  # the evaluated value; None without data
    @property
    def threshold(self) -> float | None: ...  # threshold rules
    @property
    def lower(self) -> float | None: ...  # band rules: the band's lower edge
    @property
    def upper(self) -> float | None: ...  # band rules: the band's upper edge
    @property
    def baseline(self) -> float | None: ...  # learned baseline (anomaly bands)
    @property
    def window_s(self) -> float: ...
    @property
    def severity(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def status(self) -> str: ...  # "firing", "resolved" or "test"
    @property
    def summary(self) -> str: ...  # why, in one line; "" when the engine gives none
    @property
    def repeat(self) -> int: ...  # 0 for an episode's first notification, then 1, 2, ...
    @property
    def detail(self) -> Mapping[str, Any]: ...  # extra facts: SLO burn rates, baseline, ...
    @property
    def runbook(self) -> str: ...  # text or a URL; "" when the rule has none
    @property
    def runbook_url(self) -> str: ...  # link to a longer runbook; "" when none
    @property
    def dashboard_url(self) -> str: ...  # link to the dashboard view of the rule's series
    @property
    def started_at(self) -> float | None: ...  # Unix s the current state began
    @property
    def at(self) -> float: ...  # Unix s of the evaluation that produced this notification

    def to_dict(self) -> dict[str, object]: ...


@runtime_checkable
class Notifier(Protocol):
    """Sends one notification somewhere; raises (preferably NotifierError) when it fails."""

    name: str

    async def send(self, notification: NotificationView) -> None: ...


class NotifierError(Exception):
    """A delivery attempt failed; the message says where and why (never a secret)."""
