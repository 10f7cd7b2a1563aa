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
    checked_url,
    fail,
    opened_store,
    settings_from_args,
)
from infersight.cli.loadtest_args import add_common_options, add_profiles
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
from infersight.loadtest.report_json import report_dict
from infersight.loadtest.results import Slo
from infersight.loadtest.runner import LoadTestResult, RunSpec, run_loadtest
from infersight.loadtest.search import SearchSpec
from infersight.loadtest.view import render_summary
from infersight.loadtest.workload import Workload, WorkloadError, load_prompts, parse_length
from infersight.pricing import UnknownInstanceTypeError, resolve_pricing
from infersight.settings import PricingSettings

CLOCK: Clock = SystemClock()
PROFILES = ("concurrency", "rate", "sweep", "search")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "loadtest",
        help="load-test an OpenAI-compatible endpoint: latency vs load, knee, goodput, replicas",
        description="Drive an OpenAI-compatible endpoint (directly or through the gateway) with "
        "closed-loop or open-loop load, measure TTFT/TPOT/ITL/E2E as vLLM defines them, find "
        "the knee and the SLO goodput, and write JSON, CSV and HTML reports.",
    )
    add_common_options(p, suppress=False)
    add_profiles(p)
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
    # unvalidated: resolve_pricing reports an unknown type with its close matches
    settings = PricingSettings.model_construct(
        instance_type=args.instance_type, usd_per_hour=args.usd_per_hour
    )
    try:
        price = resolve_pricing(settings)
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
        args.endpoint = checked_url("--endpoint", args.endpoint)
        if args.engine_metrics:
            args.engine_metrics = checked_url(
                "--engine-metrics", args.engine_metrics, example="http://host:8000/metrics"
            )
        if args.gateway:
            args.gateway = checked_url("--gateway", args.gateway, example="http://127.0.0.1:8400")
        workload = build_workload(args)
        spec = build_spec(args)
        pricing = build_pricing(args)
        if args.headroom < 1:
            raise CliError(f"--headroom must be >= 1 (1.2 = 20 % spare), got {args.headroom}")
        settings = settings_from_args(args, db_path=args.db) if args.store else None
        out_dir = prepare_out_dir(args.out or f"loadtest-{time.strftime('%Y%m%d-%H%M%S')}")
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
    # stored first: a report file that cannot be written loses nothing
    report = report_dict(result, capacity)
    stored = None
    if settings is not None:
        stored = _store(settings, result, capacity, report, out_dir)
    try:
        report, written = write_reports(
            result, capacity, out_dir, charts=args.charts, report=report
        )
    except OSError as exc:
        kept = f"the run is stored in {stored}" if stored else "the run was not stored"
        fail(f"--out: cannot write the reports to {out_dir}: {exc.strerror or exc} ({kept})")
        return 1
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


def prepare_out_dir(out: str) -> Path:
    """The report folder `out`, created now (before any load is sent), so a path that cannot
    hold the reports is a usage error up front. Raises CliError."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise CliError(f"--out: {out} is a file, not a folder (name a folder for the reports)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(
            f"--out: cannot create the folder {out}: {exc.strerror or exc} "
            "(name a folder you can write to)"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CliError(f"--out: cannot write into {out} (name a folder you can write to)")
    return path


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
