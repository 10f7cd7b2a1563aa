"""`infersight loadtest`: capacity planning against any OpenAI-compatible endpoint.

    infersight loadtest --endpoint http://host:8000/v1 --model M concurrency 16 --duration 60s
    infersight loadtest --endpoint URL --model M rate 20 --burstiness 0.5
    infersight loadtest --endpoint URL --model M sweep --concurrency 1,2,4,8,16,32
    infersight loadtest --endpoint URL --model M search --slo-ttft-ms 500 --slo-tpot-ms 50

Exit codes: 0 done (also when auto-stopped), 1 the endpoint cannot be tested (unreachable, not
OpenAI-compatible), 2 bad arguments, 130 interrupted (the partial report is written).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from infersight.cli._common import (
    CliError,
    add_config_option,
    fail,
    opened_store,
    settings_from_args,
)
from infersight.cli._durations import duration_arg
from infersight.clock import SystemClock
from infersight.core.clock import Clock
from infersight.loadtest.analysis import Pricing, capacity_summary
from infersight.loadtest.output import write_reports
from infersight.loadtest.persist import loadtest_row
from infersight.loadtest.preflight import EndpointError
from infersight.loadtest.profiles import (
    DEFAULT_CONCURRENCY_LADDER,
    Level,
    parse_ladder,
    sweep_levels,
)
from infersight.loadtest.progress import LiveProgress, PrintProgress, ProgressState
from infersight.loadtest.results import Slo
from infersight.loadtest.runner import LoadTestResult, RunSpec, run_loadtest
from infersight.loadtest.search import SearchSpec
from infersight.loadtest.view import render_summary
from infersight.loadtest.workload import Workload, WorkloadError, load_prompts, parse_length
from infersight.pricing import UnknownInstanceTypeError, resolve_pricing
from infersight.settings import PricingSettings

CLOCK: Clock = SystemClock()
PROFILES = ("concurrency", "rate", "sweep", "search")


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value

    return parse


def _duration_or_zero(text: str) -> float:
    """A duration like 3s, or 0 / 0s for none."""
    if text.strip().lower() in ("0", "0s"):
        return 0.0
    return duration_arg(text)


def _common(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every profile takes. On profile parsers they default to SUPPRESS, so a
    value given before the profile name is not overwritten by the profile's default."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = p.add_argument_group("endpoint and workload")
    g.add_argument(
        "--endpoint",
        metavar="URL",
        default=d(None),
        help="OpenAI-compatible API base, e.g. http://host:8000/v1 (or a gateway)",
    )
    g.add_argument("--model", default=d(None), help="model name sent in each request")
    g.add_argument(
        "--api",
        choices=("chat", "completions"),
        default=d("chat"),
        help="/v1/chat/completions (default) or /v1/completions",
    )
    g.add_argument("--api-key", default=d(None), help="bearer token (default: $OPENAI_API_KEY)")
    g.add_argument(
        "--prompts",
        metavar="FILE.jsonl",
        default=d(None),
        help='prompts, one JSON object a line: {"prompt": ...} or {"messages": ...}',
    )
    g.add_argument(
        "--input-tokens",
        default=d("128"),
        metavar="SPEC",
        help="synthetic prompt length: N, uniform:LO:HI or normal:MEAN:STD (128)",
    )
    g.add_argument(
        "--output-tokens",
        default=d("128"),
        metavar="SPEC",
        help="max_tokens per request: N, uniform:LO:HI or normal:MEAN:STD (128)",
    )
    g.add_argument(
        "--ignore-eos",
        action="store_true",
        default=d(False),
        help="send ignore_eos: true (vLLM, SGLang) so every answer has max_tokens",
    )
    g.add_argument("--seed", type=int, default=d(0), help="seed for prompts, lengths, arrivals")
    g = p.add_argument_group("levels")
    g.add_argument(
        "--duration",
        type=duration_arg,
        default=d(None),
        metavar="DUR",
        help="measured time per level, e.g. 30s (default 30s unless --requests)",
    )
    g.add_argument(
        "--requests",
        type=_positive(int),
        default=d(None),
        metavar="N",
        help="measured requests per level (instead of --duration)",
    )
    g.add_argument(
        "--warmup",
        type=_duration_or_zero,
        default=d(3.0),
        metavar="DUR",
        help="warm-up per level, sent but not measured (default 3s)",
    )
    g.add_argument(
        "--ramp",
        type=_duration_or_zero,
        default=d(0.0),
        metavar="DUR",
        help="closed loop: start the workers evenly over DUR instead of all at once",
    )
    g.add_argument(
        "--timeout",
        type=duration_arg,
        default=d(300.0),
        metavar="DUR",
        help="per-request limit for headers and between body reads (300s)",
    )
    g.add_argument(
        "--no-auto-stop",
        dest="auto_stop",
        action="store_false",
        default=d(True),
        help="keep going when the endpoint is saturated",
    )
    g.add_argument(
        "--max-in-flight",
        type=_positive(int),
        default=d(10_000),
        metavar="N",
        help="open loop: stop a level with more requests outstanding (10000)",
    )
    g = p.add_argument_group("SLOs (goodput, search)")
    for name, what in (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "longest inter-token gap"),
                       ("e2e", "end-to-end latency")):  # fmt: skip
        g.add_argument(
            f"--slo-{name}-ms",
            type=_positive(float),
            default=d(None),
            metavar="MS",
            help=f"{what} objective in ms",
        )
    g = p.add_argument_group("server metrics")
    g.add_argument(
        "--engine-metrics",
        metavar="URL",
        default=d(None),
        help="the engine's Prometheus /metrics (queue, KV cache, running, GPU)",
    )
    g.add_argument(
        "--gateway",
        metavar="URL",
        default=d(None),
        help="an infersight gateway whose /metrics to sample",
    )
    g.add_argument(
        "--capture-interval",
        type=duration_arg,
        default=d(1.0),
        metavar="DUR",
        help="sampling interval (1s)",
    )
    g = p.add_argument_group("capacity and cost")
    g.add_argument(
        "--target-rate",
        type=_positive(float),
        default=d(None),
        metavar="R",
        help="peak requests/s to size replicas for (Little's law)",
    )
    g.add_argument(
        "--headroom",
        type=float,
        default=d(1.0),
        help="spare capacity factor for the replica count, >= 1 (1.0)",
    )
    g.add_argument(
        "--instance-type", default=d(None), help="price from the table, e.g. ml.g5.xlarge"
    )
    g.add_argument(
        "--usd-per-hour",
        type=_positive(float),
        default=d(None),
        help="price of one replica per hour (beats the table)",
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--out",
        metavar="DIR",
        default=d(None),
        help="report directory (default ./loadtest-YYYYmmdd-HHMMSS)",
    )
    g.add_argument("--no-charts", dest="charts", action="store_false", default=d(True))
    g.add_argument(
        "--db", metavar="PATH", default=d(None), help="SQLite store; overrides store.path"
    )
    g.add_argument(
        "--no-store",
        dest="store",
        action="store_false",
        default=d(True),
        help="do not record the run in the store",
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", default=d(True))
    g.add_argument(
        "--json", action="store_true", default=d(False), help="print the summary as JSON on stdout"
    )
    g.add_argument("--log-level", default=d("warning"), help="logging level (warning)")
    if not suppress:
        add_config_option(p)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "loadtest",
        help="load-test an OpenAI-compatible endpoint: latency vs load, knee, goodput, replicas",
        description="Drive an OpenAI-compatible endpoint (directly or through the gateway) with "
        "closed-loop or open-loop load, measure TTFT/TPOT/ITL/E2E as vLLM defines them, find "
        "the knee and the SLO goodput, and write JSON, CSV and HTML reports.",
    )
    _common(p, suppress=False)
    prof = p.add_subparsers(dest="profile", metavar="PROFILE")
    c = prof.add_parser("concurrency", help="closed loop: N requests always in flight")
    c.add_argument("n", type=_positive(int), metavar="N")
    r = prof.add_parser("rate", help="open loop: R requests/s (Poisson, or gamma with burstiness)")
    r.add_argument("rate", type=_positive(float), metavar="R")
    s = prof.add_parser("sweep", help="a ladder of concurrency or rate levels")
    ladder = s.add_mutually_exclusive_group()
    ladder.add_argument(
        "--concurrency",
        dest="ladder_c",
        metavar="LIST",
        help="e.g. 1,2,4,8,16 or geom:1:64 (default 1..128 doubling)",
    )
    ladder.add_argument("--rates", dest="ladder_r", metavar="LIST", help="e.g. 1,2,5,10,20")
    q = prof.add_parser("search", help="highest rate where enough requests meet every SLO")
    q.add_argument(
        "--attainment",
        type=float,
        default=0.99,
        help="share of requests that must meet every SLO (0.99)",
    )
    q.add_argument(
        "--start-rate",
        type=_positive(float),
        default=None,
        help="first probe rate (default: 1 / single-request E2E)",
    )
    q.add_argument("--max-rate", type=_positive(float), default=10_000.0)
    q.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        help="stop when pass and fail rates are this close (0.05)",
    )
    q.add_argument("--max-probes", type=int, default=16)
    for sp in (r, s, q):
        sp.add_argument(
            "--burstiness",
            type=_positive(float),
            default=1.0,
            help="gamma shape of inter-arrival gaps; 1 = Poisson, < 1 burstier",
        )
    for sp in (r, s):
        sp.add_argument(
            "--max-concurrency",
            type=_positive(int),
            default=None,
            help="open loop: most requests in flight (arrivals wait beyond it)",
        )
    for sp in (c, r, s, q):
        _common(sp, suppress=True)
    p.set_defaults(handler=main, parser=p)


# -- building the run ----------------------------------------------------------------------


def build_workload(args: argparse.Namespace) -> Workload:
    prompts = load_prompts(args.prompts) if args.prompts else None
    return Workload(
        model=args.model,
        api=args.api,
        input_tokens=parse_length(args.input_tokens),
        output_tokens=parse_length(args.output_tokens),
        prompts=prompts,
        ignore_eos=args.ignore_eos,
        seed=args.seed,
    )


def build_spec(args: argparse.Namespace) -> RunSpec:
    if args.duration is not None and args.requests is not None:
        raise CliError("give --duration or --requests, not both")
    duration = args.duration if args.requests is None and args.duration is not None else None
    if duration is None and args.requests is None:
        duration = 30.0
    bounds: dict[str, Any] = {"duration_s": duration, "num_requests": args.requests,
                              "warmup_s": args.warmup, "ramp_s": args.ramp}  # fmt: skip
    slo = Slo(
        ttft_s=_s(args.slo_ttft_ms), tpot_s=_s(args.slo_tpot_ms),
        max_itl_s=_s(args.slo_itl_ms), e2e_s=_s(args.slo_e2e_ms),
    )  # fmt: skip
    common: dict[str, Any] = {
        "endpoint": args.endpoint,
        "slo": slo if slo.any else None,
        "auto_stop": args.auto_stop,
        "api_key": args.api_key or os.environ.get("OPENAI_API_KEY") or None,
        "timeout_s": args.timeout,
        "seed": args.seed,
        "max_in_flight": args.max_in_flight,
        "engine_metrics_url": args.engine_metrics,
        "gateway_url": args.gateway,
        "capture_interval_s": args.capture_interval,
    }
    profile = args.profile
    if profile == "concurrency":
        return RunSpec(profile="concurrency", levels=(Level("concurrency", args.n, **bounds),),
                       **common)  # fmt: skip
    if profile == "rate":
        level = Level("rate", args.rate, burstiness=args.burstiness,
                      max_concurrency=args.max_concurrency, **bounds)  # fmt: skip
        return RunSpec(profile="rate", levels=(level,), **common)
    if profile == "sweep":
        if args.ladder_r:
            levels = sweep_levels("rate", parse_ladder(args.ladder_r, mode="rate"),
                                  burstiness=args.burstiness,
                                  max_concurrency=args.max_concurrency, **bounds)  # fmt: skip
        else:
            values = (parse_ladder(args.ladder_c, mode="concurrency") if args.ladder_c
                      else list(DEFAULT_CONCURRENCY_LADDER))  # fmt: skip
            levels = sweep_levels("concurrency", values, **bounds)
        return RunSpec(profile="sweep", levels=tuple(levels), **common)
    if not slo.any:
        raise CliError("search needs at least one SLO: --slo-ttft-ms, --slo-tpot-ms, "
                       "--slo-itl-ms or --slo-e2e-ms")  # fmt: skip
    search = SearchSpec(slo=slo, attainment=args.attainment, start_rate_per_s=args.start_rate,
                        max_rate_per_s=args.max_rate, tolerance=args.tolerance,
                        max_probes=args.max_probes)  # fmt: skip
    probe = Level("rate", 1.0, burstiness=args.burstiness, **bounds)
    return RunSpec(profile="search", search=search, probe=probe, **common)


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


def build_pricing(args: argparse.Namespace) -> Pricing | None:
    if args.instance_type is None and args.usd_per_hour is None:
        return None
    try:
        price = resolve_pricing(
            PricingSettings(instance_type=args.instance_type, usd_per_hour=args.usd_per_hour)
        )
    except UnknownInstanceTypeError as exc:
        raise CliError(f"--instance-type: {exc}; or give --usd-per-hour") from None
    if price.usd_per_instance_hour is None:
        return None
    return Pricing(price.usd_per_instance_hour, "; ".join(price.describe()[:1]))


# -- running -------------------------------------------------------------------------------


async def _run(spec: RunSpec, workload: Workload, show_progress: bool) -> LoadTestResult | None:
    console = Console(stderr=True)
    interactive = show_progress and console.is_terminal
    state = ProgressState(started=CLOCK.monotonic())
    sink = state if interactive else PrintProgress(CLOCK.monotonic(), console)
    live = LiveProgress(state, CLOCK) if interactive else None
    task = asyncio.create_task(run_loadtest(spec, workload, clock=CLOCK, progress=sink))
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    if live is not None:
        live.start()
    try:
        return await task
    except asyncio.CancelledError:
        return None  # cancelled before the first level (during the endpoint check)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        if live is not None:
            await live.stop()


def _event_loop_run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def main(args: argparse.Namespace) -> int:
    from infersight.cli._common import setup_logging

    setup_logging(args.log_level)
    if getattr(args, "profile", None) is None:
        args.parser.print_help(sys.stderr)
        return 2
    if not args.endpoint or not args.model:
        return fail("--endpoint URL and --model NAME are required")
    try:
        workload = build_workload(args)
        spec = build_spec(args)
        pricing = build_pricing(args)
        if args.headroom < 1:
            raise CliError(f"--headroom must be >= 1 (1.2 = 20 % spare), got {args.headroom}")
        settings = settings_from_args(args, db_path=args.db) if args.store else None
    except (CliError, WorkloadError, ValueError) as exc:
        return fail(str(exc))
    try:
        result = _event_loop_run(_run(spec, workload, args.progress))
    except EndpointError as exc:
        fail(str(exc))
        return 1
    if result is None:
        fail("interrupted before the load test started; nothing to report")
        return 130
    capacity = capacity_summary(
        result.levels,
        search_best_level=result.search.best_level if result.search else None,
        searched=result.search is not None,
        target_rate_per_s=args.target_rate,
        headroom=args.headroom,
        pricing=pricing,
    )
    out_dir = Path(args.out or f"loadtest-{time.strftime('%Y%m%d-%H%M%S')}")
    report, written = write_reports(result, capacity, out_dir, charts=args.charts)
    stored = None
    if settings is not None:
        stored = _store(settings, result, capacity, report, out_dir)
    if args.json:
        slim = {k: v for k, v in report.items() if k not in ("requests", "levels")}
        slim["files"] = [str(p) for p in written]
        sys.stdout.write(json.dumps(slim, indent=2) + "\n")
    else:
        console = Console(highlight=False)
        if not console.is_terminal:
            console = Console(highlight=False, width=160)
        console.print(render_summary(report, out_dir, stored))
    return 130 if result.status == "interrupted" else 0


def _store(settings: Any, result: LoadTestResult, capacity: Any, report: dict[str, Any],
           out_dir: Path) -> str | None:  # fmt: skip
    try:
        with opened_store(settings.store, hint=None) as store:
            loadtests = getattr(store, "loadtests", None)
            if loadtests is None:
                return None
            loadtests.write_loadtest(
                loadtest_row(result, capacity, report, report_path=str(out_dir.resolve()))
            )
            return str(settings.store.path)
    except CliError as exc:
        Console(stderr=True).print(f"[yellow]not recorded in the store:[/] {exc}", highlight=False)
        return None
