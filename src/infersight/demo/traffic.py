"""Demo traffic: a cheap background load of chat completions against the gateway.

Every tick the generator draws the arrivals of a Poisson process (rate `rate_per_s`, seeded) for
the time since the previous tick and launches one request per arrival, never more than the
concurrency limit in flight; an arrival that finds the limit reached is dropped and counted
(`dropped_total`), so a slow upstream never builds an unbounded backlog.

Each request is `POST {base_url}/v1/chat/completions` with a random built-in prompt,
`max_tokens`, `stream: true` for about `stream_fraction` of requests (default 80 %), and the
header `x-infersight-client: demo-traffic`, so the gateway can tell demo load from real clients.

Scenarios:
  steady  constant rate and concurrency (default).
  spike   every `spike_period_s` (default 300 s) the LAST `spike_duration_s` (default 60 s) of
          the period runs at `spike_factor` x the rate (default 8x) with the concurrency limit
          scaled by the same factor. The first spike starts `spike_period_s - spike_duration_s`
          after the first tick, so latency baselines form before it; the queueing it causes at
          the upstream is what makes latency alerts fire in the demo.
          The multiplier is read at the start of each tick window (`interval_s`, default 0.1 s).

Nothing here raises into the caller: failures are counted (`failed_total`, `last_error`) and
logged at debug level. The schedule math lives in `infersight.core.arrivals`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from infersight.core.arrivals import poisson_arrivals, spike_multiplier
from infersight.core.clock import Clock
from infersight.daemons import Daemon
from infersight.demo.prompts import DEMO_PROMPTS

log = logging.getLogger(__name__)

SCENARIOS: tuple[str, ...] = ("steady", "spike")
CLIENT_HEADER = "x-infersight-client"
CLIENT_NAME = "demo-traffic"
CHAT_PATH = "/v1/chat/completions"
# After a stall (a blocked loop, a fake clock jumped far ahead) only this much of the missed
# time is replayed; the concurrency limit would drop most of a longer burst anyway.
MAX_CATCHUP_S = 5.0
# At stop, how long the requests in flight may still finish.
DRAIN_S = 10.0
_ERROR_DETAIL_CHARS = 200


@dataclass(frozen=True)
class TrafficStats:
    """A snapshot of the generator's counters."""

    sent_total: int
    ok_total: int
    failed_total: int
    dropped_total: int
    in_flight: int
    last_error: str | None


class TrafficGenerator(Daemon):
    """Poisson demo traffic against an OpenAI-compatible base URL (normally the gateway)."""

    name = "demo-traffic"

    def __init__(
        self,
        clock: Clock,
        base_url: str,
        *,
        rate_per_s: float,
        concurrency: int,
        max_tokens: int,
        model: str,
        scenario: str = "steady",
        seed: int = 0,
        interval_s: float = 0.1,
        stream_fraction: float = 0.8,
        spike_period_s: float = 300.0,
        spike_duration_s: float = 60.0,
        spike_factor: float = 8.0,
        request_timeout_s: float = 120.0,
        prompts: Sequence[str] = DEMO_PROMPTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(clock, interval_s)
        where = "demo traffic"
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"{where}: base_url must start with http:// or https://, got {base_url!r}"
            )
        if not (math.isfinite(rate_per_s) and rate_per_s > 0):
            raise ValueError(f"{where}: rate_per_s must be > 0, got {rate_per_s}")
        if concurrency < 1:
            raise ValueError(f"{where}: concurrency must be >= 1, got {concurrency}")
        if max_tokens < 1:
            raise ValueError(f"{where}: max_tokens must be >= 1, got {max_tokens}")
        if not model:
            raise ValueError(f"{where}: model must be a non-empty model name")
        if scenario not in SCENARIOS:
            raise ValueError(
                f"{where}: scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}"
            )
        if not 0.0 <= stream_fraction <= 1.0:
            raise ValueError(
                f"{where}: stream_fraction must be within [0, 1], got {stream_fraction}"
            )
        if spike_period_s <= 0:
            raise ValueError(f"{where}: spike_period_s must be > 0, got {spike_period_s}")
        if not 0 < spike_duration_s <= spike_period_s:
            raise ValueError(
                f"{where}: spike_duration_s must be within (0, spike_period_s={spike_period_s}],"
                f" got {spike_duration_s}"
            )
        if spike_factor < 1:
            raise ValueError(f"{where}: spike_factor must be >= 1, got {spike_factor}")
        if request_timeout_s <= 0:
            raise ValueError(f"{where}: request_timeout_s must be > 0, got {request_timeout_s}")
        if not prompts:
            raise ValueError(f"{where}: prompts must not be empty")

        base = base_url.rstrip("/")
        self.base_url = base.removesuffix("/v1")
        self.rate_per_s = rate_per_s
        self.concurrency = concurrency
        self.max_tokens = max_tokens
        self.model = model
        self.scenario = scenario
        self.stream_fraction = stream_fraction
        self.spike_period_s = spike_period_s
        self.spike_duration_s = spike_duration_s
        self.spike_factor = spike_factor
        self.request_timeout_s = request_timeout_s
        self._prompts = tuple(prompts)
        self._transport = transport
        self._rng = random.Random(seed)

        self.sent_total = 0
        self.ok_total = 0
        self.failed_total = 0
        self.dropped_total = 0
        self.last_error: str | None = None

        self._origin: float | None = None
        self._last_tick: float | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._drain_s = DRAIN_S

    # -- schedule ---------------------------------------------------------------------------

    def multiplier(self, t: float) -> float:
        """The rate multiplier at time `t` (1.0 for "steady", or before the first tick)."""
        if self.scenario != "spike" or self._origin is None:
            return 1.0
        return spike_multiplier(
            t,
            origin=self._origin,
            period_s=self.spike_period_s,
            spike_s=self.spike_duration_s,
            factor=self.spike_factor,
        )

    def concurrency_limit(self, multiplier: float = 1.0) -> int:
        return max(1, math.ceil(self.concurrency * multiplier))

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def stats(self) -> TrafficStats:
        return TrafficStats(
            sent_total=self.sent_total,
            ok_total=self.ok_total,
            failed_total=self.failed_total,
            dropped_total=self.dropped_total,
            in_flight=self.in_flight,
            last_error=self.last_error,
        )

    async def tick(self, now: float) -> None:
        if self._last_tick is None:
            self._origin = now
            self._last_tick = now
            return
        window_start = max(self._last_tick, now - MAX_CATCHUP_S)
        self._last_tick = max(self._last_tick, now)
        mult = self.multiplier(window_start)
        arrivals = poisson_arrivals(self.rate_per_s * mult, window_start, now, self._rng)
        limit = self.concurrency_limit(mult)
        for _ in arrivals:
            if len(self._in_flight) >= limit:
                self.dropped_total += 1
                continue
            self._launch()

    # -- requests ---------------------------------------------------------------------------

    def _launch(self) -> None:
        prompt = self._rng.choice(self._prompts)
        stream = self._rng.random() < self.stream_fraction
        self.sent_total += 1
        task = asyncio.get_running_loop().create_task(
            self._request(prompt, stream), name=f"{self.name}-request"
        )
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            pool = self.concurrency_limit(self.spike_factor if self.scenario == "spike" else 1.0)
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers={CLIENT_HEADER: CLIENT_NAME},
                timeout=httpx.Timeout(
                    self.request_timeout_s, connect=min(5.0, self.request_timeout_s)
                ),
                limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
                transport=self._transport,
                trust_env=False,
            )
        return self._client

    async def _request(self, prompt: str, stream: bool) -> None:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": self.max_tokens,
            "stream": stream,
        }
        try:
            client = self._http()
            if stream:
                async with client.stream("POST", CHAT_PATH, json=body) as resp:
                    if resp.status_code >= 400:
                        detail = (await resp.aread()).decode("utf-8", "replace")
                        self._fail(f"HTTP {resp.status_code}: {detail[:_ERROR_DETAIL_CHARS]}")
                        return
                    async for _chunk in resp.aiter_bytes():
                        pass
            else:
                resp = await client.post(CHAT_PATH, json=body)
                if resp.status_code >= 400:
                    self._fail(f"HTTP {resp.status_code}: {resp.text[:_ERROR_DETAIL_CHARS]}")
                    return
        except Exception as exc:  # counted, never raised: demo load must not crash the app
            self._fail(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return
        self.ok_total += 1

    def _fail(self, message: str) -> None:
        self.failed_total += 1
        self.last_error = f"POST {self.base_url}{CHAT_PATH}: {message}"
        log.debug("%s: %s", self.name, self.last_error)

    # -- lifecycle --------------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until every request in flight has finished (tests; graceful shutdown)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def stop(self, drain_s: float = DRAIN_S) -> None:
        """Stop sending; let the requests in flight finish for up to `drain_s` (cut short,
        they would be recorded as clients that disconnected), cancel the rest, and close
        the HTTP client."""
        self._drain_s = drain_s
        started = self._task is not None
        await super().stop()  # calls on_stop once the ticking has ended
        if not started:
            await self.on_stop()

    async def on_stop(self) -> None:
        if self._in_flight and self._drain_s > 0:
            await asyncio.wait(list(self._in_flight), timeout=self._drain_s)
        await self._close()

    async def _close(self) -> None:
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._in_flight.clear()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
