"""Gateway overhead: the same streaming load sent directly to the upstream and through the gateway.

    .venv/bin/python bench/gateway_overhead.py            # full run, ~3 min on 2 cores
    .venv/bin/python bench/gateway_overhead.py --quick    # ~1 min
    .venv/bin/python bench/gateway_overhead.py --levels 1,64 --json /tmp/overhead.json

The simulated upstream (`infersight sim`) and the gateway (`infersight run`) run as separate OS
processes on free ports; this process drives closed-loop load with a minimal asyncio client
(bench/_loadclient.py): C workers, one keep-alive connection each, send requests back to back.
For each concurrency level, direct and gateway segments alternate (ABBA over rounds), so noise on
the shared machine hits both sides. Each segment has a warm-up, then a measured window.

Scenarios
- zero:  upstream with zero delay streaming 256 tokens (one token per SSE event). Targets (2 cores):
         added TTFT p50 <= 0.5 ms and p99 <= 2 ms at 1 stream; gateway/direct tokens/s >= 0.8 at
         64 streams; exactly one record per request at every level.
- paced: upstream TTFT 50 ms, 10 ms per token, 64 tokens: the setting of published proxy
         overhead figures (nginx, LiteLLM): added TTFT at 1 stream, throughput ratio at 16/64/256.

Figures (per level)
- added TTFT / E2E: percentile through the gateway - the same percentile direct (client-measured:
  TTFT to the first byte of the first content event, E2E to the end of the body), taken when
  the bytes reached the client's socket (the kernel's receive timestamps). Also shown: the
  same TTFT taken when the client process read the bytes, which adds the client's own wait
  for a CPU while the sim and the proxy stream on the other cores.
- tokens/s: content events that arrived inside the measured window / window length (counted
  by arrival, so requests that finish in waves do not quantize it).
- records / requests: rows in the gateway's SQLite `requests` table (read after it was stopped
  with SIGINT, which flushes) per `x-infersight-client: <scenario>-level-<C>` tag / every request
  written with that tag, warm-up and failed ones included.
- gateway CPU per request: the gateway process's user+system CPU time (/proc, all threads) over
  the measured window / requests delivered in it (content events / tokens per request); "net"
  subtracts the gateway's idle CPU rate, measured while the direct segments of the level ran.

This is a report, not a test: it prints PASS/MISS per target and exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import math
import os
import platform
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console
from rich.table import Table

from _loadclient import (
    LoadStats,
    build_request,
    new_event_loop,
    percentile,
    run_closed_loop,
)
from _procs import (
    ChildProcess,
    OtherProcessesCpu,
    own_cpu_s,
    start_bare_relay,
    start_gateway,
    start_nginx,
    start_sim,
)

_T = TypeVar("_T")
DEFAULT_LEVELS = (1, 16, 64, 256)
# Other proxies that can be measured in the same run, beside the gateway.
REFERENCES = {
    "nginx": "nginx as a plain reverse proxy (one worker, unbuffered, keep-alive)",
    "bare": "bench/_bare_relay.py, a TCP pipe on uvloop (no HTTP, no measuring)",
}
REFERENCE_STARTERS: dict[str, Callable[[Path, str], ChildProcess]] = {
    "nginx": start_nginx,
    "bare": start_bare_relay,
}
PATH = "/v1/chat/completions"
MODEL = "sim-model"
REQUEST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    sim: dict[str, object]
    tokens: int
    warmup_s: float  # per segment; long enough for every worker to finish one request


SCENARIOS: dict[str, Scenario] = {
    "zero": Scenario(
        "zero",
        "upstream with zero delay, 256 tokens per stream",
        {"tokens": 256, "tokens_per_chunk": 1, "ttft_ms": 0, "itl_ms": 0},
        256,
        0.5,
    ),
    "paced": Scenario(
        "paced",
        "upstream TTFT 50 ms, 10 ms per token, 64 tokens per stream",
        {"tokens": 64, "tokens_per_chunk": 1, "ttft_ms": 50, "itl_ms": 10},
        64,
        1.0,
    ),
}


def request_bytes(port: int, tag: str) -> bytes:
    body = json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Tell me about rivers."}],
            "stream": True,
        },
        separators=(",", ":"),
    ).encode()
    return build_request("127.0.0.1", port, PATH, body, {"x-infersight-client": tag})


async def drive_scenario(
    scn: Scenario,
    levels: list[int],
    sim: ChildProcess,
    gateway: ChildProcess,
    *,
    rounds: int,
    measure_s: float,
    console: Console,
    references: dict[str, ChildProcess] | None = None,
) -> dict[int, dict[str, LoadStats]]:
    proxies = {"gateway": gateway, **(references or {})}
    ours = {os.getpid(), sim.pid, *(p.pid for p in proxies.values())}
    probes: dict[str, Callable[[], float]] = {
        **{name: p.cpu_s for name, p in proxies.items()},
        "sim": sim.cpu_s,
        "client": own_cpu_s,
        "others": OtherProcessesCpu(ours),
    }
    ports = {name: int(p.url.rsplit(":", 1)[1]) for name, p in {"direct": sim, **proxies}.items()}
    out: dict[int, dict[str, LoadStats]] = {}
    for c in levels:
        tag = f"{scn.key}-level-{c}"
        targets = {name: (port, request_bytes(port, tag)) for name, port in ports.items()}
        sides = {name: LoadStats() for name in targets}
        names = list(targets)
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                port, raw = targets[name]
                side = sides[name]
                before = (side.completed, side.tokens, side.failed)
                await run_closed_loop(
                    side, port, raw, c, scn.warmup_s, measure_s, scn.tokens, probes,
                    timeout_s=REQUEST_TIMEOUT_S,
                )  # fmt: skip
                now = (side.completed, side.tokens, side.failed)
                n, tok, failed = (x - y for x, y in zip(now, before, strict=True))
                console.print(
                    f"  [dim]{scn.key} · {c:>3} streams · round {r + 1} · {name:<7}: "
                    f"{n} requests, {tok / measure_s:,.0f} tokens/s, {failed} failed[/]"
                )
        out[c] = sides
    return out


# ------------------------------------------------------------------------------------ records


def read_records(db_path: Path) -> dict[str, dict[str, Any]]:
    """Per client tag: rows, rows with an error, median recorded TTFT."""
    if not db_path.exists():
        return {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT client, error_class, ttft_s FROM requests").fetchall()
    finally:
        conn.close()
    out: dict[str, dict[str, Any]] = {}
    ttfts: dict[str, list[float]] = {}
    for client, error_class, ttft in rows:
        entry = out.setdefault(client, {"rows": 0, "error_rows": 0})
        entry["rows"] += 1
        entry["error_rows"] += error_class is not None
        if ttft is not None:
            ttfts.setdefault(client, []).append(ttft)
    for client, values in ttfts.items():
        out[client]["ttft_p50_ms"] = percentile(values, 50) * 1e3
    return out


# -------------------------------------------------------------------------------------- stats


LATENCY_KEYS: Final = (
    "ttft_p50_ms", "ttft_p99_ms", "e2e_p50_ms", "e2e_p99_ms",
    "read_ttft_p50_ms", "read_ttft_p99_ms", "read_e2e_p50_ms",
)  # fmt: skip


def side_summary(side: LoadStats, tokens_per_request: int) -> dict[str, Any]:
    ms = 1e3
    completed = side.completed
    delivered = side.tokens / tokens_per_request  # requests' worth of tokens in the windows
    return {
        "requests_sent": side.sent,
        "requests_failed": side.failed,
        "connect_errors": side.connect_errors,
        "window_requests": len(side.ttft_s) + side.window_failed,
        "window_failed": side.window_failed,
        "ttft_p50_ms": percentile(side.ttft_s, 50) * ms,
        "ttft_p99_ms": percentile(side.ttft_s, 99) * ms,
        "e2e_p50_ms": percentile(side.e2e_s, 50) * ms,
        "e2e_p99_ms": percentile(side.e2e_s, 99) * ms,
        # the same, when the client process read the bytes (adds its wait for a CPU)
        "read_ttft_p50_ms": percentile(side.read_ttft_s, 50) * ms,
        "read_ttft_p99_ms": percentile(side.read_ttft_s, 99) * ms,
        "read_e2e_p50_ms": percentile(side.read_e2e_s, 50) * ms,
        "unstamped_requests": side.unstamped,
        "tokens_per_s": side.tokens / side.window_s if side.window_s else math.nan,
        "requests_per_s": completed / side.window_s if side.window_s else math.nan,
        "completed_in_window": completed,
        "requests_delivered": delivered,
        "cpu_ms_per_request": {
            k: (v / delivered * ms if delivered else math.nan) for k, v in side.cpu_s.items()
        },
        "cpu_core_fraction": {
            k: (v / side.probe_s if side.probe_s else math.nan) for k, v in side.cpu_s.items()
        },
        "errors": dict(side.errors),
        # CPU of every other process on the machine (other jobs competing for the 2 cores).
        "other_core_fraction": side.cpu_s.get("others", math.nan) / side.probe_s
        if side.probe_s
        else math.nan,
    }


def level_summary(
    scn: Scenario, c: int, sides: dict[str, LoadStats], records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    d = side_summary(sides["direct"], scn.tokens)
    g = side_summary(sides["gateway"], scn.tokens)
    added = {k: g[k] - d[k] for k in LATENCY_KEYS}
    # The gateway's own background CPU (measured while the direct segments ran), taken out.
    idle = d["cpu_core_fraction"].get("gateway", math.nan)
    delivered = g["requests_delivered"]
    gw_cpu_s = sides["gateway"].cpu_s.get("gateway", math.nan)
    net_ms = (
        (gw_cpu_s - idle * sides["gateway"].probe_s) / delivered * 1e3 if delivered else math.nan
    )
    rec = records.get(f"{scn.key}-level-{c}", {"rows": 0, "error_rows": 0})
    sent = g["requests_sent"]
    return {
        "direct": d,
        "gateway": g,
        "added": added,
        "throughput_ratio": (
            g["tokens_per_s"] / d["tokens_per_s"] if d["tokens_per_s"] else math.nan
        ),
        "records": {
            "rows": rec["rows"],
            "error_rows": rec["error_rows"],
            "requests_sent": sent,
            "ratio": rec["rows"] / sent if sent else math.nan,
            "recorded_ttft_p50_ms": rec.get("ttft_p50_ms", math.nan),
        },
        "gateway_cpu_ms_per_request": g["cpu_ms_per_request"].get("gateway", math.nan),
        "gateway_cpu_ms_per_request_net_of_idle": net_ms,
        "gateway_cpu_core_fraction": g["cpu_core_fraction"].get("gateway", math.nan),
        "gateway_idle_core_fraction": idle,
        "references": {
            name: reference_summary(d, side, scn, name)
            for name, side in sides.items()
            if name not in ("direct", "gateway")
        },
    }


def reference_summary(
    d: dict[str, Any], side: LoadStats, scn: Scenario, name: str
) -> dict[str, Any]:
    """A reference proxy measured in the same run: what it adds over direct, its throughput,
    its CPU."""
    n = side_summary(side, scn.tokens)
    return {
        **n,
        "added": {k: n[k] - d[k] for k in LATENCY_KEYS},
        "throughput_ratio": (
            n["tokens_per_s"] / d["tokens_per_s"] if d["tokens_per_s"] else math.nan
        ),
        "cpu_ms_per_request_self": n["cpu_ms_per_request"].get(name, math.nan),
    }


# ------------------------------------------------------------------------------------- report


def _f(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _cmp(d: float, g: float) -> str:
    digits = 3 if max(abs(d), abs(g)) < 100 else 1
    return f"{_f(d, digits)} → {_f(g, digits)} [bold]{g - d:+.{digits}f}[/]"


def print_scenario(console: Console, scn: Scenario, levels: dict[int, dict[str, Any]]) -> None:
    lat = Table(
        title=f"{scn.key}: {scn.title}\nlatency, ms, direct → gateway (added): arrival at the "
        "client's socket (kernel receive timestamps); last column: when the client read it",
        title_justify="left",
    )
    for col in ("streams", "requests d/g", "TTFT p50", "TTFT p99", "E2E p50", "E2E p99",
                "gw-recorded TTFT p50", "TTFT p50 / p99 at the read"):  # fmt: skip
        lat.add_column(col, justify="right")
    thr = Table(title=f"{scn.key}: throughput and records", title_justify="left")
    for col in ("streams", "tokens/s direct", "tokens/s gateway", "gateway ÷ direct",
                "failed direct/gateway", "records / requests sent"):  # fmt: skip
        thr.add_column(col, justify="right")
    cpu = Table(
        title=f"{scn.key}: CPU (ms per request delivered; % of one core) direct/gateway",
        title_justify="left",
    )
    for col in ("streams", "gateway ms/req", "gateway ms/req net of idle", "gateway %core",
                "sim ms/req", "sim %core", "client %core", "other jobs %core"):  # fmt: skip
        cpu.add_column(col, justify="right")

    def pair(sides: tuple[dict[str, Any], ...], key: str, proc: str, scale: float = 1.0,
             digits: int = 0) -> str:  # fmt: skip
        return "/".join(_f(x[key].get(proc, math.nan) * scale, digits) for x in sides)

    for c, lv in levels.items():
        d, g, rec = lv["direct"], lv["gateway"], lv["records"]
        lat.add_row(
            str(c),
            f"{d['window_requests']}/{g['window_requests']}",
            _cmp(d["ttft_p50_ms"], g["ttft_p50_ms"]),
            _cmp(d["ttft_p99_ms"], g["ttft_p99_ms"]),
            _cmp(d["e2e_p50_ms"], g["e2e_p50_ms"]),
            _cmp(d["e2e_p99_ms"], g["e2e_p99_ms"]),
            _f(rec["recorded_ttft_p50_ms"]),
            f"{g['read_ttft_p50_ms'] - d['read_ttft_p50_ms']:+.3f} / "
            f"{g['read_ttft_p99_ms'] - d['read_ttft_p99_ms']:+.3f}",
        )
        ratio_ok = rec["rows"] == rec["requests_sent"]
        thr.add_row(
            str(c),
            f"{d['tokens_per_s']:,.0f}",
            f"{g['tokens_per_s']:,.0f}",
            _f(lv["throughput_ratio"], 3),
            f"{d['requests_failed']}/{g['requests_failed']}",
            f"[{'green' if ratio_ok else 'red'}]{rec['rows']}/{rec['requests_sent']}[/]",
        )
        cpu.add_row(
            str(c),
            _f(lv["gateway_cpu_ms_per_request"]),
            _f(lv["gateway_cpu_ms_per_request_net_of_idle"]),
            _f(lv["gateway_cpu_core_fraction"] * 100, 0),
            pair((d, g), "cpu_ms_per_request", "sim", digits=3),
            pair((d, g), "cpu_core_fraction", "sim", 100),
            pair((d, g), "cpu_core_fraction", "client", 100),
            f"{_f(d['other_core_fraction'] * 100, 0)}/{_f(g['other_core_fraction'] * 100, 0)}",
        )
    console.print(lat)
    console.print(thr)
    console.print(cpu)
    names = sorted({n for lv in levels.values() for n in lv["references"]})
    for ref_name in names:
        ref = Table(
            title=f"{scn.key}: {REFERENCES[ref_name]}, same run, beside the gateway",
            title_justify="left",
        )
        for col in ("streams", f"added TTFT p50 ms {ref_name}/gateway", "added TTFT p99 ms",
                    "at the read: p99", "added E2E p50 ms", "tokens/s ÷ direct",
                    "CPU ms/req"):  # fmt: skip
            ref.add_column(col, justify="right")
        for c, lv in levels.items():
            if ref_name not in lv["references"]:
                continue
            n, a = lv["references"][ref_name], lv["added"]

            def both(x: float, y: float) -> str:
                return f"{x:+.3f} / {y:+.3f}"

            ref.add_row(
                str(c),
                both(n["added"]["ttft_p50_ms"], a["ttft_p50_ms"]),
                both(n["added"]["ttft_p99_ms"], a["ttft_p99_ms"]),
                both(n["added"]["read_ttft_p99_ms"], a["read_ttft_p99_ms"]),
                both(n["added"]["e2e_p50_ms"], a["e2e_p50_ms"]),
                f"{_f(n['throughput_ratio'])} / {_f(lv['throughput_ratio'])}",
                f"{_f(n['cpu_ms_per_request_self'])} / {_f(lv['gateway_cpu_ms_per_request'])}",
            )
        console.print(ref)
    for c, lv in levels.items():
        for name in ("direct", "gateway"):
            if lv[name]["unstamped_requests"]:
                console.print(
                    f"  [yellow]{scn.key} · {c} streams · {name}: "
                    f"{lv[name]['unstamped_requests']} requests without kernel receive "
                    "timestamps: their arrival is the read time[/]"
                )
            for msg, n in lv[name]["errors"].items():
                console.print(f"  [yellow]{scn.key} · {c} streams · {name}: {n} × {msg}[/]")


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def target(name: str, value: float | None, ok: bool | None, shown: str) -> None:
        out.append({"target": name, "value": value, "pass": ok, "shown": shown})

    zero = results["scenarios"].get("zero", {}).get("levels", {})
    if 1 in zero:
        v = zero[1]["added"]["ttft_p50_ms"]
        target("zero: added TTFT p50 at 1 stream <= 0.5 ms", v, v <= 0.5, f"{v:+.3f} ms")
        v = zero[1]["added"]["ttft_p99_ms"]
        r50, r99 = (zero[1]["added"][k] for k in ("read_ttft_p50_ms", "read_ttft_p99_ms"))
        target(
            "zero: added TTFT p99 at 1 stream <= 2 ms", v, v <= 2.0,
            f"{v:+.3f} ms (when the client read it: p50 {r50:+.3f}, p99 {r99:+.3f})",
        )  # fmt: skip
    else:
        target("zero: added TTFT at 1 stream", None, None, "level 1 not run")
    if 64 in zero:
        v = zero[64]["throughput_ratio"]
        target("zero: tokens/s gateway ÷ direct at 64 streams >= 0.8", v, v >= 0.8, f"{v:.3f}")
    else:
        target("zero: throughput ratio at 64 streams", None, None, "level 64 not run")
    for key, scn in results["scenarios"].items():
        levels = scn["levels"]
        parts = [f"{c}: {lv['records']['rows']}/{lv['records']['requests_sent']}"
                 for c, lv in levels.items()]  # fmt: skip
        ok = all(lv["records"]["rows"] == lv["records"]["requests_sent"] for lv in levels.values())
        target(f"{key}: exactly one record per request at every level", None, ok, ", ".join(parts))
    return out


def print_targets(console: Console, results: dict[str, Any]) -> None:
    console.print("[bold]targets (2-core machine)[/]")
    if not results["targets"]:
        console.print("  not evaluated: --tokens changes the load the targets are defined for")
    for t in results["targets"]:
        mark = {True: "[green]PASS[/]", False: "[red]MISS[/]", None: "[yellow]----[/]"}[t["pass"]]
        console.print(f"  {mark}  {t['target']}: {t['shown']}")
    paced = results["scenarios"].get("paced", {}).get("levels", {})
    if paced:
        console.print("[bold]paced scenario (to compare with published nginx / LiteLLM figures)[/]")
        if 1 in paced:
            a = paced[1]["added"]
            console.print(
                f"  added TTFT at 1 stream: p50 {a['ttft_p50_ms']:+.3f} ms, "
                f"p99 {a['ttft_p99_ms']:+.3f} ms; added E2E p50 {a['e2e_p50_ms']:+.3f} ms"
            )
        ratios = [f"{c}: {lv['throughput_ratio']:.3f}" for c, lv in paced.items() if c != 1]
        if ratios:
            console.print(f"  tokens/s gateway ÷ direct: {', '.join(ratios)}")


# --------------------------------------------------------------------------------------- main


def run_scenario(
    scn: Scenario,
    levels: list[int],
    workdir: Path,
    *,
    rounds: int,
    measure_s: float,
    console: Console,
    references: tuple[str, ...] = (),
) -> dict[str, Any]:
    here = workdir / scn.key
    here.mkdir(parents=True, exist_ok=True)
    db_path = here / "records.db"
    console.print(f"[bold]{scn.key}[/]: {scn.title}")
    loop = new_event_loop()
    sim = start_sim(here, scn.sim)
    gateway: ChildProcess | None = None
    refs: dict[str, ChildProcess] = {}
    try:
        gateway = start_gateway(here, sim.url, db_path)
        console.print(
            f"  sim pid {sim.pid} on {sim.url}, gateway pid {gateway.pid} on {gateway.url}"
        )
        for name in references:
            refs[name] = ref = REFERENCE_STARTERS[name](here, sim.url)
            console.print(f"  {name} pid {ref.pid} on {ref.url} (reference: {REFERENCES[name]})")
        sides = run_interruptibly(
            loop,
            drive_scenario(
                scn,
                levels,
                sim,
                gateway,
                rounds=rounds,
                measure_s=measure_s,
                console=console,
                references=refs,
            ),
        )
        t0 = time.monotonic()
        rc = gateway.stop()  # SIGINT: the gateway flushes its records, then exits
        stop_s = time.monotonic() - t0
    finally:
        for ref in refs.values():
            ref.stop()
        if gateway is not None:
            gateway.stop()
        sim.stop()
        loop.close()
    log = gateway.log_text()
    m = re.search(r"stopped; (\d+) records written", log)
    bad = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")
    problems = [ln for ln in log.splitlines() if bad.search(ln)]
    records = read_records(db_path)
    return {
        "title": scn.title,
        "sim": scn.sim,
        "gateway_exit_status": rc,
        "gateway_stop_s": stop_s,
        "gateway_reported_written": int(m.group(1)) if m else None,
        "gateway_log_problems": problems[:20],
        "levels": {c: level_summary(scn, c, sides[c], records) for c in levels},
    }


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def install_interrupt_handlers() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, so the finally blocks stop the children
    (SIGINT explicitly: a shell starting us in the background may have left it ignored)."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def run_interruptibly(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, _T]) -> _T:
    """Run coro on loop; Ctrl-C / SIGTERM cancel it and surface as KeyboardInterrupt.

    (A Python-level handler alone is not enough: under uvloop the exception can be lost.)
    """
    task = loop.create_task(coro)
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, task.cancel)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        install_interrupt_handlers()


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        msg = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not levels or any(c < 1 for c in levels):
        raise argparse.ArgumentTypeError(f"levels must be integers >= 1, got {text!r}")
    return levels


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one round of 1.5 s per side and level")
    p.add_argument("--levels", type=parse_levels, default=list(DEFAULT_LEVELS),
                   help="concurrent streams, comma-separated (default 1,16,64,256)")  # fmt: skip
    p.add_argument("--scenario", choices=("zero", "paced", "both"), default="both")
    p.add_argument("--duration", type=float, help="measured seconds per segment (default 4)")
    p.add_argument(
        "--tokens",
        type=int,
        help="tokens per stream instead of the scenario's (1: fixed costs only)",
    )
    p.add_argument("--rounds", type=int, help="direct/gateway rounds per level (default 2)")
    p.add_argument("--json", metavar="PATH", help="write all results as JSON")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, SQLite)")
    p.add_argument(
        "--bare-relay",
        action="store_true",
        help="also measure bench/_bare_relay.py, a TCP pipe on uvloop (the floor for Python)",
    )
    p.add_argument(
        "--bare-relay-work-us",
        type=float,
        default=0.0,
        metavar="US",
        help="with --bare-relay: the pipe burns US microseconds of CPU per upstream read "
        "(a stand-in for measuring work: how CPU per request moves the latency)",
    )
    p.add_argument(
        "--nginx",
        action="store_true",
        help="also measure nginx as a plain reverse proxy in the same run (the floor)",
    )
    args = p.parse_args(argv)
    measure_s = args.duration or (1.5 if args.quick else 4.0)
    rounds = args.rounds or (1 if args.quick else 2)
    keys = ["zero", "paced"] if args.scenario == "both" else [args.scenario]
    references = tuple(n for n, on in (("nginx", args.nginx), ("bare", args.bare_relay)) if on)
    if args.bare_relay_work_us and not args.bare_relay:
        p.error("--bare-relay-work-us needs --bare-relay")
    if args.bare_relay_work_us:
        work_us = args.bare_relay_work_us
        REFERENCE_STARTERS["bare"] = functools.partial(start_bare_relay, work_us=work_us)
        REFERENCES["bare"] += f", burning {work_us:g} µs of CPU per upstream read"

    console = Console() if sys.stdout.isatty() else Console(width=160)
    install_interrupt_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="infersight-bench-"))
    started = time.time()
    results: dict[str, Any] = {
        "benchmark": "gateway_overhead",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "settings": {
            "levels": args.levels,
            "rounds": rounds,
            "measure_s": measure_s,
            "warmup_s": {k: SCENARIOS[k].warmup_s for k in keys},
        },
        "scenarios": {},
    }
    console.print(
        f"gateway overhead · {results['date']} · {os.cpu_count()} CPUs · levels {args.levels} · "
        f"{rounds} round(s) × {measure_s:g} s per side · work dir {workdir}"
    )
    effective: dict[str, Scenario] = {}
    try:
        for key in keys:
            scn = effective[key] = SCENARIOS[key]
            if args.tokens:
                sim = {**scn.sim, "tokens": args.tokens}
                title = f"{scn.title.split(',')[0]}, {args.tokens} token(s) per stream"
                scn = effective[key] = dataclasses.replace(
                    scn, sim=sim, tokens=args.tokens, title=title
                )
            results["scenarios"][key] = run_scenario(
                scn, args.levels, workdir, rounds=rounds, measure_s=measure_s,
                console=console, references=references,
            )  # fmt: skip
    except KeyboardInterrupt:
        console.print("[red]interrupted; child processes stopped[/]")
        return 130
    except (RuntimeError, FileNotFoundError) as exc:
        console.print(f"[red]could not run: {exc}[/]")
        return 1
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    results["wall_s"] = time.time() - started
    # the targets are defined for the scenarios as they are, not for another stream length
    results["targets"] = [] if args.tokens else evaluate_targets(results)

    console.print()
    for key, scn in results["scenarios"].items():
        print_scenario(console, effective[key], scn["levels"])
        console.print(
            f"  gateway: stopped with SIGINT in {scn['gateway_stop_s']:.2f} s, exit status "
            f"{scn['gateway_exit_status']}, said {scn['gateway_reported_written']} records written"
        )
        for line in scn["gateway_log_problems"]:
            console.print(f"  [yellow]gateway log: {line}[/]")
        console.print()
    others = [
        lv[side]["other_core_fraction"]
        for scn in results["scenarios"].values()
        for lv in scn["levels"].values()
        for side in ("direct", "gateway")
        if not math.isnan(lv[side]["other_core_fraction"])
    ]
    results["max_other_jobs_core_fraction"] = max(others, default=math.nan)
    if others and max(others) > 0.10:
        console.print(
            f"[yellow]note: other processes used up to {max(others):.0%} of a core during some "
            "segments (column 'other jobs'); the figures of those levels are disturbed.[/]"
        )
    print_targets(console, results)
    console.print(f"[dim]total {results['wall_s']:.0f} s[/]")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str, allow_nan=True))
        console.print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
