from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from infersight.core.clock import FakeClock
from infersight.demo import DEMO_PROMPTS, TrafficGenerator
from infersight.demo.traffic import CLIENT_HEADER, CLIENT_NAME

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

SSE = (
    b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def ok_handler(seen: list[httpx.Request]) -> Handler:
    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        if body["stream"]:
            return httpx.Response(200, content=SSE, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})

    return handle


def make(clock: FakeClock, handler: Handler, **kwargs: Any) -> TrafficGenerator:
    params: dict[str, Any] = {
        "rate_per_s": 5.0,
        "concurrency": 1000,
        "max_tokens": 16,
        "model": "m",
        "seed": 1,
    }
    params.update(kwargs)
    return TrafficGenerator(
        clock, "http://gw.test/v1/", transport=httpx.MockTransport(handler), **params
    )


def test_requests_follow_rate_and_carry_header_and_body() -> None:
    async def main() -> None:
        clock = FakeClock()
        seen: list[httpx.Request] = []
        gen = make(clock, ok_handler(seen))
        await gen.tick(clock.now())
        assert gen.sent_total == 0  # the first tick only sets the origin
        for _ in range(400):
            clock.advance(0.5)
            await gen.tick(clock.now())
        await gen.drain()
        await gen.stop()

        expected = 5.0 * 200
        assert abs(gen.sent_total - expected) < 4 * math.sqrt(expected)
        assert gen.ok_total == gen.sent_total == len(seen)
        assert gen.failed_total == gen.dropped_total == 0
        bodies = [json.loads(r.content) for r in seen]
        assert all(r.headers[CLIENT_HEADER] == CLIENT_NAME for r in seen)
        assert all(str(r.url) == "http://gw.test/v1/chat/completions" for r in seen)
        assert all(b["max_tokens"] == 16 and b["model"] == "m" for b in bodies)
        assert all(b["messages"][0]["content"] in DEMO_PROMPTS for b in bodies)
        stream_share = sum(b["stream"] for b in bodies) / len(bodies)
        assert stream_share == pytest.approx(0.8, abs=0.05)
        assert len({b["messages"][0]["content"] for b in bodies}) > 20

    asyncio.run(main())


def test_same_seed_same_requests() -> None:
    async def run(seed: int) -> list[tuple[str, bool]]:
        clock = FakeClock()
        seen: list[httpx.Request] = []
        gen = make(clock, ok_handler(seen), seed=seed)
        await gen.tick(clock.now())
        for _ in range(20):
            clock.advance(1.0)
            await gen.tick(clock.now())
            await gen.drain()
        await gen.stop()
        bodies = [json.loads(r.content) for r in seen]
        return [(b["messages"][0]["content"], b["stream"]) for b in bodies]

    assert asyncio.run(run(3)) == asyncio.run(run(3))
    assert asyncio.run(run(3)) != asyncio.run(run(4))


def test_concurrency_limit_drops_excess_and_stop_cancels() -> None:
    async def main() -> None:
        clock = FakeClock()
        release = asyncio.Event()
        active = 0
        peak = 0

        async def slow(request: httpx.Request) -> httpx.Response:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            try:
                await release.wait()
            finally:
                active -= 1
            return httpx.Response(200, json={})

        gen = make(clock, slow, rate_per_s=50.0, concurrency=3)
        await gen.tick(clock.now())
        for _ in range(10):
            clock.advance(0.5)
            await gen.tick(clock.now())
            await asyncio.sleep(0)
        assert gen.in_flight == 3
        assert gen.sent_total == 3
        assert gen.dropped_total > 100
        await gen.stop(drain_s=0.2)  # the handler never answers: cut after the drain
        assert gen.in_flight == 0
        assert peak == 3
        assert gen.failed_total == 0 and gen.ok_total == 0  # cancelled, not failures

    asyncio.run(main())


def test_http_errors_and_exceptions_are_counted_not_raised() -> None:
    async def main() -> None:
        clock = FakeClock()
        calls = 0

        async def flaky(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            if calls % 2:
                return httpx.Response(500, text="upstream exploded")
            raise httpx.ConnectError("connection refused")

        gen = make(clock, flaky, rate_per_s=10.0)
        await gen.tick(clock.now())
        for _ in range(5):
            clock.advance(1.0)
            await gen.tick(clock.now())
        await gen.drain()
        stats = gen.stats()
        await gen.stop()
        assert stats.sent_total > 20
        assert stats.failed_total == stats.sent_total
        assert stats.ok_total == 0
        assert stats.in_flight == 0
        assert stats.last_error is not None
        assert stats.last_error.startswith("POST http://gw.test/v1/chat/completions: ")
        assert "HTTP 500: upstream exploded" in stats.last_error or "ConnectError" in (
            stats.last_error
        )

    asyncio.run(main())


def test_spike_scenario_multiplies_rate_and_concurrency_in_window() -> None:
    async def main() -> None:
        clock = FakeClock()
        seen: list[httpx.Request] = []
        gen = make(
            clock,
            ok_handler(seen),
            rate_per_s=2.0,
            concurrency=4,
            scenario="spike",
            spike_period_s=100.0,
            spike_duration_s=20.0,
            spike_factor=8.0,
        )
        origin = clock.now()
        await gen.tick(origin)
        assert gen.concurrency_limit(gen.multiplier(origin + 85.0)) == 32
        assert gen.multiplier(origin + 50.0) == 1.0
        sent_steady = sent_spike = 0
        for _ in range(10):  # ten periods, ticked once per second
            for second in range(100):
                before = gen.sent_total
                clock.advance(1.0)
                await gen.tick(clock.now())
                await gen.drain()
                if second >= 80:
                    sent_spike += gen.sent_total - before
                else:
                    sent_steady += gen.sent_total - before
        await gen.stop()
        steady_rate = sent_steady / (10 * 80)
        spike_rate = sent_spike / (10 * 20)
        assert steady_rate == pytest.approx(2.0, rel=0.15)
        assert spike_rate == pytest.approx(16.0, rel=0.15)

    asyncio.run(main())


def test_long_stall_replays_at_most_the_catchup_window() -> None:
    async def main() -> None:
        clock = FakeClock()
        seen: list[httpx.Request] = []
        gen = make(clock, ok_handler(seen), rate_per_s=10.0)
        await gen.tick(clock.now())
        clock.advance(3600.0)
        await gen.tick(clock.now())
        await gen.stop()
        assert gen.sent_total < 100  # ~50 from the last 5 s, not ~36000

    asyncio.run(main())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_per_s": 0.0}, "rate_per_s must be > 0"),
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"max_tokens": 0}, "max_tokens must be >= 1"),
        ({"model": ""}, "model must be"),
        ({"scenario": "burst"}, "scenario must be one of steady, spike, got 'burst'"),
        ({"stream_fraction": 1.5}, "stream_fraction"),
        ({"spike_duration_s": 400.0}, "spike_duration_s"),
        ({"spike_factor": 0.5}, "spike_factor"),
        ({"prompts": ()}, "prompts"),
        ({"interval_s": 0.0}, "interval_s"),
    ],
)
def test_invalid_parameters_name_the_field(kwargs: dict[str, Any], message: str) -> None:
    params: dict[str, Any] = {"rate_per_s": 1.0, "concurrency": 1, "max_tokens": 8, "model": "m"}
    params.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TrafficGenerator(FakeClock(), "http://127.0.0.1:1", **params)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="base_url"):
        TrafficGenerator(
            FakeClock(), "127.0.0.1:8080", rate_per_s=1, concurrency=1, max_tokens=1, model="m"
        )


def test_stop_lets_requests_in_flight_finish() -> None:
    """A real (simulated) upstream that takes 0.3 s to answer: requests in flight when the
    demo stops are finished, not cut (cut, the gateway would record the demo's own requests
    as clients that disconnected); with no drain time they are cancelled."""
    from infersight.sim.knobs import SimKnobs
    from infersight.sim.server import run_sim_in_thread

    sim = run_sim_in_thread(SimKnobs(ttft_ms=300, tokens=4))

    async def main(drain_s: float) -> TrafficGenerator:
        clock = FakeClock()
        gen = TrafficGenerator(
            clock, sim.url + "/v1/", rate_per_s=20.0, concurrency=50, max_tokens=4, model="m"
        )
        gen.start()  # stopping a started generator goes through the daemon's stop
        await gen.tick(clock.now())
        clock.advance(1.0)
        await gen.tick(clock.now())
        assert gen.sent_total > 0 and gen.ok_total == 0
        await gen.stop(drain_s=drain_s)
        return gen

    try:
        drained = asyncio.run(main(5.0))
        cut = asyncio.run(main(0.0))
    finally:
        sim.stop()
    assert drained.ok_total == drained.sent_total and drained.failed_total == 0
    assert cut.ok_total == 0
