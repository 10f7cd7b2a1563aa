"""Rules on the series derived from request records (ttft_seconds, request_errors_per_s, ...):
those minutes exist only after compaction, so an alarm must not read a just-closed minute as
missing and resolve (then fire again) every period while the condition holds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from infersight.alerting.engine import AlertEngine
from infersight.alerting.settings import AlertingSettings
from infersight.core.alarms import AlarmState
from infersight.core.clock import FakeClock
from infersight.core.records import RequestRecord
from infersight.store.sqlite import SqliteStore

from .conftest import T0, Recorder

TTFT_RULE: dict[str, Any] = {
    "name": "ttft",
    "metric": 'ttft_seconds{quantile="0.95",source="user"}',
    "statistic": "max",
    "threshold": 0.3,
    "period_s": 60,
    "evaluation_periods": 1,
    "treat_missing_data": "not_breaching",
}
ERROR_RULE: dict[str, Any] = {
    "name": "errors",
    "metric": 'request_errors_per_s{source="user"}',
    "divide_by": 'requests_per_s{source="user"}',
    "threshold": 0.2,
    "period_s": 60,
    "evaluation_periods": 1,
    "treat_missing_data": "not_breaching",
}
FIVE_MINUTE_RULE: dict[str, Any] = {  # like the pack's error_rate_high: 2 of 2 five-minute periods
    **ERROR_RULE,
    "name": "errors_5m",
    "period_s": 300,
    "evaluation_periods": 2,
}


def run_traffic(
    tmp_path: Path,
    rules: list[dict[str, Any]],
    *,
    busy_s: float,
    quiet_s: float,
    compact_every_s: int = 15,
    failure: str = "upstream_5xx",
) -> tuple[Recorder, AlertEngine]:
    """Slow, half-failing requests every 2 s for busy_s, then none for quiet_s; the engine
    ticks every 5 s and the store compacts every compact_every_s (10 s rollup delay), as
    `run` does."""
    store = SqliteStore(tmp_path / "derived.db")
    clock = FakeClock(start=T0 + 7)
    rec = Recorder()
    alerting = AlertingSettings.model_validate({"rules": rules, "interval_s": 5})

    async def no_sleep(_: float) -> None:
        return None

    engine = AlertEngine(
        alerting, store=store, clock=clock, notifiers={rec.name: rec}, sleep=no_sleep
    )

    async def tick() -> None:
        await engine.tick(clock.now())
        await engine.drain()

    i = 0
    end_busy = clock.now() + busy_s
    end = end_busy + quiet_s
    while clock.now() < end:
        clock.advance(1.0)
        now = clock.now()
        if now < end_busy and int(now) % 2 == 0:
            i += 1
            failed = i % 2 == 0
            store.write_records(
                [
                    RequestRecord(
                        f"r{i}",
                        now - 0.6,
                        "sim-model",
                        "sim",
                        "/v1/chat/completions",
                        True,
                        (0 if failure == "client_disconnect" else 500) if failed else 200,
                        0.6,
                        error_class=failure if failed else None,
                        ttft_s=None if failed else 0.5,
                    )
                ]
            )
        if int(now) % compact_every_s == 0:
            store.compact(now)
        if int(now) % 5 == 0:
            asyncio.run(tick())
    store.close()
    return rec, engine


@pytest.mark.parametrize("compact_every_s", [15, 60])  # 60: store.rollup_interval_s default
def test_alarms_on_derived_series_hold_while_the_condition_holds(
    tmp_path: Path, compact_every_s: int
) -> None:
    rec, engine = run_traffic(
        tmp_path,
        [TTFT_RULE, ERROR_RULE],
        busy_s=300,
        quiet_s=180,
        compact_every_s=compact_every_s,
    )
    by_rule: dict[str, list[str]] = {}
    for n in rec.sent:
        by_rule.setdefault(n.rule, []).append(n.status)
    assert by_rule == {"ttft": ["firing", "resolved"], "errors": ["firing", "resolved"]}
    assert all(r.state == AlarmState.OK for r in engine.states.all())


def test_five_minute_error_rule_fires_once(tmp_path: Path) -> None:
    rec, _ = run_traffic(tmp_path, [FIVE_MINUTE_RULE], busy_s=1500, quiet_s=0)
    assert [n.status for n in rec.sent] == ["firing"]


@pytest.mark.parametrize(
    ("failure", "pages"), [("upstream_5xx", True), ("client_disconnect", False)]
)
def test_the_packs_error_rule_pages_for_serving_failures_not_for_clients_hanging_up(
    tmp_path: Path, failure: str, pages: bool
) -> None:
    """Half the requests end badly for 25 minutes: the default error_rate_high fires when the
    upstream fails them, and stays quiet when the clients hung up."""
    from infersight.alerting.rule_pack import default_rules

    (pack_rule,) = [r for r in default_rules() if r.name == "error_rate_high"]
    rule = pack_rule.model_dump(exclude_defaults=True)
    rec, _ = run_traffic(tmp_path, [rule], busy_s=1500, quiet_s=0, failure=failure)
    assert [n.status for n in rec.sent] == (["firing"] if pages else [])
