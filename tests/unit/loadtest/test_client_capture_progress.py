"""Row timing from observed SSE reads, answer classification, server-metric parsing, progress."""

from __future__ import annotations

import asyncio
import json

import pytest

from infersight.core.clock import FakeClock
from infersight.core.sse import SSEStreamObserver
from infersight.loadtest.capture import (
    ServerCapture,
    ServerSample,
    gateway_points,
    reduce_samples,
    window_stats,
)
from infersight.loadtest.client import Exchange, api_origin, classify_non_stream, exchange_row
from infersight.loadtest.progress import ProgressState, render_snapshot
from infersight.loadtest.workload import PreparedRequest

from .conftest import RowFactory

REQ = PreparedRequest(index=7, body=b"{}", prompt_tokens_est=12, max_tokens=None)


def _chunk(text: str) -> bytes:
    obj = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _stream(reads: list[tuple[float, bytes]], usage: dict[str, int] | None) -> Exchange:
    obs = SSEStreamObserver()
    for t, data in reads:
        obs.feed(t, data)
    end = reads[-1][0]
    tail = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    if usage is not None:
        tail += b'data: {"choices":[],"usage":' + json.dumps(usage).encode() + b"}\n\n"
    obs.feed(end, tail + b"data: [DONE]\n\n")
    obs.flush()  # the end of the stream, as the client's reader does
    return Exchange(t_start=10.0, t_end=end, status=200, observer=obs)


def test_multi_token_chunks_give_per_token_itl() -> None:
    # 4 chunks of 4 tokens: first at +30 ms, then every 20 ms (5 ms per token)
    reads = [(10.030 + 0.020 * k, _chunk("a b c d")) for k in range(4)]
    ex = _stream(reads, {"prompt_tokens": 9, "completion_tokens": 16})
    row = exchange_row(ex, REQ, level=1, measured=True, wall_offset_s=100.0, run_start_perf=9.0)
    assert row.ok and row.output_tokens == 16 and row.prompt_tokens == 9
    assert not row.tokens_estimated and row.finish_reason == "stop"
    assert row.ttft_s == pytest.approx(0.030)
    assert row.e2e_s == pytest.approx(0.090)
    assert len(row.itl_s) == 12 and all(g == pytest.approx(0.005) for g in row.itl_s)
    assert row.tpot_s == pytest.approx(0.060 / 15)  # (E2E - TTFT) / (n - 1)
    assert (row.start_s, row.offset_s, row.level, row.index) == (110.0, 1.0, 1, 7)


def test_without_usage_one_token_per_event_marked_estimated() -> None:
    reads = [(10.05, _chunk("x") + _chunk("y")), (10.06, _chunk("z"))]  # two events in one read
    row = exchange_row(_stream(reads, None), REQ, level=0, measured=True, wall_offset_s=0,
                       run_start_perf=10.0)  # fmt: skip
    assert row.tokens_estimated and row.output_tokens == 3 and row.prompt_tokens == 12
    assert row.ttft_s == pytest.approx(0.05) and row.itl_s == (0.0, pytest.approx(0.01))


def test_failed_exchange_has_no_timings() -> None:
    ex = Exchange(10.0, 10.2, status=503, error_class="http_503", error="HTTP 503: busy")
    row = exchange_row(ex, REQ, level=0, measured=False, wall_offset_s=0, run_start_perf=0)
    assert not row.ok and row.ttft_s is None and row.e2e_s == pytest.approx(0.2)
    assert row.output_tokens_per_s is None and row.itl_max_s is None


@pytest.mark.parametrize(
    ("ctype", "body", "cls", "text"),
    [
        ("text/html", b"<html>hi</html>", "not_openai", "answered HTML"),
        ("application/json", b'{"choices": [{"message": {}}]}', "not_streaming", "whole JSON"),
        ("application/json", b'{"result": 1}', "not_openai", "JSON without 'choices'"),
        ("text/plain", b"data: hello\n\n", "not_openai", "SSE body without"),
        ("text/plain", b"hello", "not_openai", "content-type text/plain"),
    ],
)
def test_classify_non_stream(ctype: str, body: bytes, cls: str, text: str) -> None:
    got_cls, msg = classify_non_stream(ctype, body)
    assert got_cls == cls and text in msg


def test_api_origin_normalises_the_base() -> None:
    for url in ("http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/",
                "http://h:8000/v1/chat/completions"):  # fmt: skip
        o = api_origin(url)
        assert (o.host, o.port, o.base_path) == ("h", 8000, "/v1")
    assert api_origin("https://x/openai/v1").base_path == "/openai/v1"
    with pytest.raises(ValueError):
        api_origin("ftp://x")


GATEWAY_TEXT = """# TYPE infersight_requests_in_flight gauge
infersight_requests_in_flight{upstream="a"} 3.0
infersight_requests_in_flight{upstream="b"} 2.0
# TYPE infersight_engine_requests_waiting gauge
infersight_engine_requests_waiting{engine="vllm",upstream="a"} 7.0
# TYPE infersight_engine_kv_cache_usage_ratio gauge
infersight_engine_kv_cache_usage_ratio{upstream="a"} 0.25
infersight_engine_kv_cache_usage_ratio{upstream="b"} 0.75
# TYPE infersight_ttft_seconds histogram
infersight_ttft_seconds_bucket{le="+Inf",model="m",upstream="a"} 1.0
infersight_ttft_seconds_count{model="m",upstream="a"} 1.0
infersight_ttft_seconds_sum{model="m",upstream="a"} 0.1
"""


def test_gateway_series_are_reduced() -> None:
    samples = reduce_samples(5.0, "gateway", gateway_points(GATEWAY_TEXT))
    got = {s.name: s.value for s in samples}
    assert got == {
        "gateway_requests_in_flight": 5.0,
        "engine_requests_waiting": 7.0,
        "engine_kv_cache_usage_ratio": 0.75,
    }
    stats = window_stats([*samples, ServerSample(9.0, "gateway", "engine_requests_waiting", 1.0)],
                         4.0, 10.0)  # fmt: skip
    assert stats["gateway:engine_requests_waiting"] == {"mean": 4.0, "max": 7.0, "samples": 2.0}


class _Flaky:
    name = "engine"

    def __init__(self) -> None:
        self.calls = 0

    async def sample(self, now: float) -> list[ServerSample]:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("connection refused")
        return [ServerSample(now, self.name, "engine_requests_running", float(self.calls))]

    async def aclose(self) -> None:
        pass


def test_capture_daemon_keeps_going_after_a_failure() -> None:
    clock = FakeClock()
    source = _Flaky()

    async def run() -> ServerCapture:
        cap = ServerCapture([source], clock, interval_s=1.0)
        for _ in range(3):
            await cap.tick(clock.now())
            clock.advance(1.0)
        return cap

    cap = asyncio.run(run())
    assert [s.value for s in cap.samples] == [1.0, 3.0]
    assert cap.problems == {"engine": "connection refused"}


def test_progress_snapshot(row: RowFactory) -> None:
    p = ProgressState(started=100.0)
    p.level_started(0, "concurrency 4", 100.0)
    for i in range(10):
        p.request_done(row(i, ttft=0.01 * (i + 1), tokens=50), 101.0 + i * 0.1)
    p.request_done(row(10, error="timeout"), 102.0)
    snap = p.snapshot(102.0)
    assert snap.requests_done == 11 and snap.errors == 1 and snap.errors_by_class == {"timeout": 1}
    assert snap.p50_ttft_ms == pytest.approx(55.0) and snap.p95_ttft_ms == pytest.approx(95.5)
    assert snap.tokens_per_s == pytest.approx(500 / 2.0)  # 2 s since start (< window)
    assert p.snapshot(110.0).tokens_per_s == 0.0  # all older than the window
    render_snapshot(snap)  # renders without error
