"""`infersight query NAME`: one metric series from the store, as a table, CSV or JSON.

    infersight query ttft_seconds --since 6h --step 5m --agg max --label quantile=0.95
    infersight query gpu_utilization --since 2d --step 1h --agg p95 --format csv

Exit codes: 0 ok (an empty result says so on stderr); 1 no database; 2 bad arguments or an
unknown metric name (the message lists close matches).
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from infersight.cli._common import (
    CliError,
    add_config_option,
    fail,
    opened_store,
    settings_from_args,
)
from infersight.cli._durations import EXPECTED, duration_arg, format_duration, parse_duration_s
from infersight.clock import SystemClock
from infersight.core.series import AGGREGATIONS
from infersight.store.base import Series

FORMATS: Final = ("table", "csv", "json")
MAX_POINTS: Final = 100_000  # buckets per series a query may ask for
WIDE_TABLE_MAX_SERIES: Final = 6  # more series than this print one row per point instead
TIME_FORMATS: Final = f"'now', a duration ago ({EXPECTED}), an ISO 8601 time or Unix seconds"
NO_DATABASE_HINT: Final = (
    "Start infersight (`infersight run`) so collectors and the gateway record data, or point "
    "--db / --config at an existing store."
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "query",
        help="print one metric series from the store",
        description="Print a metric series (collector samples or series derived from requests, "
        "e.g. ttft_seconds, requests_per_s) bucketed by --step and aggregated with --agg.",
    )
    p.add_argument("name", metavar="NAME", help="metric name, e.g. ttft_seconds")
    p.add_argument("--since", default="1h", help=f"range start: {TIME_FORMATS} (default: 1h)")
    p.add_argument("--until", default="now", help=f"range end: {TIME_FORMATS} (default: now)")
    p.add_argument(
        "--step",
        type=duration_arg,
        default=60.0,
        metavar="DURATION",
        help="bucket width: 10s, 1m, 1h, 1d (default: 1m)",
    )
    p.add_argument("--agg", choices=AGGREGATIONS, default="avg", help="aggregation per bucket")
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep series whose label KEY equals VALUE; repeat for several",
    )
    p.add_argument("--format", choices=FORMATS, default="table", help="output format")
    add_config_option(p)
    p.add_argument("--db", metavar="PATH", help="SQLite database file; overrides store.path")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    now = SystemClock().now()
    try:
        labels = parse_labels(args.label)
        start = parse_time(args.since, now, "--since")
        end = parse_time(args.until, now, "--until")
        step_s: float = args.step
        if end <= start:
            raise CliError(f"--since must be before --until, got {args.since!r}..{args.until!r}")
        if (end - start) / step_s > MAX_POINTS:
            raise CliError(
                f"{format_duration(end - start)} at --step {format_duration(step_s)} is over "
                f"{MAX_POINTS:,} points: raise --step or shorten --since"
            )
        settings = settings_from_args(args, db_path=args.db)
        with opened_store(settings.store, hint=NO_DATABASE_HINT) as store:
            names = store.metric_names()
            if args.name not in names:
                return fail(unknown_metric_message(args.name, names, settings.store.path))
            result = store.series(
                args.name, start, end, step_s=step_s, agg=args.agg, labels=labels or None
            )
    except CliError as exc:
        return fail(str(exc), exit_code=exc.exit_code)
    render(result, args, start, end, step_s)
    if not result:
        selection = "".join(f" {k}={v}" for k, v in labels.items())
        Console(stderr=True, highlight=False).print(
            f"no data for {args.name}{selection} between {_iso(start)} and {_iso(end)}",
            markup=False,
        )
    return 0


def parse_labels(items: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"invalid --label {item!r}: expected KEY=VALUE, e.g. model=llama")
        labels[key.strip()] = value
    return labels


def parse_time(text: str, now: float, option: str) -> float:
    """'now', a duration ago, Unix seconds, or an ISO 8601 time (UTC unless it says)."""
    value = text.strip()
    if value.lower() == "now":
        return now
    try:
        return now - parse_duration_s(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"invalid {option} {text!r}: expected {TIME_FORMATS}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def unknown_metric_message(name: str, names: Sequence[str], path: str) -> str:
    if not names:
        return (
            f"unknown metric {name!r}: no metrics stored in {path!r} yet (collectors write "
            "samples while infersight runs; request series appear after the first rollup)"
        )
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    close += [n for n in names if name.lower() in n.lower() and n not in close][: 5 - len(close)]
    hint = f"close matches: {', '.join(close)}" if close else f"known: {', '.join(names[:20])}"
    return f"unknown metric {name!r}; {hint}"


def render(
    result: Sequence[Series], args: argparse.Namespace, start: float, end: float, step_s: float
) -> None:
    if args.format == "json":
        payload = {
            "name": args.name,
            "agg": args.agg,
            "step_s": step_s,
            "start": start,
            "end": end,
            "series": [{"labels": dict(s.labels), "points": s.points} for s in result],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    elif args.format == "csv":
        keys = sorted({k for s in result for k, _ in s.labels})
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["time", "ts", *keys, "value"])
        for s in result:
            labels = dict(s.labels)
            for ts, value in s.points:
                writer.writerow(
                    [
                        _iso(ts),
                        repr(ts).removesuffix(".0"),
                        *(labels.get(k, "") for k in keys),
                        value,
                    ]
                )
    elif result:
        Console(highlight=False).print(_table(result, args.name, args.agg, step_s))


def _table(result: Sequence[Series], name: str, agg: str, step_s: float) -> Table:
    title = f"{name} · {agg} per {format_duration(step_s)} · times UTC"
    varying = [k for k in sorted({k for s in result for k, _ in s.labels}) if _varies(result, k)]
    if len(result) > WIDE_TABLE_MAX_SERIES:
        table = Table(title=title)
        for column in ("time", *varying):
            table.add_column(column)
        table.add_column("value", justify="right")
        for s in result:
            labels = dict(s.labels)
            for ts, value in s.points:
                table.add_row(_iso(ts), *(labels.get(k, "") for k in varying), _number(value))
        return table
    common = ", ".join(f"{k}={v}" for k, v in result[0].labels if k not in varying)
    table = Table(title=title, caption=common or None)
    table.add_column("time")
    by_time: dict[float, list[str]] = {}
    for i, s in enumerate(result):
        labels = dict(s.labels)
        header = ", ".join(f"{k}={labels.get(k, '')}" for k in varying) or "value"
        table.add_column(header, justify="right")
        for ts, value in s.points:
            by_time.setdefault(ts, ["-"] * len(result))[i] = _number(value)
    for ts in sorted(by_time):
        table.add_row(_iso(ts), *by_time[ts])
    return table


def _varies(result: Sequence[Series], key: str) -> bool:
    return len({dict(s.labels).get(key) for s in result}) > 1


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
