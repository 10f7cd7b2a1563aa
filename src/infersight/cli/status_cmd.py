"""`infersight status`: a live terminal view of the newest numbers the running service stored.

    infersight status --config infersight.yaml            # refreshes every 2 s; Ctrl-C to quit
    infersight status --db infersight.db --once           # one snapshot, then exit

Reading only: `infersight run` (or `demo`) writes the samples; gathering lives in
`infersight.status_view`, this module renders. Exit codes: 0 ok; 1 no database; 2 bad
arguments or config.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from infersight.cli._common import (
    CliError,
    add_config_option,
    fail,
    opened_store,
    settings_from_args,
)
from infersight.clock import SystemClock
from infersight.core.clock import Clock
from infersight.settings import Settings
from infersight.status_view import Section, StatusSnapshot, gather_status
from infersight.store.base import Store

CLOCK: Clock = SystemClock()  # tests replace it with a FakeClock
DEFAULT_INTERVAL_S: Final = 2.0
GIB: Final = 1024.0**3
NO_DATABASE_HINT: Final = (
    "Start infersight (`infersight run --config FILE`) so it records data, or point --db / "
    "--config at the store it writes."
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="live view of GPUs, engines, serving, host, collectors and cost",
        description="Show the newest GPU, engine, request, host, collector and cost numbers "
        "that the running infersight service stored, refreshed every --interval seconds.",
    )
    add_config_option(p)
    p.add_argument("--db", metavar="PATH", help="SQLite database file; overrides store.path")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    p.add_argument(
        "--interval",
        type=_interval_arg,
        default=DEFAULT_INTERVAL_S,
        metavar="SECONDS",
        help=f"seconds between refreshes (default: {DEFAULT_INTERVAL_S:g})",
    )
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    try:
        settings = settings_from_args(args, db_path=args.db)
        with opened_store(settings.store, hint=NO_DATABASE_HINT) as store:
            if args.once:
                console.print(_view(store, settings))
                return 0
            return _live(console, store, settings, args.interval)
    except CliError as exc:
        return fail(str(exc), exit_code=exc.exit_code)


def _interval_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(
            f"invalid --interval {text!r}: expected seconds between 0.1 and 3600, e.g. 2"
        )
    return value


def _view(store: Store, settings: Settings) -> RenderableType:
    return render_status(gather_status(store, settings, now=CLOCK.now()), settings.store.path)


def _live(console: Console, store: Store, settings: Settings, interval_s: float) -> int:
    try:
        with Live(_view(store, settings), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(interval_s)
                live.update(_view(store, settings), refresh=True)
    except KeyboardInterrupt:
        return 0


# -- rendering ---------------------------------------------------------------------------------


def render_status(snap: StatusSnapshot, store_path: str) -> RenderableType:
    """Every section, in a fixed order; empty ones show their hint."""
    when = datetime.fromtimestamp(snap.now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts: list[RenderableType] = [
        Text(f"infersight status · {when} · store {store_path}", style="bold")
    ]
    sections: tuple[tuple[Section, str, Table | None], ...] = (
        ("gpus", "GPUs", _gpu_table(snap)),
        ("engines", "Engines", _engine_table(snap)),
        ("serving", "Serving", _serving_table(snap)),
        ("host", "Host", _host_table(snap)),
        ("collectors", "Collectors", _collector_table(snap)),
        ("costs", "Cost", _cost_table(snap)),
    )
    for key, title, table in sections:
        if table is not None:
            parts.append(table)
        else:
            hint = snap.hints.get(key, "no data yet")
            parts.append(Text.assemble((f"{title}: ", "bold"), ("no data yet", "yellow")))
            parts.append(Text(f"  {hint}", style="dim"))
    return Group(*parts)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    return table


def _gpu_table(snap: StatusSnapshot) -> Table | None:
    if not snap.gpus:
        return None
    table = _table("GPUs", "GPU", "name", "upstream", "util", "memory", "power", "temp")
    for g in snap.gpus:
        memory = "-"
        if g.memory_used_bytes is not None:
            total = g.memory_total_bytes
            memory = f"{g.memory_used_bytes / GIB:.1f}" + (
                f" / {total / GIB:.1f} GiB" if total else " GiB"
            )
        table.add_row(
            Text(g.gpu),
            Text(g.name or "-"),
            Text(g.upstream or "(this host)"),
            _pct(g.utilization_ratio),
            memory,
            _num(g.power_watts, ".0f", " W"),
            _num(g.temperature_celsius, ".0f", " °C"),
        )
    return table


def _engine_table(snap: StatusSnapshot) -> Table | None:
    if not snap.engines:
        return None
    table = _table("Engines", "upstream", "engine", "running", "waiting", "KV cache")
    for e in snap.engines:
        table.add_row(
            Text(e.upstream),
            Text(e.engine or "-"),
            _num(e.requests_running, "g"),
            _num(e.requests_waiting, "g"),
            _pct(e.kv_cache_usage_ratio),
        )
    return table


def _serving_table(snap: StatusSnapshot) -> Table | None:
    if not snap.serving:
        return None
    table = _table("Serving", "model", "req/s", "errors", "TTFT p95", "tokens/s", "from")
    for s in snap.serving:
        if s.basis == "rollup":
            basis = "minute " + datetime.fromtimestamp(s.as_of, UTC).strftime("%H:%M")
        else:
            basis = "last 5 min"
        ttft = None if s.ttft_p95_s is None else s.ttft_p95_s * 1000.0
        table.add_row(
            Text(s.model),
            _num(s.requests_per_s, ".2f"),
            _pct(s.error_ratio),
            _num(ttft, ".0f", " ms"),
            _num(s.output_tokens_per_s, ".1f"),
            basis,
        )
    return table


def _host_table(snap: StatusSnapshot) -> Table | None:
    h = snap.host
    if h is None:
        return None
    table = _table("Host", "CPU", "memory")
    memory = "-"
    if h.memory_used_bytes is not None:
        memory = f"{h.memory_used_bytes / GIB:.1f}" + (
            f" / {h.memory_total_bytes / GIB:.1f} GiB" if h.memory_total_bytes else " GiB"
        )
    table.add_row(_pct(h.cpu_utilization_ratio), memory)
    return table


def _collector_table(snap: StatusSnapshot) -> Table | None:
    if not snap.collectors:
        return None
    table = _table("Collectors", "collector", "state", "last seen")
    for c in snap.collectors:
        if c.stale:
            state = Text("stale", style="yellow")
        else:
            state = Text("up", style="green") if c.up else Text("down", style="bold red")
        table.add_row(Text(c.collector), state, f"{max(0.0, snap.now - c.last_seen):.0f} s ago")
    return table


def _cost_table(snap: StatusSnapshot) -> Table | None:
    if not snap.costs:
        return None
    table = _table(
        "Cost", "upstream", "USD/h", "USD/1M tokens", "idle USD/h", "month (proj.)", "budget left"
    )
    for c in snap.costs:
        table.add_row(
            Text(c.upstream),
            _num(c.usd_per_hour, ",.2f"),
            _num(c.usd_per_1m_output_tokens, ",.2f"),
            _num(c.idle_usd_per_hour, ",.2f"),
            _num(c.projected_month_usd, ",.0f"),
            _num(c.budget_remaining_usd, ",.0f"),
        )
    return table


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.0f} %"


def _num(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"
