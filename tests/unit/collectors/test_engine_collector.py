"""EngineCollector over an in-memory transport: samples, quantiles between scrapes, notes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from infersight.collectors.base import CollectorError
from infersight.collectors.engine_metrics import EngineCollector
from infersight.core.records import MetricSample
from infersight.sim.knobs import SimKnobs
from infersight.sim.metrics import SimObservations, render_metrics
from infersight.sim.state import Counters

URL = "http://engine.test/metrics"


def serve(*bodies: tuple[int, str, bytes]) -> httpx.AsyncClient:
    """A client whose transport answers the given (status, content-type, body) in turn."""
    answers = list(bodies)

    def handler(request: httpx.Request) -> httpx.Response:
        status, ctype, body = answers.pop(0) if len(answers) > 1 else answers[0]
        return httpx.Response(status, headers={"content-type": ctype}, content=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def scrape(c: EngineCollector, now: float) -> list[MetricSample]:
    return asyncio.run(c.collect(now))


def find(samples: list[MetricSample], name: str, **labels: str) -> list[MetricSample]:
    return [s for s in samples if s.name == name and set(labels.items()) <= set(s.labels)]


def test_quantiles_come_from_the_interval_between_scrapes() -> None:
    counters, obs, knobs = Counters(), SimObservations(), SimKnobs(model="m")
    for _ in range(100):
        obs.ttft.observe(0.003)  # before the first scrape: fast
    first = render_metrics(counters.snapshot(), knobs, obs)
    for _ in range(20):
        obs.ttft.observe(0.07)  # between the scrapes: slow, all in (0.06, 0.08]
    second = render_metrics(counters.snapshot(), knobs, obs)
    ctype = "text/plain; version=0.0.4; charset=utf-8"
    c = EngineCollector("u", URL, client=serve((200, ctype, first), (200, ctype, second)))
    s1 = scrape(c, 1.0)
    assert find(s1, "engine_ttft_seconds_count")[0].value == 100
    assert find(s1, "engine_ttft_seconds") == []  # no interval yet
    s2 = scrape(c, 6.0)
    p50 = find(s2, "engine_ttft_seconds", quantile="0.5")[0]
    p95 = find(s2, "engine_ttft_seconds", quantile="0.95")[0]
    assert 0.06 < p50.value <= 0.08 and 0.06 < p95.value <= 0.08  # the old fast ones are gone
    assert dict(p50.labels) == {
        "engine": "vllm",
        "upstream": "u",
        "model": "m",
        "engine_index": "0",
        "quantile": "0.5",
    }
    assert find(s2, "engine_ttft_seconds_count")[0].value == 120
    assert find(s2, "engine_e2e_seconds", quantile="0.5") == []  # no E2E observed
    assert c.detected == ["vllm"] and c.notes == (f"detected engine: vllm at {URL}",)


@pytest.mark.parametrize(
    ("status", "ctype", "body", "reason"),
    [
        (404, "text/plain", b"Not Found", "answered HTTP 404"),
        (200, "text/html; charset=utf-8", b"<!doctype html><html></html>", "returned HTML"),
        (200, "text/plain", b"  <html><body>login</body></html>", "returned HTML"),
        (200, "application/json", b'{"status": "ok"}', "returned JSON"),
        (200, "text/plain", b"vllm:num_requests_running{oops 1\n", "malformed Prometheus text"),
    ],
)
def test_bad_answers_are_errors_with_reasons(
    status: int, ctype: str, body: bytes, reason: str
) -> None:
    c = EngineCollector("u", URL, client=serve((status, ctype, body)))
    with pytest.raises(CollectorError, match=reason) as info:
        scrape(c, 1.0)
    assert URL in str(info.value)


def test_no_known_metrics_is_up_with_a_note() -> None:
    body = b'# TYPE python_info gauge\npython_info{version="3.11"} 1\n'
    c = EngineCollector("u", URL, client=serve((200, "text/plain", body)))
    assert scrape(c, 1.0) == []
    assert c.detected == [] and "no known engine metrics" in c.notes[0]
    assert "python_info" in c.notes[0]


def test_oversized_body_is_refused() -> None:
    body = b"x 1\n" * 1000
    c = EngineCollector("u", URL, client=serve((200, "text/plain", body)), max_body_bytes=100)
    with pytest.raises(CollectorError, match="over 100 bytes"):
        scrape(c, 1.0)


def test_openmetrics_answers_are_parsed_as_openmetrics() -> None:
    body = (
        b"# TYPE vllm:num_requests_waiting gauge\n"
        b'vllm:num_requests_waiting{model_name="m"} 4.0\n'
        b"# TYPE vllm:prompt_tokens counter\n"
        b'vllm:prompt_tokens_total{model_name="m"} 12.0\n'
        b"# EOF\n"
    )
    ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    c = EngineCollector("u", URL, client=serve((200, ctype, body)))
    got = {s.name: s.value for s in scrape(c, 1.0)}
    assert got == {"engine_requests_waiting": 4.0, "engine_prompt_tokens_total": 12.0}


def test_garbage_outside_our_families_is_still_malformed() -> None:
    body = b"vllm:num_requests_running 1\nthis is not a metric\n"
    c = EngineCollector("u", URL, client=serve((200, "text/plain", body)))
    with pytest.raises(CollectorError, match=r"malformed Prometheus text .*line 2"):
        scrape(c, 1.0)
