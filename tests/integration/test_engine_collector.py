"""The engine collector against live servers on 127.0.0.1.

- the simulator (vLLM names at GET /metrics, from its live state and real traffic);
- a small http.server in a thread serving the recorded exposition texts in
  tests/fixtures/exposition/ (TGI, SGLang, llama.cpp, DCGM exporter, vLLM's old names);
- the same server misbehaving: down, slow (timeout), HTML, garbage. Each fault must leave the
  collector down with its reason and `collector_up 0`, back off on a FakeClock, and recover.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from infersight.collectors.base import CollectorDaemon
from infersight.collectors.engine_metrics import EngineCollector
from infersight.core.clock import FakeClock
from infersight.core.records import MetricSample
from infersight.sim.knobs import SimKnobs
from infersight.sim.server import run_sim_in_thread

FIXTURES = Path(__file__).parents[1] / "fixtures" / "exposition"
PROM = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Answer:
    status: int = 200
    content_type: str = PROM
    body: bytes = b""
    delay_s: float = 0.0


class FixtureServer:
    """http.server in a thread; `routes[path]` is what GET path answers (changeable live)."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer = routes.get(self.path, Answer(404, "text/plain", b"not found"))
                if answer.delay_s:
                    time.sleep(answer.delay_s)  # the server is slow, not the test
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", answer.content_type)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    s = FixtureServer()
    for f in FIXTURES.glob("*.txt"):
        s.routes[f"/{f.stem}/metrics"] = Answer(body=f.read_bytes())
    yield s
    s.close()


class ListSink:
    def __init__(self) -> None:
        self.samples: list[MetricSample] = []

    def submit_many(self, samples: Sequence[MetricSample]) -> None:
        self.samples.extend(samples)

    def ups(self) -> list[float]:
        return [s.value for s in self.samples if s.name == "collector_up"]


def scrape_once(url: str, upstream: str = "u", timeout_s: float = 3.0) -> EngineCollector:
    return EngineCollector(upstream, url, timeout_s=timeout_s)


def collect(c: EngineCollector, now: float = 1.0) -> dict[str, list[MetricSample]]:
    async def go() -> list[MetricSample]:
        try:
            return await c.collect(now)
        finally:
            await c.aclose()

    out: dict[str, list[MetricSample]] = {}
    for s in asyncio.run(go()):
        out.setdefault(s.name, []).append(s)
    return out


@pytest.mark.parametrize(
    ("fixture", "kind", "expected"),
    [
        (
            "vllm_old_names",
            "vllm",
            {"engine_kv_cache_usage_ratio": 0.4237, "engine_requests_waiting": 3},
        ),
        ("tgi", "tgi", {"engine_requests_waiting": 4, "engine_generation_tokens_total": 6332}),
        ("sglang", "sglang", {"engine_kv_cache_usage_ratio": 0.28, "engine_requests_running": 5}),
        (
            "llamacpp",
            "llamacpp",
            {"engine_requests_waiting": 1, "engine_decode_calls_total": 39303},
        ),
    ],
)
def test_recorded_engines(
    server: FixtureServer, fixture: str, kind: str, expected: dict[str, float]
) -> None:
    c = scrape_once(f"{server.url}/{fixture}/metrics", upstream="gpu-a")
    got = collect(c)
    assert c.detected == [kind]
    for name, value in expected.items():
        [sample] = got[name]
        assert sample.value == pytest.approx(value)
        assert ("engine", kind) in sample.labels and ("upstream", "gpu-a") in sample.labels
    if kind != "llamacpp":  # llama.cpp has no latency histograms
        assert {"engine_e2e_seconds_sum", "engine_e2e_seconds_count"} <= set(got)


def test_recorded_dcgm(server: FixtureServer) -> None:
    c = scrape_once(f"{server.url}/dcgm/metrics", upstream="node3")
    got = collect(c)
    assert c.detected == ["dcgm"]
    util = {dict(s.labels)["gpu"]: s.value for s in got["gpu_utilization_ratio"]}
    assert util == pytest.approx({"0": 0.87, "1": 0.0})
    used = {dict(s.labels)["gpu"]: s.value for s in got["gpu_memory_used_bytes"]}
    assert used["0"] == 76502 * 2**20
    assert set(got) >= {
        "gpu_memory_free_bytes",
        "gpu_power_watts",
        "gpu_sm_active_ratio",
        "gpu_temperature_celsius",
    }


def test_live_sim_with_traffic() -> None:
    knobs = SimKnobs(model="sim-7b", tokens=8, ttft_ms=20, slots=2)
    with run_sim_in_thread(knobs) as sim:
        c = EngineCollector("sim", sim.url + "/metrics", timeout_s=3.0)
        body = {"model": "sim-7b", "messages": [{"role": "user", "content": "hi there"}]}

        async def scenario() -> tuple[list[MetricSample], list[MetricSample]]:
            try:
                first = await c.collect(1.0)
                async with httpx.AsyncClient(base_url=sim.url) as client:
                    for _ in range(3):
                        r = await client.post("/v1/chat/completions", json={**body, "stream": True})
                        assert r.status_code == 200
                second = await c.collect(6.0)
                return first, second
            finally:
                await c.aclose()

        first, second = asyncio.run(scenario())
    assert c.detected == ["vllm"]
    v = {s.name: s for s in second if ("quantile", "0.5") not in s.labels}
    assert v["engine_requests_running"].value == 0
    assert v["engine_kv_cache_usage_ratio"].value == 0
    assert v["engine_generation_tokens_total"].value == 24
    assert v["engine_prompt_tokens_total"].value > 0
    assert v["engine_requests_success_total"].value == 3
    assert v["engine_ttft_seconds_count"].value == 3
    assert dict(v["engine_ttft_seconds_count"].labels)["model"] == "sim-7b"
    p50 = [s for s in second if s.name == "engine_ttft_seconds" and ("quantile", "0.5") in s.labels]
    assert len(p50) == 1 and 0.02 <= p50[0].value <= 0.25  # TTFT knob 20 ms: (0.02, 0.04] bucket
    assert not [s for s in first if s.name == "engine_ttft_seconds"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FAULTS = {
    "down": (None, "cannot connect"),
    "slow": (Answer(body=b"vllm:num_requests_running 1\n", delay_s=2.0), "timeout"),
    "html": (Answer(content_type="text/html", body=b"<html><body>Grafana</body></html>"), "HTML"),
    "garbage": (Answer(body=b"vllm:num_requests_running{model_name=oops} one two\n"), "malformed"),
    "404": (Answer(404, "text/plain", b"404 page not found"), "HTTP 404"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faults_are_down_with_a_reason_back_off_and_recover(
    server: FixtureServer, fault: str
) -> None:
    answer, reason = FAULTS[fault]
    path = f"/fault-{fault}/metrics"
    if answer is None:
        url = f"http://127.0.0.1:{free_port()}/metrics"  # nothing listens there
    else:
        server.routes[path] = answer
        url = server.url + path
    clock, sink = FakeClock(), ListSink()
    collector = EngineCollector("e1", url, timeout_s=0.3)
    d = CollectorDaemon(collector, sink, clock=clock, interval_s=5.0, timeout_s=0.3)

    async def scenario() -> list[int]:
        attempts: list[int] = []
        t_start = time.monotonic()
        for i in range(4):  # t = 0, 5, 10, 15: attempts at 0, 5, 15 (backoff 5, then 10)
            st = d.state
            await d.tick(clock.now())
            if d.state.consecutive_failures != st.consecutive_failures:
                attempts.append(i)
            clock.advance(5.0)
        assert time.monotonic() - t_start < 3.0  # never blocked past the timeouts
        return attempts

    try:
        attempts = asyncio.run(scenario())
        st = d.state
        assert st.status == "down" and not st.up
        assert st.last_error is not None and reason in st.last_error
        assert url in st.last_error
        assert st.consecutive_failures == 3 and attempts == [0, 1, 3]
        assert sink.ups() == [0.0] * 4
        assert {s.labels for s in sink.samples} == {(("collector", "engine:e1"),)}

        # the endpoint is fixed: the next attempt after the backoff succeeds
        server.routes[path] = Answer(body=(FIXTURES / "llamacpp.txt").read_bytes())
        if answer is None:
            collector.url = server.url + path
        clock.advance(15.0)  # t = 35: the 20 s backoff after the third failure is over
        asyncio.run(d.tick(clock.now()))
        assert d.state.up and d.state.consecutive_failures == 0
        assert sink.ups()[-1] == 1.0
        assert any(s.name == "engine_requests_running" for s in sink.samples)
    finally:
        asyncio.run(collector.aclose())
