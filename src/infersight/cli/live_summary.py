"""The live terminal summary that `infersight demo` shows while it runs."""

from __future__ import annotations

import asyncio
import time

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from infersight.alerting.status import AlertStatus
from infersight.service import GatewayService
from infersight.store.base import RequestSummary

WINDOW_S = 300.0


def _ms(values: dict[float, float], q: float) -> str:
    v = values.get(q)
    return "-" if v is None else f"{v * 1000:.0f}"


def summary_table(rows: list[RequestSummary], window_s: float) -> Table:
    table = Table(title=f"last {window_s / 60:.0f} min, by model", title_justify="left")
    for col in ("model", "requests", "errors", "TTFT p50/p95 ms", "ITL p50/p95 ms",
                "TPOT p50 ms", "E2E p50/p95 ms", "tokens/s"):  # fmt: skip
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in rows:
        model = dict(row.group).get("model") or "-"
        table.add_row(
            model,
            str(row.requests),
            f"{row.error_rate:.1%}",
            f"{_ms(row.ttft_s, 0.5)} / {_ms(row.ttft_s, 0.95)}",
            f"{_ms(row.itl_s, 0.5)} / {_ms(row.itl_s, 0.95)}",
            _ms(row.tpot_s, 0.5),
            f"{_ms(row.e2e_s, 0.5)} / {_ms(row.e2e_s, 0.95)}",
            f"{row.throughput_tokens_per_s:.1f}",
        )
    return table


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


class LiveSummary:
    """Renders the gateway's recent numbers from the store (queried off the event loop)."""

    def __init__(self, service: GatewayService, header: list[str]) -> None:
        self.service = service
        self.header = header
        self.extra: list[str] = []

    def infrastructure_lines(self) -> list[str]:
        """Collectors, host and cost, from the newest collected samples."""
        latest = self.service.latest
        states = [d.state for d in self.service.collectors]
        lines = []
        if states:
            lines.append(
                "collectors: "
                + ", ".join(
                    f"{st.collector} {st.status}"
                    + (f" ({st.last_error})" if st.status != "up" and st.last_error else "")
                    for st in states
                )
            )
        cpu = latest.value("host_cpu_utilization_ratio")
        rss = latest.value("process_resident_memory_bytes")
        lines.append(
            f"host: CPU {_fmt(None if cpu is None else cpu * 100, '.0f', ' %')}"
            f" · gateway memory {_fmt(None if rss is None else rss / 2**20, '.0f', ' MiB')}"
        )
        for labels, value in latest.values("quality_accuracy"):
            if labels.get("tag") == "all":
                lines.append(
                    f"quality [{labels.get('dataset', '')}]: accuracy {value:.0%} "
                    f"(sweep {labels.get('model', '')})"
                )
        for labels, value in latest.values("quality_live_relevance"):
            lines.append(f"live traffic [{labels.get('model', '')}]: relevance {value:.0%}")
        for labels, per_hour in latest.values("cost_usd_per_hour"):
            upstream = labels.get("upstream", "")
            per_1m = latest.value("cost_usd_per_1m_output_tokens", upstream=upstream)
            month = latest.value("cost_projected_month_usd", upstream=upstream)
            lines.append(
                f"cost [{upstream}]: ${per_hour:.2f}/h · ${_fmt(per_1m, ',.2f')} per 1M output "
                f"tokens · projected month ${_fmt(month, ',.0f')}"
            )
        return lines

    async def alert_lines(self) -> list[str]:
        """Alarms firing now, from the alert engine's state in the store."""
        settings = self.service.settings.alerting
        if not settings.enabled:
            return []
        status = AlertStatus(settings, self.service.store)
        active = await asyncio.to_thread(status.active, time.time())
        if not active:
            return ["alerts: none firing"]
        return [f"ALERT {a.get('rule')} {a.get('state')}: {a.get('summary') or ''}" for a in active]

    async def render(self) -> RenderableType:
        now = time.time()
        store = self.service.store
        rows = await asyncio.to_thread(
            store.summarize, now - WINDOW_S, now, group_by=("model",), sources=("user", "demo")
        )
        writer = self.service.writer
        status = Text(
            f"in flight {self.service.app.proxy.in_flight} · records written "
            f"{writer.written_total} · dropped {writer.dropped_total}",
            style="dim",
        )
        parts: list[RenderableType] = [Text(line) for line in self.header]
        if rows:
            parts.append(summary_table(rows, WINDOW_S))
        else:
            parts.append(Text("waiting for the first requests...", style="yellow"))
        parts.extend(Text(line, style="dim") for line in self.extra)
        parts.extend(Text(line) for line in self.infrastructure_lines())
        parts.extend(
            Text(line, style="bold red" if line.startswith("ALERT") else "")
            for line in await self.alert_lines()
        )
        parts.append(status)
        return Group(*parts)
