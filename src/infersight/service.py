"""Assembles and runs the gateway process: store, record writer, upstream router, metrics,
the ASGI app under uvicorn, and any daemons. Used by `infersight run`, `demo`, tests and
benchmarks (in-process or on a background thread)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Generator, Sequence
from typing import Any, Final

import uvicorn

from infersight.alerting.engine import AlertEngine
from infersight.alerting.notifiers import build_notifiers
from infersight.alerting.status import AlertStatus
from infersight.clock import SystemClock
from infersight.collectors.base import CollectorDaemon
from infersight.collectors.registry import build_collectors
from infersight.core.clock import Clock
from infersight.cost_daemon import CostDaemon
from infersight.daemons import Daemon
from infersight.dashboard import check_dashboard_access, create_dashboard
from infersight.exporters.latest import FanOut, LatestSamples
from infersight.exporters.prometheus import GatewayMetrics
from infersight.gateway.app import GatewayApp, create_app
from infersight.gateway.proxy import RecordSink
from infersight.gateway.routing import UpstreamRouter
from infersight.gateway.server_protocol import with_head_timeout
from infersight.quality.drift_daemon import DriftDaemon
from infersight.quality.sampler import LiveSampler, SamplerDaemon, SamplingSink
from infersight.quality.sweep_daemon import SweepDaemon
from infersight.settings import Settings
from infersight.store.base import Store
from infersight.store.factory import open_store
from infersight.store.rollup_daemon import RollupDaemon
from infersight.store.sample_writer import SampleWriter
from infersight.store.writer import BatchWriter

log = logging.getLogger(__name__)
# The longest a stop waits for the record writers to finish (the rest is logged as lost).
WRITER_CLOSE_TIMEOUT_S: Final = 60.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one. A taken port raises a clear OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(choose another port with --port or gateway.port)"
        ) from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the command that runs the service owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class GatewayService:
    """One running gateway. `await start()`, then `await stop()` (flushes every record)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
        daemons: Sequence[Daemon] = (),
        background: bool = True,
    ) -> None:
        """background=False runs the gateway alone: no collectors, rollups or cost series
        (tests and benchmarks of the proxy itself)."""
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.store: Store = store if store is not None else open_store(settings.store)
        self.writer = BatchWriter(self.store, settings.store.writer)
        self.metrics = GatewayMetrics()
        self.metrics.extra_counters["infersight_records_written"] = (
            "Request records written to the store.",
            lambda: float(self.writer.written_total),
        )
        self.metrics.extra_counters["infersight_records_dropped"] = (
            "Request records dropped because the write queue was full or the store failed.",
            lambda: float(self.writer.dropped_total),
        )
        self.metrics.extra_counters["infersight_record_write_failures"] = (
            "Failed attempts to write a batch of request records (each retry counts).",
            lambda: float(self.writer.write_failures_total),
        )
        self.router = UpstreamRouter(
            settings.upstreams, connect_timeout_s=settings.gateway.connect_timeout_s
        )
        self.collectors: list[CollectorDaemon] = []
        dashboard = create_dashboard(
            settings,
            store=self.store,
            clock=self.clock,
            collectors=lambda: [c.state for c in self.collectors],
            alerts=AlertStatus(settings.alerting, self.store)
            if settings.alerting.enabled
            else None,
        )
        # live-traffic quality sampling sees every record on its way to the store
        self.sampler: LiveSampler | None = None
        sink: RecordSink = self.writer
        if background and settings.quality.sampler.enabled:
            if settings.gateway.capture_text:
                self.sampler = LiveSampler(settings.quality.sampler)
                sink = SamplingSink(self.writer, self.sampler)
            else:
                log.warning(
                    "quality.sampler is on but gateway.capture_text is off: no text to score"
                )
        self.app: GatewayApp = create_app(
            settings,
            sink=sink,
            clock=self.clock,
            router=self.router,
            metrics=self.metrics,
            dashboard=dashboard,
        )
        # collected and derived samples: history to the store, newest values to /metrics
        self.sample_writer = SampleWriter(self.store)
        self.latest = LatestSamples(self.clock)
        self.metrics.extra_collectors.append(self.latest)
        self.samples = FanOut(self.sample_writer, self.latest)
        self.daemons = list(daemons)
        self.alert_engine: AlertEngine | None = None
        if background:
            self.collectors = build_collectors(
                settings, store_path=settings.store.path, clock=self.clock, sink=self.samples
            )
            self.daemons += [
                *self.collectors,
                RollupDaemon.from_settings(self.store, self.clock, settings.store),
                CostDaemon(
                    settings,
                    clock=self.clock,
                    sink=self.samples,
                    latest=self.latest,
                    token_totals=self.metrics.tokens_by_upstream,
                    store=self.store,
                ),
            ]
            if settings.alerting.enabled:
                self.alert_engine = AlertEngine(
                    settings.alerting,
                    store=self.store,
                    clock=self.clock,
                    notifiers=build_notifiers(settings.alerting.notifiers),
                )
                self.daemons.append(self.alert_engine)
            if settings.quality.sweeps:
                self.daemons.append(
                    SweepDaemon(
                        settings.quality,
                        store=self.store,
                        clock=self.clock,
                        sink=self.samples,
                        refresh=self.latest,
                        # sweeps go through this gateway on loopback, whatever host it binds
                        endpoint=lambda: f"http://127.0.0.1:{self.port}",
                    )
                )
            if self.sampler is not None:
                self.daemons.append(
                    SamplerDaemon(self.sampler, clock=self.clock, sink=self.samples)
                )
            if settings.drift.enabled:
                self.daemons.append(
                    DriftDaemon(
                        self.store,
                        clock=self.clock,
                        sink=self.samples,
                        settings=settings.drift,
                        quality=self.sampler.lookup if self.sampler is not None else None,
                    )
                )
        self._server: uvicorn.Server | None = None
        self._cut = _CutRequests()
        self._serve_task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        host = self.settings.gateway.host
        return f"http://{host}:{self.port}" if ":" not in host else f"http://[{host}]:{self.port}"

    async def start(self) -> None:
        self.writer.start()
        self.sample_writer.start()
        g = self.settings.gateway
        check_dashboard_access(g)  # an OSError too: reported like a port in use
        self._sock = bind_socket(g.host, g.port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="none",
            # httptools, with a deadline for request heads
            http=with_head_timeout(g.body_timeout_s),
            lifespan="off",
            access_log=False,
            proxy_headers=False,  # nothing reads the client address; one layer less per request
            timeout_graceful_shutdown=g.shutdown_grace_s,
            log_level="warning",
            timeout_keep_alive=30,
            backlog=2048,
        )
        self._server = _Server(config)
        logging.getLogger("uvicorn.error").addFilter(self._cut)
        self._serve_task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[self._sock])
        )
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()
                raise RuntimeError("the gateway server stopped during start-up")
            await asyncio.sleep(0.005)
        for daemon in self.daemons:
            daemon.start()
        log.info("gateway listening on %s", self.url)

    async def stop(self) -> None:
        try:
            for daemon in reversed(self.daemons):
                try:
                    await daemon.stop()
                except Exception:  # one daemon's failure must not cost the queued records
                    log.exception("stopping %s failed", type(daemon).__name__)
            if self._server is not None:
                self._server.should_exit = True
            if self._serve_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._serve_task
            logging.getLogger("uvicorn.error").removeFilter(self._cut)
            if self._cut.cut:
                log.warning(
                    "%d request(s) still running after gateway.shutdown_grace_s (%d s) were "
                    "cut; they are recorded as gateway_error",
                    self._cut.cut,
                    self.settings.gateway.shutdown_grace_s,
                )
            self.router.close()
        finally:
            # bounded: a store held locked by another process must not hold the stop for ever
            await asyncio.to_thread(self.writer.close, WRITER_CLOSE_TIMEOUT_S)
            await asyncio.to_thread(self.sample_writer.close, WRITER_CLOSE_TIMEOUT_S)
            self.store.close()


class _CutRequests(logging.Filter):
    """Drops uvicorn's traceback for each request it cancels when the shutdown grace runs
    out (the proxy records those as gateway_error); the stop reports how many there were."""

    def __init__(self) -> None:
        super().__init__()
        self.cut = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            self.cut += 1
            return False
        return True


class ThreadedGateway:
    """A GatewayService on its own event loop in a background thread (tests, benchmarks)."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self._settings = settings
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.service: GatewayService | None = None

    def start(self) -> ThreadedGateway:
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        try:
            self.service = GatewayService(self._settings, **self._kwargs)
            loop.run_until_complete(self.service.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self.service.stop())
        loop.close()

    @property
    def url(self) -> str:
        assert self.service is not None
        return self.service.url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    def __enter__(self) -> ThreadedGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where available (faster sockets), else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
