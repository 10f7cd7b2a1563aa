"""Scrape a serving engine's Prometheus endpoint and map it onto one vocabulary.

One `EngineCollector` per upstream with an `engine_metrics_url`. Each collection: GET the URL
(httpx, timeout), check that the answer is Prometheus text (status 200, not HTML/JSON, size
cap), keep the lines of families we map (`engine_maps.prefilter_exposition`, which still checks
every other line looks like a sample), parse those with prometheus_client's parser, map them
with `engine_maps` (the engine kind is autodetected from the names present), and return samples
labelled engine, upstream, model.

Histograms (TTFT, ITL, E2E, queue time) become three series each:
  <name>_sum, <name>_count   the engine's cumulative counters, as scraped
  <name>{quantile="0.5"|"0.95"}
                             p50 / p95 of the requests observed *between this scrape and the
                             previous one*, from the bucket deltas (Prometheus'
                             histogram_quantile interpolation). Absent on the first scrape and
                             for intervals without observations; after an engine restart the
                             interval is "since the restart".

Failures raise `CollectorError` with what failed and how to fix it: connection refused, timeout,
non-200 status, HTML or JSON instead of metrics, a body over the size cap, malformed exposition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from infersight.collectors.base import CollectorError
from infersight.collectors.engine_maps import (
    QUANTILES,
    Labels,
    map_families,
    prefilter_exposition,
)
from infersight.collectors.histograms import HistogramSnapshot, interval_quantiles
from infersight.core.records import MetricSample

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
_ACCEPT = "text/plain;version=0.0.4;q=0.9, */*;q=0.1"
_NO_METRICS_HINT = (
    "vLLM serves /metrics on its API port; start llama-server with --metrics and SGLang with "
    "--enable-metrics; TGI serves /metrics on its port; the DCGM exporter on :9400/metrics"
)
# prometheus_client's parsers are untyped; these aliases give them a signature.
_TEXT_PARSER: Callable[[str], Iterable[Any]] = text_string_to_metric_families
_OPENMETRICS_PARSER: Callable[[str], Iterable[Any]] = openmetrics_families
_SUPPORTED = "vLLM, TGI, SGLang, llama.cpp server and NVIDIA DCGM exporter"


class EngineCollector:
    """Scrapes `url` for upstream `upstream` (collector name `engine:<upstream>`)."""

    def __init__(
        self,
        upstream: str,
        url: str,
        *,
        timeout_s: float = 3.0,
        client: httpx.AsyncClient | None = None,
        quantiles: Sequence[float] = QUANTILES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.name = f"engine:{upstream}"
        self.upstream = upstream
        self.url = url
        self.timeout_s = timeout_s
        self.quantiles = tuple(quantiles)
        self.max_body_bytes = max_body_bytes
        self.detected: list[str] = []
        self._client = client
        self._own_client = client is None
        self._prev: dict[tuple[str, Labels], HistogramSnapshot] = {}
        self._detection_note: str | None = None
        self._quantile_labels = {q: ("quantile", f"{q:g}") for q in self.quantiles}

    @property
    def notes(self) -> Sequence[str]:
        return (self._detection_note,) if self._detection_note else ()

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    async def collect(self, now: float) -> list[MetricSample]:
        body, content_type = await self._fetch()
        families = self._parse(body, content_type)
        mapped = map_families(families, upstream=self.upstream)
        self._note_detection(mapped.kinds, body)
        out = [MetricSample(name, now, v, labels) for (name, labels), v in mapped.points.items()]
        prev = self._prev
        for key, snap in mapped.histograms.items():
            target, labels = key
            out.append(MetricSample(target + "_sum", now, snap.sum, labels))
            out.append(MetricSample(target + "_count", now, snap.count, labels))
            for q, value in interval_quantiles(prev.get(key), snap, self.quantiles).items():
                qlabels = tuple(sorted((*labels, self._quantile_labels[q])))
                out.append(MetricSample(target, now, value, qlabels))
        self._prev = mapped.histograms  # series that vanished are forgotten
        return out

    # -- edges ---------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s),
                follow_redirects=True,
                headers={"accept": _ACCEPT},
            )
        return self._client

    async def _fetch(self) -> tuple[str, str]:
        url = self.url
        try:
            async with asyncio.timeout(self.timeout_s):  # httpx's timeouts are per phase
                try:
                    return await self._get()
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                    return await self._get()  # a kept-alive connection the server just closed
        except (httpx.TimeoutException, TimeoutError):
            raise CollectorError(
                f"{url} did not answer within timeout_s={self.timeout_s:g} s (timeout): the "
                "engine may be overloaded, or the host/port is wrong (check engine_metrics_url)"
            ) from None
        except httpx.ConnectError as exc:
            raise CollectorError(
                f"cannot connect to {url} ({exc or 'connection refused'}): is the engine "
                "running, and is engine_metrics_url right?"
            ) from None
        except httpx.HTTPError as exc:
            raise CollectorError(f"scraping {url} failed: {type(exc).__name__}: {exc}") from None

    async def _get(self) -> tuple[str, str]:
        url = self.url
        async with self._http().stream("GET", url) as resp:
            if resp.status_code != 200:
                hint = _NO_METRICS_HINT if resp.status_code == 404 else "check the engine's log"
                raise CollectorError(f"{url} answered HTTP {resp.status_code}: {hint}")
            content_type = resp.headers.get("content-type", "")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise CollectorError(
                        f"{url} sent over {self.max_body_bytes} bytes: not a metrics endpoint?"
                    )
                chunks.append(chunk)
        body = b"".join(chunks)
        kind = content_type.split(";", 1)[0].strip().lower()
        head = body[:64].lstrip()
        if "html" in kind or head[:1] == b"<":
            raise CollectorError(
                f"{url} returned HTML (content-type {content_type or 'none'}), not Prometheus "
                "text: point engine_metrics_url at the metrics path, e.g. http://host:8000/metrics"
            )
        if "json" in kind or head[:1] in (b"{", b"["):
            raise CollectorError(
                f"{url} returned JSON (content-type {content_type or 'none'}), not Prometheus "
                "text: point engine_metrics_url at the engine's Prometheus /metrics"
            )
        return body.decode("utf-8", errors="replace"), kind

    def _parse(self, text: str, content_type: str) -> list[Any]:
        try:
            if "openmetrics" in content_type:
                return list(_OPENMETRICS_PARSER(text))
            return list(_TEXT_PARSER(prefilter_exposition(text)))
        except Exception as exc:  # the parser raises ValueError, IndexError, ... on bad input
            detail = str(exc)
            if len(detail) > 200:
                detail = detail[:200] + "..."
            raise CollectorError(
                f"{self.url} sent malformed Prometheus text ({type(exc).__name__}: {detail}); "
                "is engine_metrics_url a Prometheus endpoint?"
            ) from None

    def _note_detection(self, kinds: list[str], text: str) -> None:
        if kinds:
            note = f"detected engine: {', '.join(kinds)} at {self.url}"
        else:
            names = _first_names(text, 3)
            found = f"metrics such as {', '.join(names)}" if names else "no metrics"
            note = f"no known engine metrics at {self.url}: found {found}; supported: {_SUPPORTED}"
        if note != self._detection_note:
            level = logging.INFO if kinds else logging.WARNING
            log.log(level, "%s: %s", self.name, note)
            self._detection_note = note
        self.detected = kinds


def _first_names(text: str, limit: int) -> list[str]:
    """The first `limit` distinct metric names of an exposition text (for messages)."""
    names: list[str] = []
    for line in text.splitlines():
        parts = line.split("{", 1)[0].split(None, 1)
        if parts and not parts[0].startswith("#"):
            name = parts[0]
            if name not in names:
                names.append(name)
                if len(names) == limit:
                    break
    return names
