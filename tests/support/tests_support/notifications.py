"""Notifications to send through notifiers, formatters and delivery in tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from infersight.alerting.model import Notification


def firing_note(**changes: Any) -> Notification:
    """A firing threshold notification (p95-ttft at 2.5 over a threshold of 2, in ALARM since
    2023-11-14T22:13:20Z, severity critical, labels model=llama, with a runbook and a
    dashboard link), with `changes` applied."""
    base = Notification(
        rule="p95-ttft",
        kind="threshold",
        status="firing",
        state="ALARM",
        previous_state="OK",
        value=2.5,
        window_s=300.0,
        severity="critical",
        at=1_700_000_300.0,
        started_at=1_700_000_000.0,
        threshold=2.0,
        labels={"model": "llama"},
        runbook="https://runbooks.example.com/ttft",
        dashboard_url="http://127.0.0.1:8400/dashboard/rules/p95-ttft",
    )
    return replace(base, **changes)
