"""Sample load test runs for the dashboard's tests and screenshot: a concurrency ladder against a
4-slot endpoint (throughput flattens at ~16.7 req/s while TTFT climbs), stored in the shape
`infersight loadtest` stores (`loadtest.persist.loadtest_row`): the levels are aggregated by the
real `summarize_level` / `level_json` and the capacity point by `capacity_summary`, from
synthetic request rows (a slot model, no network).
"""

from __future__ import annotations

import json
from typing import Final

from infersight.loadtest.analysis import capacity_summary
from infersight.loadtest.profiles import Level
from infersight.loadtest.report_json import VLLM_KEYS, level_json
from infersight.loadtest.results import RequestRow, Slo
from infersight.loadtest.summary import LevelSummary, dist_fields, summarize_level
from infersight.store.base import Store
from infersight.store.sqlite_loadtests import LoadtestRow

SLOTS: Final = 4
SERVICE_S: Final = 0.24  # 50 ms TTFT + 19 × 10 ms
TOKENS: Final = 20
LEVEL_S: Final = 10.0


def _level_rows(index: int, concurrency: int, t0: float) -> list[RequestRow]:
    """A closed loop of `concurrency` workers on SLOTS slots for LEVEL_S (FIFO queue)."""
    slots = [t0] * SLOTS
    ready = [t0] * concurrency
    rows: list[RequestRow] = []
    while True:
        w = min(range(concurrency), key=lambda i: ready[i])
        sent = ready[w]
        if sent >= t0 + LEVEL_S:
            break
        s = min(range(SLOTS), key=lambda i: slots[i])
        begin = max(sent, slots[s])
        end = begin + SERVICE_S
        slots[s] = ready[w] = end
        ttft = begin - sent + 0.05
        gap = (SERVICE_S - 0.05) / (TOKENS - 1)
        row = RequestRow(
            len(rows), index, sent, sent - t0, True, 200, None, None, ttft, end - sent,
            gap, (gap,) * (TOKENS - 1), TOKENS, 8, False, "length",
        )  # fmt: skip
        rows.append(row)
    return rows


def seed_sample_loadtests(store: Store, *, now: float) -> list[str]:
    """Two runs: a concurrency ladder an hour before `now`, and a single level 20 minutes
    before it."""
    ids = []
    for run_id, started, ladder in (
        ("lt-sample-ladder", now - 3600.0, (1, 2, 4, 8, 16)),
        ("lt-sample-single", now - 1200.0, (4,)),
    ):
        slo = Slo(ttft_s=0.5)
        levels: list[LevelSummary] = []
        t = started
        for i, c in enumerate(ladder):
            level = Level("concurrency", c, duration_s=LEVEL_S)
            rows = _level_rows(i, c, t)
            levels.append(summarize_level(i, level, rows, measure_start_s=t, slo=slo))
            t = levels[-1].ended_at + 1.0
        capacity = capacity_summary(levels)
        level_dicts = [level_json(s, arrays=False) for s in levels]
        headline = capacity.knee_level if capacity.knee_level is not None else 0
        head, top = level_dicts[headline], levels[headline]
        dists = [k for n in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms") for k in
                 dist_fields(n, getattr(top, n))]  # fmt: skip
        summary: dict[str, object] = {
            "id": run_id,
            "headline_level": headline,
            **{k: head.get(k) for k in (*VLLM_KEYS, *dists)},
            "levels": level_dicts,
            "capacity": capacity.to_json(),
            "search": None,
        }
        store.loadtests.write_loadtest(
            LoadtestRow(
                id=run_id,
                started_at=started,
                ended_at=t,
                endpoint="http://10.0.0.11:8000/v1",
                model="llama-3.1-8b",
                profile="concurrency",
                status="completed",
                stop_reason=None,
                levels=len(levels),
                requests=sum(len(s.rows) for s in levels),
                errors=sum(s.failed for s in levels),
                knee_concurrency=capacity.knee_concurrency,
                knee_request_throughput=capacity.knee_request_throughput,
                max_goodput=capacity.max_goodput,
                report_path=f"/var/tmp/loadtests/{run_id}",
                summary=json.dumps(summary),
            )
        )
        ids.append(run_id)
    return ids
