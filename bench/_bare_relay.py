"""A reference for the benchmark: the cheapest relay Python can be, a 1:1 TCP pipe per client
connection on uvloop. No HTTP parsing, no observation, no records: what the gateway would cost
if measuring were free.

    python bench/_bare_relay.py UPSTREAM_HOST UPSTREAM_PORT LISTEN_PORT [WORK_US]

WORK_US (default 0): CPU to burn per upstream read, in microseconds, standing in for the work a
measuring relay does per read; it shows how the relay's CPU per request moves its latency.
"""

from __future__ import annotations

import asyncio
import sys
from time import perf_counter

from _loadclient import new_event_loop

WORK_S = 0.0  # CPU burnt per upstream read (set from WORK_US)


def _burn(seconds: float) -> None:
    end = perf_counter() + seconds
    while perf_counter() < end:
        pass


class _Upstream(asyncio.Protocol):
    def __init__(self, down: _Downstream) -> None:
        self.down = down
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if WORK_S:
            _burn(WORK_S)
        self.down.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.down.close()


class _Downstream(asyncio.Protocol):
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.transport: asyncio.Transport | None = None
        self.up: _Upstream | None = None
        self.early: list[bytes] = []  # bytes from the client before the upstream connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, self.up = await loop.create_connection(lambda: _Upstream(self), self.host, self.port)
        except OSError:
            self.close()
            return
        assert self.up.transport is not None
        for data in self.early:
            self.up.transport.write(data)
        self.early.clear()

    def data_received(self, data: bytes) -> None:
        if self.up is None or self.up.transport is None:
            self.early.append(data)
        else:
            self.up.transport.write(data)

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.up is not None and self.up.transport is not None:
            self.up.transport.close()


async def serve(up_host: str, up_port: int, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Downstream(up_host, up_port), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> int:
    global WORK_S
    up_host, up_port, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    WORK_S = float(sys.argv[4]) / 1e6 if len(sys.argv) > 4 else 0.0
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(up_host, up_port, port))
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
