"""`infersight stats`: latency, errors and throughput of recent requests, from the store."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from infersight.cli._common import CliError, opened_store
from infersight.cli._durations import duration_arg, format_duration
from infersight.clock import SystemClock
from infersight.core.records import SOURCES
from infersight.settings import ConfigError, Settings, load_settings
from infersight.store.base import RequestSummary

BY_CHOICES: Final = ("model", "upstream", "client", "route", "status", "error_class")
QUANTILES: Final = (0.5, 0.95, 0.99)
DEFAULT_WINDOW_S: Final = 15 * 60.0
NO_DATABASE_HINT: Final = (
    "Start the gateway (`infersight run --config FILE`) and send traffic through it, or point "
    "--db / --config at an existing store."
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "stats",
        help="latency, errors and throughput of recent requests",
        description="Summarise the requests the gateway recorded over a recent window.",
    )
    p.add_argument(
        "--window",
        type=duration_arg,
        default=DEFAULT_WINDOW_S,
        metavar="DURATION",
        help="how far back to look: 30s, 15m, 2h, 7d (default: 15m)",
    )
    p.add_argument("--config", metavar="FILE", help="infersight YAML config (store.path)")
    p.add_argument("--db", metavar="PATH", help="SQLite database file; overrides store.path")
    p.add_argument("--by", choices=BY_CHOICES, default="model", help="group rows by this field")
    p.add_argument(
        "--sources",
        type=_sources_arg,
        default=("user",),
        metavar="LIST",
        help=f"comma-separated traffic sources ({','.join(SOURCES)}) or 'all' (default: user)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False)
    try:
        settings = _settings(args.config, args.db)
    except ConfigError as exc:
        err.print(f"infersight stats: {exc}", markup=False)
        return 2
    store_settings = settings.store
    if args.db is not None:
        store_settings = store_settings.model_copy(update={"path": args.db})
    window_s: float = args.window
    sources: tuple[str, ...] = args.sources
    end = SystemClock().now()
    start = end - window_s
    try:
        with opened_store(store_settings, hint=NO_DATABASE_HINT) as store:
            groups = store.summarize(
                start, end, group_by=(args.by,), quantiles=QUANTILES, sources=sources
            )
            total = store.summarize(start, end, group_by=(), quantiles=QUANTILES, sources=sources)
            all_sources = store.count_records(start, end) if not groups else 0
    except CliError as exc:
        err.print(f"infersight stats: {exc}", markup=False)
        return exc.exit_code

    if args.json:
        payload = {
            "window_s": window_s,
            "start": start,
            "end": end,
            "by": args.by,
            "sources": list(sources),
            "groups": [_summary_json(s) for s in groups],
            "total": _summary_json(total[0]) if total else None,
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    out = Console(highlight=False)
    if not groups:
        out.print(_empty_message(settings, window_s, sources, all_sources), markup=False)
        return 0
    out.print(_table(groups, total[0] if len(groups) > 1 else None, args.by, window_s, sources))
    return 0


def _settings(config: str | None, db: str | None) -> Settings:
    # With only --db there is nothing to read from a config file: use the defaults.
    if config is None and db is not None:
        return Settings()
    return load_settings(config)


def _sources_arg(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "all":
        return tuple(SOURCES)
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in SOURCES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"invalid sources {text!r}: expected a comma-separated list of "
            f"{', '.join(SOURCES)}, or 'all'"
        )
    return names


def _empty_message(
    settings: Settings, window_s: float, sources: Sequence[str], all_sources: int
) -> str:
    gateway = f"http://{settings.gateway.host}:{settings.gateway.port}/v1"
    message = (
        f"no requests in the last {format_duration(window_s)}; "
        f"send traffic through the gateway at {gateway}"
    )
    if all_sources:
        message += (
            f"\n({all_sources} requests from other sources than {', '.join(sources)} "
            "in this window: pass --sources all to include them)"
        )
    return message


def _table(
    groups: Sequence[RequestSummary],
    total: RequestSummary | None,
    by: str,
    window_s: float,
    sources: Sequence[str],
) -> Table:
    table = Table(
        title=f"last {format_duration(window_s)} · {', '.join(sources)} traffic · by {by}",
        caption="percentiles p50 / p95 / p99; ITL is each request's mean inter-token latency",
    )
    table.add_column(by)
    for name in (
        "requests",
        "errors",
        "TTFT ms",
        "ITL ms",
        "TPOT ms",
        "E2E s",
        "tok/s/req",
        "tokens/s",
    ):
        table.add_column(name, justify="right")
    for summary in groups:
        table.add_row(*_row(summary))
    if total is not None:
        table.add_section()
        table.add_row(*_row(total, label="all"))
    return table


def _row(summary: RequestSummary, label: str | None = None) -> list[str]:
    if label is None:
        value = summary.group[0][1] if summary.group else None
        label = "(none)" if value is None else value
    speed = summary.output_tokens_per_s_mean
    return [
        label,
        str(summary.requests),
        f"{summary.errors} ({summary.error_rate:.1%})",
        _triple(summary.ttft_s, 1000.0),
        _triple(summary.itl_s, 1000.0),
        _triple(summary.tpot_s, 1000.0),
        _triple(summary.e2e_s, 1.0),
        "-" if speed is None else _number(speed),
        _number(summary.throughput_tokens_per_s),
    ]


def _triple(values: dict[float, float], scale: float) -> str:
    if not values:
        return "-"
    return " / ".join(_number(values[q] * scale) if q in values else "-" for q in QUANTILES)


def _number(value: float) -> str:
    # Three significant figures or so, without scientific notation.
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _summary_json(summary: RequestSummary) -> dict[str, Any]:
    def quantiles(values: dict[float, float]) -> dict[str, float]:
        return {f"p{q * 100:g}": v for q, v in values.items()}

    return {
        "group": dict(summary.group),
        "requests": summary.requests,
        "errors": summary.errors,
        "error_rate": summary.error_rate,
        "ttft_s": quantiles(summary.ttft_s),
        "itl_s": quantiles(summary.itl_s),
        "tpot_s": quantiles(summary.tpot_s),
        "e2e_s": quantiles(summary.e2e_s),
        "output_tokens_per_s_mean": summary.output_tokens_per_s_mean,
        "completion_tokens": summary.completion_tokens,
        "throughput_tokens_per_s": summary.throughput_tokens_per_s,
    }
