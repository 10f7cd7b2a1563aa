"""Dashboard: API latency (target p95 < 200 ms for the overview and serving endpoints) on a store
holding 1,000,000 request records and 30 days of rollups, and page load to charts drawn in
headless Chromium (target < 1 s).

Setup, in one run, on a fresh SQLite file in a temp dir:
  seed     1,000,000 request records spread over 30 days (executemany straight into `requests`);
           the per-minute series derived from them (core.derived.minute_samples, as compact()
           computes them) and 30 days of 1-minute collector, engine, host and cost series, all
           written straight into the 1-minute tier, the 1-hour tier merged from them
           (core.series.merge_rows, as compact() does), raw samples for the newest minutes,
           and the rollup watermarks compact() would have left
  api      a real gateway (ThreadedGateway, the dashboard inside it) on 127.0.0.1; each endpoint
           and range asked `--rounds` times over one keep-alive connection, after one warm-up;
           p50 / p95 / max of the wall time per request as the client sees it
  browser  Debian's Chromium through Playwright: each page loaded `--loads` times; the time from
           navigation start until the page marks itself ready (every chart drawn), read from
           the browser's performance clock; the first (cold) load reported apart
Run:
    .venv/bin/python bench/dashboard_api.py [--records N] [--days D] [--rounds R] [--loads L]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from infersight.core.clock import FakeClock
from infersight.core.derived import FinishedRequest, minute_samples
from infersight.core.series import Row, bucket_start, merge_rows
from infersight.dashboard.sample_data import sample_settings
from infersight.service import ThreadedGateway
from infersight.store.sqlite import COLUMNS, SqliteStore
from infersight.store.sqlite_metrics import (
    MINUTE_DONE,
    RAW_DONE,
    REQUESTS_DONE,
    canonical_labels,
)

API_TARGET_P95_S = 0.200
PAGE_TARGET_S = 1.0
DAY_S = 86_400.0
MODELS = (("llama-3.1-8b", "vllm-a"), ("qwen2.5-7b", "vllm-b"))
ERRORS = ("upstream_5xx", "upstream_timeout", "midstream_error", "client_disconnect")
CHROMIUM = "/usr/bin/chromium"


# -- seeding -------------------------------------------------------------------------------------


def gauge_series() -> list[tuple[str, tuple[tuple[str, str], ...], float, float]]:
    """(name, labels, level, swing) of every collector / cost series."""
    out: list[tuple[str, tuple[tuple[str, str], ...], float, float]] = []
    for g in range(4):
        lab = (("gpu", str(g)), ("gpu_name", "NVIDIA A10G"))
        out += [
            ("gpu_utilization_ratio", lab, 0.55, 0.35),
            ("gpu_memory_used_bytes", lab, 18e9, 4e9),
            ("gpu_memory_total_bytes", lab, 24e9, 0.0),
            ("gpu_power_watts", lab, 180.0, 90.0),
            ("gpu_temperature_celsius", lab, 60.0, 12.0),
        ]
    for _, upstream in MODELS:
        lab = (("engine", "vllm"), ("upstream", upstream))
        out += [
            ("engine_kv_cache_usage_ratio", lab, 0.5, 0.35),
            ("engine_requests_running", lab, 14.0, 10.0),
            ("engine_requests_waiting", lab, 2.0, 2.0),
        ]
        up = (("upstream", upstream),)
        out += [
            ("cost_usd_per_hour", up, 14.18, 0.0),
            ("cost_usd_per_1m_output_tokens", up, 20.0, 8.0),
            ("cost_idle_usd_per_hour", up, 2.0, 2.0),
            ("cost_spent_today_usd", up, 150.0, 140.0),
            ("cost_spent_month_usd", up, 5000.0, 3000.0),
            ("cost_projected_month_usd", up, 10000.0, 500.0),
            ("cost_budget_remaining_usd", up, 6000.0, 3000.0),
        ]
    out += [
        ("host_cpu_utilization_ratio", (), 0.3, 0.2),
        ("host_memory_used_bytes", (), 12e9, 3e9),
        ("host_memory_total_bytes", (), 32e9, 0.0),
        ("host_disk_used_ratio", (("path", "/var/lib/infersight"),), 0.4, 0.01),
    ]
    out += [("collector_up", (("collector", c),), 1.0, 0.0) for c in ("nvml", "host")]
    return out


class Seeder:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.ids: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        self.minute_rows = 0

    def series_id(self, name: str, labels: tuple[tuple[str, str], ...], resolution_s: float) -> int:
        key = (name, labels)
        if key not in self.ids:
            self.ids[key] = self.conn.execute(
                "INSERT INTO metric_series (name, labels, resolution_s) VALUES (?, ?, ?) "
                "RETURNING id",
                (name, canonical_labels(labels), resolution_s),
            ).fetchone()[0]
        return self.ids[key]

    def write_rows(self, sid: int, rows: list[Row]) -> None:
        self.conn.executemany(
            "INSERT INTO samples_1m VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [(sid, *r) for r in rows]
        )
        self.conn.executemany(
            "INSERT INTO samples_1h VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(sid, *r) for r in merge_rows(rows, 3600.0)],
        )
        self.minute_rows += len(rows)


def make_records(n: int, start: float, end: float, seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    gap = (end - start) / n
    for i in range(n):
        ts = start + i * gap
        model, upstream = MODELS[i % 2]
        day = math.sin((ts % DAY_S) / DAY_S * 2 * math.pi)
        ttft = rng.lognormvariate(math.log(0.15 * (1.3 + 0.4 * day)), 0.4)
        tokens = rng.randint(16, 400)
        tpot = rng.uniform(0.012, 0.03)
        e2e = ttft + tpot * (tokens - 1)
        err = ERRORS[i % 4] if rng.random() < 0.02 else None
        d = {
            "id": f"r{i:09d}",
            "started_at": ts,
            "model": model,
            "upstream": upstream,
            "route": "/v1/chat/completions",
            "stream": 1,
            "status": 502 if err else 200,
            "e2e_s": e2e,
            "error_class": err,
            "error_message": None,
            "ttft_s": None if err else ttft,
            "tpot_s": None if err else tpot,
            "itl_mean_s": None if err else tpot,
            "itl_p50_s": None if err else tpot,
            "itl_p90_s": None if err else tpot * 1.3,
            "itl_p99_s": None if err else tpot * 2.0,
            "itl_max_s": None if err else tpot * 3.0,
            "output_tokens_per_s": None if err else tokens / e2e,
            "prompt_tokens": rng.randint(20, 2000),
            "completion_tokens": None if err else tokens,
            "tokens_estimated": 0,
            "finish_reason": None if err else "stop",
            "inflight_at_start": rng.randint(0, 30),
            "client": None,
            "source": "user",
            "prompt_text": None,
            "response_text": None,
        }
        yield tuple(d[c] for c in COLUMNS)


def seed(path: Path, *, records: int, days: float, now: float) -> dict[str, float]:
    SqliteStore(path).close()  # schema
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    start = now - days * DAY_S
    end = bucket_start(now - 70.0, 60.0)  # what compact() would have rolled up by now
    seeder = Seeder(conn)
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    insert = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    derived: dict[tuple[str, tuple[tuple[str, str], ...]], list[Row]] = defaultdict(list)
    minute: dict[tuple[float, str], list[FinishedRequest]] = defaultdict(list)
    batch: list[tuple[Any, ...]] = []
    col = {name: i for i, name in enumerate(COLUMNS)}

    def flush_minutes(before: float) -> None:
        for key in sorted(k for k in minute if k[0] < before):
            for s in minute_samples(key[0], minute.pop(key)):
                v = s.value
                derived[(s.name, s.labels)].append((s.ts, 1, v, v, v, v, v, 0.0))

    for row in make_records(records, start, now, seed=1):
        batch.append(row)
        finished = row[col["started_at"]] + row[col["e2e_s"]]
        if finished < end:
            fr = FinishedRequest(finished, *(row[col[k]] for k in FinishedRequest._fields[1:]))
            minute[(bucket_start(finished, 60.0), fr.model)].append(fr)
        if len(batch) >= 50_000:
            conn.executemany(insert, batch)
            batch.clear()
            flush_minutes(bucket_start(row[col["started_at"]], 60.0) - 120.0)
    conn.executemany(insert, batch)
    flush_minutes(math.inf)
    records_s = time.perf_counter() - t0
    for (name, labels), rows in derived.items():
        rows.sort()
        seeder.write_rows(seeder.series_id(name, labels, 60.0), rows)
    rng = random.Random(2)
    minutes = int((end - bucket_start(start, 60.0)) // 60)
    raw: list[tuple[int, float, float]] = []
    for name, labels, level, swing in gauge_series():
        sid = seeder.series_id(name, labels, 0.0)
        rows = []
        for m in range(minutes):
            ts = end - (minutes - m) * 60.0
            v = (
                level
                + swing * math.sin(ts / DAY_S * 2 * math.pi)
                + rng.uniform(-0.02, 0.02) * swing
            )
            rows.append((ts, 12, v * 12, v, v, v, v, 0.0))
        seeder.write_rows(sid, rows)
        raw += [(sid, t, level) for t in range(int(end), int(now) + 1, 5)]
    conn.executemany("INSERT INTO samples_raw VALUES (?, ?, ?)", raw)
    for key, value in (
        (RAW_DONE, end),
        (REQUESTS_DONE, end),
        (MINUTE_DONE, bucket_start(end, 3600.0)),
    ):
        conn.execute(
            "INSERT OR REPLACE INTO rollup_state (name, value) VALUES (?, ?)", (key, value)
        )
    conn.execute("COMMIT")
    conn.close()
    return {
        "seconds": time.perf_counter() - t0,
        "records_seconds": records_s,
        "series": float(len(seeder.ids)),
        "minute_rows": float(seeder.minute_rows),
    }


# -- measuring -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def cpu_ticks() -> tuple[float, float]:
    """(busy, total) seconds of every CPU of the machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / hz, sum(values) / hz


def time_api(url: str, rounds: int) -> list[dict[str, Any]]:
    cases = [
        (path, rng) for path in ("/overview", "/serving") for rng in ("1h", "24h", "7d", "30d")
    ] + [
        ("/infrastructure", "24h"),
        ("/cost", "24h"),
        ("/errors", "24h"),
        ("/errors", "30d"),
        ("/requests", "30d"),
    ]
    out = []
    with httpx.Client(base_url=url + "/api/v1", timeout=30) as client:
        for path, rng in cases:
            client.get(path, params={"range": rng}).raise_for_status()  # warm-up
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                r = client.get(path, params={"range": rng})
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
            out.append(
                {
                    "endpoint": path,
                    "range": rng,
                    "p50_s": pct(times, 0.5),
                    "p95_s": pct(times, 0.95),
                    "max_s": max(times),
                    "bytes": len(r.content),
                }
            )
    return out


def page_loads(url: str, loads: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        for path, rng in (
            ("/", "1h"),
            ("/", "30d"),
            ("/serving", "1h"),
            ("/serving", "30d"),
            ("/infrastructure", "24h"),
            ("/requests", "30d"),
        ):
            times = []
            for _ in range(loads + 1):
                page.goto(f"{url}{path}?range={rng}")
                page.wait_for_selector("body[data-ready='1']", timeout=30_000)
                times.append(page.evaluate("performance.now()") / 1000.0)
            canvases = page.locator("canvas").count()
            warm = times[1:]
            out.append(
                {
                    "page": path,
                    "range": rng,
                    "cold_s": times[0],
                    "p50_s": pct(warm, 0.5),
                    "max_s": max(warm),
                    "charts": canvases,
                }
            )
        browser.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=20, help="requests per endpoint and range")
    ap.add_argument("--loads", type=int, default=5, help="warm page loads per page")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--no-browser", action="store_true", help="skip the page-load part")
    ap.add_argument("--keep", metavar="PATH", help="seed this SQLite file and keep it")
    args = ap.parse_args()
    now = float(int(time.time()))
    with tempfile.TemporaryDirectory(prefix="infersight-dash-") as tmp:
        db = Path(args.keep) if args.keep else Path(tmp) / "bench.db"
        info = seed(db, records=args.records, days=args.days, now=now)
        size_mb = sum(f.stat().st_size for f in db.parent.glob(db.name + "*") if f.is_file()) / 1e6
        print(
            f"seeded {args.records:,} records over {args.days:g} days, "
            f"{info['series']:.0f} series, "
            f"{info['minute_rows']:,.0f} minute rows (+ hour tier) in {info['seconds']:.0f} s; "
            f"file {size_mb:,.0f} MB"
        )
        settings = sample_settings()
        settings = settings.model_copy(
            update={"store": settings.store.model_copy(update={"path": str(db)})}
        )
        with ThreadedGateway(settings, clock=FakeClock(now), background=False) as gw:
            busy0, _ = cpu_ticks()
            own0, wall0 = time.process_time(), time.perf_counter()
            api = time_api(gw.url, args.rounds)
            busy1, _ = cpu_ticks()
            own_s, wall_s = time.process_time() - own0, time.perf_counter() - wall0
            other = max(0.0, (busy1 - busy0) - own_s) / wall_s
            pages = [] if args.no_browser else page_loads(gw.url, args.loads)
    print(
        f"\nAPI, {args.rounds} requests each (target p95 < {API_TARGET_P95_S * 1000:.0f} ms "
        f"for /overview and /serving); other jobs used {other:.0%} of a core meanwhile"
    )
    print(f"{'endpoint':<18}{'range':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'KiB':>7}  ok")
    failed = False
    for row in api:
        targeted = row["endpoint"] in ("/overview", "/serving")
        good = row["p95_s"] < API_TARGET_P95_S
        failed |= targeted and not good
        mark = ("yes" if good else "NO") if targeted else "-"
        print(
            f"{row['endpoint']:<18}{row['range']:>6}{row['p50_s'] * 1e3:>9.1f}"
            f"{row['p95_s'] * 1e3:>9.1f}{row['max_s'] * 1e3:>9.1f}"
            f"{row['bytes'] / 1024:>7.0f}  {mark}"
        )
    if pages:
        print(f"\nPage load to charts drawn, headless Chromium (target < {PAGE_TARGET_S:g} s)")
        print(f"{'page':<18}{'range':>6}{'cold ms':>9}{'p50 ms':>9}{'max ms':>9}{'charts':>8}  ok")
        for row in pages:
            good = row["max_s"] < PAGE_TARGET_S
            failed |= not good
            print(
                f"{row['page']:<18}{row['range']:>6}{row['cold_s'] * 1e3:>9.0f}"
                f"{row['p50_s'] * 1e3:>9.0f}{row['max_s'] * 1e3:>9.0f}{row['charts']:>8}  "
                f"{'yes' if good else 'NO'}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": info, "api": api, "pages": pages}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
