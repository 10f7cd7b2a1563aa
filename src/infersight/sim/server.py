"""Serve the simulated upstream with uvicorn: in the current event loop, or in a thread.

Both bind 127.0.0.1 (or `host`) on `port` (0 = a free port, read back from the socket) before
serving, so `.url` is known as soon as `start()` returns.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from infersight.sim.app import SimApp, SimulatedDisconnect
from infersight.sim.knobs import SimKnobs
from infersight.sim.state import SimState

logger = logging.getLogger(__name__)

BACKLOG = 4096


def create_sim_app(knobs: SimKnobs, *, seed: int = 0) -> SimApp:
    """The ASGI app. `app.state` snapshots its counters; `app.knobs` are the knobs it runs."""
    return SimApp(knobs, seed=seed)


class _DropSimulatedDisconnects(logging.Filter):
    """uvicorn logs an app exception with a traceback; ours is deliberate, so drop only it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDisconnect)


def quiet_simulated_disconnects() -> None:
    """Stop uvicorn from logging a traceback for each injected disconnect (idempotent)."""
    uv_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropSimulatedDisconnects) for f in uv_logger.filters):
        uv_logger.addFilter(_DropSimulatedDisconnects())


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(BACKLOG)  # connectable at once: connections queue until uvicorn accepts
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: SimApp, *, log_config: Any = None) -> uvicorn.Config:
    """uvicorn tuned for cheap chunks: uvloop, httptools, no access log, warnings only."""
    return uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        log_config=log_config,
        server_header=False,
        timeout_graceful_shutdown=1,
        backlog=BACKLOG,
    )


def sim_url(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}", int(port)


class SimServer:
    """The simulator served in the running event loop, for async tests.

    `await start()` returns once it accepts connections; `await stop()` shuts it down.
    Usable as `async with SimServer(knobs) as sim: ... sim.url ...`.
    """

    def __init__(
        self,
        knobs: SimKnobs | None = None,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = create_sim_app(knobs or SimKnobs(), seed=seed)
        self._host, self._port = host, port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.url = ""
        self.port = 0

    @property
    def state(self) -> SimState:
        return self.app.state

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("SimServer already started")
        quiet_simulated_disconnects()
        sock = bind_socket(self._host, self._port)
        self.url, self.port = sim_url(sock)
        self._server = uvicorn.Server(uvicorn_config(self.app))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises the startup failure
                raise RuntimeError(f"sim server on {self.url} stopped during startup")
            await asyncio.sleep(0.005)
        logger.debug("sim server listening on %s", self.url)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server, self._task = None, None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class SimThread:
    """The simulator served on its own uvloop event loop in a daemon thread (sync callers)."""

    def __init__(self, app: SimApp, sock: socket.socket) -> None:
        self.app = app
        self.url, self.port = sim_url(sock)
        self._server = uvicorn.Server(uvicorn_config(app))
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"infersight-sim:{self.port}", daemon=True
        )

    @property
    def state(self) -> SimState:
        return self.app.state

    def _run(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:  # reported by start(); a thread cannot raise to its caller
            self._failure = exc

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise RuntimeError(f"sim server on {self.url} failed to start: {self._failure!r}")
            time.sleep(0.005)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("sim server thread on %s did not stop within %ss", self.url, timeout_s)

    def __enter__(self) -> SimThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_sim_in_thread(
    knobs: SimKnobs | None = None, *, seed: int = 0, host: str = "127.0.0.1", port: int = 0
) -> SimThread:
    """Start the simulator in a thread and return once it accepts connections.

    `with run_sim_in_thread(SimKnobs(tokens=256)) as sim: ... sim.url ...` stops it on exit.
    """
    quiet_simulated_disconnects()
    handle = SimThread(create_sim_app(knobs or SimKnobs(), seed=seed), bind_socket(host, port))
    handle.start()
    return handle
