"""`infersight run` (the gateway in front of your endpoint) and `infersight demo` (the same in
front of the embedded local model, with generated traffic and a live summary)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from rich.console import Console

from infersight.cli._common import (
    CliError,
    add_config_option,
    fail,
    settings_from_args,
    setup_logging,
)
from infersight.cli.live_summary import LiveSummary
from infersight.service import GatewayService, new_event_loop
from infersight.settings import (
    ConfigError,
    PricingSettings,
    Settings,
    UpstreamSettings,
    apply_overrides,
    find_config_file,
    place_problems,
)
from infersight.startup_checks import notifier_problems
from infersight.store.migrations import StoreOpenError


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="start the gateway in front of an OpenAI-compatible endpoint")
    add_config_option(run)
    run.add_argument("--upstream", metavar="URL", help="upstream base URL (sets upstreams[0].url)")
    run.add_argument("--port", type=int, help="gateway port (default 8400)")
    run.add_argument("--host", help="address to bind (default 127.0.0.1)")
    run.add_argument("--db", metavar="PATH", help="SQLite file for records (store.path)")
    run.set_defaults(handler=main_run)

    demo = sub.add_parser(
        "demo", help="the gateway in front of the embedded local model, with demo traffic"
    )
    add_config_option(demo)
    demo.add_argument("--port", type=int, help="gateway port (default 8400)")
    demo.add_argument("--db", metavar="PATH", help="SQLite file (default infersight-demo.db)")
    demo.add_argument("--rate", type=float, metavar="REQ_PER_S", help="demo traffic rate")
    demo.add_argument("--scenario", choices=("steady", "spike"), default="steady")
    demo.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop by itself after this long"
    )
    demo.add_argument("--no-live", action="store_true", help="no live summary (plain log lines)")
    demo.set_defaults(handler=main_demo)


def main_run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(
            args, upstream_url=args.upstream, port=args.port, host=args.host, db_path=args.db
        )
        problems = notifier_problems(settings)
        if problems:  # a notifier's secret variable is unset: say where the file names it
            raise CliError(
                str(ConfigError(place_problems(problems, find_config_file(args.config))))
            )
    except CliError as exc:
        return fail(str(exc))
    except ConfigError as exc:
        return fail(str(exc))
    setup_logging(settings.log_level)
    return _run_loop(_serve(settings))


def main_demo(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args, port=args.port, db_path=args.db or "infersight-demo.db")
        if args.rate is not None:
            settings = apply_overrides(settings, {"demo.rate_per_s": args.rate}, source="--rate")
    except Exception as exc:  # ConfigError from either step
        return fail(str(exc))
    setup_logging("warning" if not args.no_live else settings.log_level)
    from infersight.demo.runner import run_demo

    return _run_loop(
        run_demo(settings, scenario=args.scenario, duration_s=args.duration, live=not args.no_live)
    )


async def _serve(settings: Settings) -> int:
    console = Console()
    try:
        service = GatewayService(settings)
    except ConfigError as exc:  # e.g. a notifier's secret variable is not set
        return fail(str(exc))
    except StoreOpenError as exc:  # not an SQLite file, a directory, no such folder
        return fail(str(exc), exit_code=1)
    try:
        await service.start()
    except OSError as exc:
        await service.stop()
        return fail(str(exc))
    console.print(f"[bold green]infersight gateway[/] listening on [cyan]{service.url}[/]")
    for up in settings.upstreams:
        models = ", ".join(up.models) if up.models else "any model"
        console.print(f"  upstream [bold]{up.name}[/] -> {up.url} ({models})")
    console.print(f"  OpenAI base URL: {service.url}/v1   metrics: {service.url}/metrics")
    console.print(f"  records: {settings.store.path}   Ctrl-C stops")
    await wait_for_signal()
    console.print("stopping: flushing records... (Ctrl-C again quits without waiting)")
    await service.stop()
    console.print(stopped_line(service))
    return 0


def stopped_line(service: GatewayService) -> str:
    """The last line of a stop: records written, and dropped ones when there were any."""
    w = service.writer
    line = f"stopped; {w.written_total} records written"
    return line + (f", {w.dropped_total} dropped (see the log)" if w.dropped_total else "")


async def wait_for_signal(timeout_s: float | None = None) -> None:
    """Return on SIGINT/SIGTERM (or after timeout_s)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout_s)
    finally:
        # a second Ctrl-C (or SIGTERM) during the stop quits at once, as users expect
        for sig in signals:
            with contextlib.suppress(NotImplementedError, ValueError, RuntimeError):
                loop.remove_signal_handler(sig)


def _run_loop(coro: Any) -> int:
    loop = new_event_loop()
    try:
        result: int = loop.run_until_complete(coro)
        return result
    except KeyboardInterrupt:
        return 130
    finally:
        loop.close()


# The demo prices its local model as if it ran on the smallest SageMaker GPU instance, so
# that cost figures appear; a configured upstream's own pricing wins.
DEMO_PRICING = PricingSettings(instance_type="ml.g5.xlarge", monthly_budget_usd=1000.0)


def local_upstream(
    settings: Settings, url: str, model: str, *, engine_metrics_url: str | None = None
) -> Settings:
    """The demo's settings: one upstream, the embedded model."""
    pricing = settings.upstreams[0].pricing or DEMO_PRICING
    upstream = UpstreamSettings(
        name="local", url=url, models=[], pricing=pricing, engine_metrics_url=engine_metrics_url
    )
    return settings.model_copy(update={"upstreams": [upstream]})


__all__ = [
    "LiveSummary",
    "local_upstream",
    "main_demo",
    "main_run",
    "stopped_line",
    "wait_for_signal",
]
