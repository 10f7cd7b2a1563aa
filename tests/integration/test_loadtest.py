"""The load tester against real servers on 127.0.0.1: the sim, the gateway, broken endpoints.

Timing assertions are loose (a 2-core machine shared with other jobs): the sim sleeps its knobs
exactly and the client adds well under a millisecond, so medians land within a few ms.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infersight.clock import SystemClock
from infersight.loadtest.client import LoadClient
from infersight.loadtest.driver import Driver
from infersight.loadtest.preflight import EndpointError
from infersight.loadtest.profiles import Level
from infersight.loadtest.progress import ProgressState
from infersight.loadtest.results import RequestRow, Slo
from infersight.loadtest.runner import RunSpec, run_loadtest
from infersight.loadtest.workload import LengthSpec, Workload
from infersight.sim import SimKnobs, run_sim_in_thread

from .conftest import StackFactory


def _workload(**kw: Any) -> Workload:
    kw.setdefault("output_tokens", None)
    kw.setdefault("model", "sim-model")
    return Workload(input_tokens=LengthSpec("fixed", 8), **kw)


def _run(spec: RunSpec, workload: Workload | None = None, **kw: Any) -> Any:
    return asyncio.run(run_loadtest(spec, workload or _workload(), clock=SystemClock(), **kw))


def test_timings_match_the_sim_knobs() -> None:
    with run_sim_in_thread(SimKnobs(ttft_ms=30, itl_ms=5, tokens=20)) as sim:
        level = Level("concurrency", 2, num_requests=24, warmup_s=0.1)
        result = _run(RunSpec(endpoint=sim.url, profile="concurrency", levels=(level,)))
    s = result.levels[0]
    assert result.status == "completed" and s.failed == 0 and s.completed == 24
    assert 29.5 <= (s.ttft_ms.median or 0) <= 36
    assert 4.5 <= (s.itl_ms.median or 0) <= 6
    assert 4.5 <= (s.tpot_ms.median or 0) <= 6
    assert 124 <= (s.e2el_ms.median or 0) <= 140  # 30 + 19 × 5
    assert all(r.output_tokens == 20 and not r.tokens_estimated for r in s.rows)
    assert s.total_input_tokens == 24 * 8  # the sim's usage counts prompt words
    assert 1.5 <= s.mean_concurrency <= 2.05


def test_multi_token_chunks_give_per_token_itl() -> None:
    with run_sim_in_thread(SimKnobs(ttft_ms=10, itl_ms=5, tokens=24, tokens_per_chunk=4)) as sim:
        level = Level("concurrency", 1, num_requests=8)
        result = _run(RunSpec(endpoint=sim.url, profile="concurrency", levels=(level,)))
    s = result.levels[0]
    assert s.completed == 8
    assert 4.5 <= (s.itl_ms.median or 0) <= 6  # a 20 ms gap over 4 tokens, not 20 ms
    assert all(len(r.itl_s) == 20 for r in s.rows)  # 5 chunk gaps × 4 tokens
    # TPOT = (E2E - TTFT) / (n - 1) = 5 gaps × 20 ms / 23
    assert (s.tpot_ms.median or 0) == pytest.approx(100 / 23, abs=0.8)


def test_poisson_rate_live_within_loose_tolerance() -> None:
    with run_sim_in_thread(SimKnobs(tokens=4)) as sim:
        level = Level("rate", 200.0, duration_s=1.5)
        result = _run(RunSpec(endpoint=sim.url, profile="rate", levels=(level,), seed=3))
    s = result.levels[0]
    assert s.failed == 0 and s.send_rate_per_s is not None
    assert abs(s.send_rate_per_s / 200.0 - 1) < 0.2  # ~300 arrivals: ±6 % sd; loose


def test_errors_mid_run_are_counted_and_stop_the_level() -> None:
    with run_sim_in_thread(SimKnobs(tokens=4, error_rate=0.5, error_status=503), seed=2) as sim:
        level = Level("concurrency", 4, num_requests=400)
        result = _run(RunSpec(endpoint=sim.url, profile="concurrency", levels=(level,)))
    s = result.levels[0]
    assert set(s.errors_by_class) == {"http_503"} and s.failed >= 10
    assert s.stopped is not None and s.stopped.startswith("errors climbing")
    assert s.completed + s.failed < 400  # auto-stopped early
    assert result.status == "stopped"  # the run says so, not "completed"
    assert result.stop_reason and "errors climbing" in result.stop_reason
    failed = re.search(r"(\d+) of \d+ requests failed", s.stopped)
    warm = re.search(r"\((\d+) of the failed were warm-up", s.stopped)
    assert failed is not None
    assert warm is None or int(warm.group(1)) <= int(failed.group(1))  # among the failed
    rows = [r for r in result.rows if r.error_class]
    assert rows[0].error is not None and "simulated upstream error" in rows[0].error


def test_errors_without_auto_stop_never_crash_the_run() -> None:
    knobs = SimKnobs(tokens=6, error_rate=0.2, disconnect_rate=0.2)
    with run_sim_in_thread(knobs, seed=5) as sim:
        level = Level("concurrency", 4, num_requests=60)
        spec = RunSpec(endpoint=sim.url, profile="concurrency", levels=(level,), auto_stop=False)
        result = _run(spec)
    s = result.levels[0]
    assert s.completed + s.failed == 60 and s.stopped is None
    assert {"http_500", "protocol"} <= set(s.errors_by_class) or "incomplete" in s.errors_by_class


def test_interrupt_keeps_the_partial_result() -> None:
    with run_sim_in_thread(SimKnobs(ttft_ms=5, itl_ms=2, tokens=10)) as sim:
        progress = ProgressState(started=0.0)
        levels = (
            Level("concurrency", 4, duration_s=30.0),
            Level("concurrency", 8, duration_s=30.0),
        )
        spec = RunSpec(endpoint=sim.url, profile="sweep", levels=levels)

        class Trip(ProgressState):
            def __init__(self) -> None:
                super().__init__(0.0)
                self.event = asyncio.Event()

            def request_done(self, row: RequestRow, now: float) -> None:
                super().request_done(row, now)
                if self.done >= 40:
                    self.event.set()

        async def main() -> Any:
            trip = Trip()
            task = asyncio.create_task(
                run_loadtest(spec, _workload(), clock=SystemClock(), progress=trip)
            )
            await trip.event.wait()
            task.cancel()
            return await task

        result = asyncio.run(main())
        del progress
    assert result.status == "interrupted" and len(result.levels) == 1
    assert result.levels[0].stopped is not None and "interrupted" in result.levels[0].stopped
    assert result.levels[0].completed >= 40 and len(result.rows) >= 40


def test_unreachable_endpoint_is_a_clear_error() -> None:
    level = Level("concurrency", 1, num_requests=1)
    with pytest.raises(EndpointError, match=r"cannot reach http://127\.0\.0\.1:9/v1"):
        _run(RunSpec(endpoint="http://127.0.0.1:9", profile="concurrency", levels=(level,)))


class _Fake(BaseHTTPRequestHandler):
    """Answers every request with one fixed body (a web page, or foreign JSON)."""

    body = b""
    ctype = "text/html"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("content-type", self.ctype)
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[str]:
    ctype, body = request.param
    handler = type("H", (_Fake,), {"body": body, "ctype": ctype})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("fake_server", "match"),
    [
        (("text/html", b"<html><body>Welcome</body></html>"), "answered HTML"),
        (("application/json", b'{"status": "ok"}'), "not an OpenAI-compatible endpoint"),
    ],
    indirect=["fake_server"],
)
def test_non_openai_endpoint_stops_before_the_run(fake_server: str, match: str) -> None:
    level = Level("concurrency", 1, num_requests=1)
    with pytest.raises(EndpointError, match=match):
        _run(RunSpec(endpoint=fake_server, profile="concurrency", levels=(level,)))


def test_unknown_model_names_the_listed_ones() -> None:
    with run_sim_in_thread(SimKnobs(tokens=4)) as sim:
        level = Level("concurrency", 1, num_requests=2)
        result = _run(RunSpec(endpoint=sim.url, profile="concurrency", levels=(level,)),
                      _workload(model="other"))  # fmt: skip
    assert result.preflight.model_listed is False
    assert any("not among the endpoint's models (sim-model)" in n for n in result.preflight.notes)


def test_through_the_gateway_requests_are_loadtest_traffic(stack: StackFactory) -> None:
    s = stack(SimKnobs(ttft_ms=5, itl_ms=2, tokens=8))
    level = Level("concurrency", 3, num_requests=15)
    spec = RunSpec(endpoint=s.url, profile="concurrency", levels=(level,), gateway_url=s.url,
                   capture_interval_s=0.2, slo=Slo(ttft_s=1.0))  # fmt: skip
    result = _run(spec)
    assert result.levels[0].completed == 15 and result.levels[0].request_goodput
    records = s.records()
    assert len(records) == 16  # 15 + the preflight request
    assert {r.source for r in records} == {"loadtest"}
    names = {x.name for x in result.server_samples}
    assert "gateway_requests_in_flight" in names and not result.capture_problems


def test_engine_metrics_capture_sees_the_queue() -> None:
    with run_sim_in_thread(SimKnobs(ttft_ms=20, itl_ms=5, tokens=10, slots=2)) as sim:
        level = Level("concurrency", 6, duration_s=1.2)
        spec = RunSpec(endpoint=sim.url, profile="concurrency", levels=(level,),
                       engine_metrics_url=sim.url + "/metrics", capture_interval_s=0.2)  # fmt: skip
        result = _run(spec)
    server = result.levels[0].server
    assert server["engine:engine_requests_running"]["max"] == 2.0
    assert server["engine:engine_requests_waiting"]["max"] >= 3.0
    assert server["engine:engine_kv_cache_usage_ratio"]["max"] == 1.0
    assert all(result.started_at <= x.ts <= result.ended_at for x in result.server_samples)


def test_driver_rows_are_warmup_marked() -> None:
    with run_sim_in_thread(SimKnobs(ttft_ms=5, tokens=4)) as sim:

        async def main() -> Any:
            client = LoadClient(sim.url)
            try:
                d = Driver(client, _workload(), clock=SystemClock())
                level = Level("concurrency", 2, duration_s=0.5, warmup_s=0.2, ramp_s=0.1)
                return await d.run_level(0, level)
            finally:
                client.close()

        s = asyncio.run(main())
    assert s.warmup_requests > 0 and all(r.measured for r in s.rows)
    assert all(r.start_s >= s.started_at for r in s.rows)


def test_saturated_level_after_a_warmup_reports_the_endpoint_capacity() -> None:
    """4 slots × 1 request per 0.24 s = 16.7 req/s. At concurrency 16 the warm-up leaves 12
    requests queued when measuring starts; their completions count, so the level reports the
    capacity (it reported ~11 req/s when only requests sent after the warm-up counted)."""
    capacity = 4 / (0.050 + 19 * 0.010)
    with run_sim_in_thread(SimKnobs(ttft_ms=50, itl_ms=10, tokens=20, slots=4)) as sim:
        level = Level("concurrency", 16, duration_s=2.0, warmup_s=1.0)
        result = _run(RunSpec(endpoint=sim.url, profile="concurrency", levels=(level,)))
    s = result.levels[0]
    assert s.failed == 0 and s.warmup_requests > 0
    assert 0.85 * capacity <= s.request_throughput <= 1.1 * capacity
