"""`infersight demo`: the embedded model, the gateway in front of it, generated traffic and a
live summary, stopped cleanly by Ctrl-C (or after --duration seconds)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from rich.console import Console
from rich.live import Live

from infersight.cli._common import fail
from infersight.cli.live_summary import LiveSummary
from infersight.cli.run_cmd import local_upstream, stopped_line, wait_for_signal
from infersight.demo.traffic import TrafficGenerator
from infersight.localmodel.server import (
    LocalModelError,
    LocalModelServer,
    LocalModelUnavailable,
    check_available,
)
from infersight.quality.settings import SweepSettings
from infersight.service import GatewayService
from infersight.settings import ConfigError, Settings
from infersight.store.migrations import StoreOpenError

log = logging.getLogger(__name__)
REFRESH_S = 2.0


async def run_demo(
    settings: Settings, *, scenario: str, duration_s: float | None, live: bool
) -> int:
    console = Console()
    live = live and console.is_terminal  # redrawn tables only on a terminal; lines otherwise
    try:
        check_available()
    except LocalModelUnavailable as exc:
        return fail(str(exc))
    model = LocalModelServer(n_threads=settings.demo.model_threads)
    with console.status("starting the embedded model (SmolLM2-135M-Instruct on llama.cpp)..."):
        try:
            await asyncio.to_thread(model.start)
        except LocalModelError as exc:
            return fail(str(exc))
    service: GatewayService | None = None
    traffic: TrafficGenerator | None = None
    try:
        metrics_url = await _engine_metrics_url(model.url)
        settings = demo_quality(
            local_upstream(settings, model.url, model.model_name, engine_metrics_url=metrics_url)
        )
        try:
            service = GatewayService(settings)
        except ConfigError as exc:
            return fail(str(exc))
        except StoreOpenError as exc:  # --db names a non-SQLite file, a folder, no such dir
            return fail(str(exc), exit_code=1)
        try:
            await service.start()
        except OSError as exc:
            return fail(str(exc))
        d = settings.demo
        traffic = TrafficGenerator(
            service.clock,
            service.url,
            rate_per_s=d.rate_per_s,
            concurrency=d.concurrency,
            max_tokens=d.max_tokens,
            model=model.model_name,
            scenario=scenario,
        )
        traffic.start()
        price = settings.upstreams[0].pricing
        dashboard = f" · dashboard {service.url}/" if service.app.dashboard is not None else ""
        header = [
            f"infersight demo · gateway {service.url}/v1{dashboard} · metrics "
            f"{service.url}/metrics",
            f"model {model.model_name} (llama.cpp at {model.url}) · records in "
            f"{settings.store.path} · scenario {scenario} · Ctrl-C stops",
            "alerts: default rule pack, log notifier · quality: sweep 'demo' every 30 min, "
            "live sampling · collectors: host, nvml"
            + (", engine" if metrics_url else " (llama.cpp's server has no /metrics: no engine)")
            + (f" · priced as {price.instance_type}" if price and price.instance_type else ""),
        ]
        summary = LiveSummary(service, header)
        await _show(console, summary, traffic, live=live, duration_s=duration_s)
        return 0
    finally:
        if service is not None:
            console.print(
                "stopping: demo requests in flight finish (up to 10 s), a sweep still running "
                "is cut, records are flushed... (Ctrl-C again quits without waiting)"
            )
        if traffic is not None:
            await traffic.stop()
        if service is not None:
            await service.stop()
            console.print(stopped_line(service))
        await asyncio.to_thread(model.stop)


# The demo's quality sweep: two small tags of the built-in dataset (24 items), every 30
# minutes, so that scores appear without starving the demo traffic on the local model.
DEMO_SWEEP = SweepSettings(
    name="demo",
    dataset="default",
    tags=["geography", "arithmetic"],
    interval_s=1800.0,
    max_tokens=48,
    concurrency=1,
)


def demo_quality(settings: Settings) -> Settings:
    """Quality on for the demo: prompt capture, live sampling and a small scheduled sweep
    (a configured sweep list wins)."""
    quality = settings.quality.model_copy(
        update={
            "sampler": settings.quality.sampler.model_copy(update={"enabled": True}),
            "sweeps": settings.quality.sweeps or [DEMO_SWEEP],
        }
    )
    gateway = settings.gateway.model_copy(update={"capture_text": True})
    return settings.model_copy(update={"quality": quality, "gateway": gateway})


async def _engine_metrics_url(base_url: str) -> str | None:
    """The model server's /metrics URL if it serves Prometheus text, else None."""
    url = base_url + "/metrics"
    try:
        async with httpx.AsyncClient(timeout=3.0, trust_env=False) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return None
    return url if response.status_code == 200 else None


async def _show(
    console: Console,
    summary: LiveSummary,
    traffic: TrafficGenerator,
    *,
    live: bool,
    duration_s: float | None,
) -> None:
    stop = asyncio.create_task(wait_for_signal(duration_s))
    try:
        if not live:
            for line in summary.header:
                console.print(line, highlight=False, soft_wrap=True)
            while not stop.done():
                await asyncio.wait({stop}, timeout=10.0)
                if stop.done():
                    break
                console.print(_traffic_line(traffic), highlight=False, soft_wrap=True)
            return
        with Live(await summary.render(), console=console, refresh_per_second=1) as view:
            while not stop.done():
                await asyncio.wait({stop}, timeout=REFRESH_S)
                summary.extra = [_traffic_line(traffic)]
                view.update(await summary.render())
    finally:
        stop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop


def _traffic_line(traffic: TrafficGenerator) -> str:
    s = traffic.stats()
    line = f"demo traffic: sent {s.sent_total}, ok {s.ok_total}, failed {s.failed_total}"
    return line + (f" (last error: {s.last_error})" if s.last_error else "")
