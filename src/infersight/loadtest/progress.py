"""Live progress of a load test: level, elapsed, requests done, p50/p95 TTFT, tokens/s.

`ProgressState` is the sink the driver reports to (plain state, time passed in, testable);
`LiveProgress` shows its snapshot in a rich Live panel refreshed a few times a second.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Final, Protocol

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from infersight.core.clock import Clock
from infersight.daemons import Daemon
from infersight.loadtest.results import RequestRow
from infersight.loadtest.summary import LevelSummary

TOKENS_WINDOW_S: Final = 5.0
TTFT_WINDOW: Final = 500  # the newest TTFTs behind the live percentiles


class ProgressSink(Protocol):
    def level_started(self, index: int, label: str, now: float) -> None: ...
    def request_done(self, row: RequestRow, now: float) -> None: ...
    def level_finished(self, summary: LevelSummary, now: float) -> None: ...
    def note(self, text: str) -> None: ...


class NullProgress:
    def level_started(self, index: int, label: str, now: float) -> None:
        pass

    def request_done(self, row: RequestRow, now: float) -> None:
        pass

    def level_finished(self, summary: LevelSummary, now: float) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    level: str
    level_index: int
    elapsed_s: float
    level_elapsed_s: float
    requests_done: int
    level_requests_done: int
    errors: int
    errors_by_class: dict[str, int]
    p50_ttft_ms: float | None
    p95_ttft_ms: float | None
    tokens_per_s: float
    finished: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass
class ProgressState:
    """Counts what the driver reports. `now` values are monotonic seconds."""

    started: float
    level: str = "starting"
    level_index: int = -1
    level_start: float = 0.0
    done: int = 0
    level_done: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    finished: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _ttfts: deque[float] = field(default_factory=lambda: deque(maxlen=TTFT_WINDOW))
    _tokens: deque[tuple[float, int]] = field(default_factory=deque)

    def level_started(self, index: int, label: str, now: float) -> None:
        self.level, self.level_index, self.level_start = label, index, now
        self.level_done = 0
        self._ttfts.clear()

    def request_done(self, row: RequestRow, now: float) -> None:
        self.done += 1
        self.level_done += 1
        if row.error_class is not None:
            self.errors[row.error_class] += 1
            return
        if row.ttft_s is not None:
            self._ttfts.append(row.ttft_s)
        self._tokens.append((now, row.output_tokens))

    def level_finished(self, summary: LevelSummary, now: float) -> None:
        p50 = summary.ttft_ms.median
        line = (
            f"{summary.label}: {summary.completed} ok, {summary.failed} failed, "
            f"{summary.request_throughput:.2f} req/s, {summary.output_throughput:.0f} tok/s"
        )
        if p50 is not None:
            line += f", TTFT p50 {p50:.1f} ms"
        if summary.saturation:
            line += f" [saturated: {summary.saturation}]"
        self.finished.append(line)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def snapshot(self, now: float) -> ProgressSnapshot:
        tokens = self._tokens
        while tokens and tokens[0][0] < now - TOKENS_WINDOW_S:
            tokens.popleft()
        span = min(TOKENS_WINDOW_S, max(now - self.started, 1e-3))
        p50 = p95 = None
        if self._ttfts:
            q = np.percentile(np.fromiter(self._ttfts, float), (50, 95))
            p50, p95 = float(q[0]) * 1000.0, float(q[1]) * 1000.0
        return ProgressSnapshot(
            level=self.level,
            level_index=self.level_index,
            elapsed_s=now - self.started,
            level_elapsed_s=now - self.level_start if self.level_index >= 0 else 0.0,
            requests_done=self.done,
            level_requests_done=self.level_done,
            errors=sum(self.errors.values()),
            errors_by_class=dict(self.errors),
            p50_ttft_ms=p50,
            p95_ttft_ms=p95,
            tokens_per_s=sum(n for _, n in tokens) / span,
            finished=tuple(self.finished[-12:]),
            notes=tuple(self.notes[-4:]),
        )


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} ms"


def render_snapshot(s: ProgressSnapshot) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("level", f"{s.level} ({s.level_elapsed_s:.1f} s)")
    table.add_row("elapsed", f"{s.elapsed_s:.1f} s")
    table.add_row("requests", f"{s.requests_done} done ({s.level_requests_done} this level)")
    errs = ", ".join(f"{k} {v}" for k, v in sorted(s.errors_by_class.items())) or "none"
    table.add_row("errors", Text(errs, style="red" if s.errors else ""))
    table.add_row("TTFT p50 / p95", f"{_ms(s.p50_ttft_ms)} / {_ms(s.p95_ttft_ms)}")
    table.add_row("output tokens/s", f"{s.tokens_per_s:.0f}")
    parts: list[RenderableType] = [Text(line, style="dim") for line in s.finished]
    parts += [Text(n, style="yellow") for n in s.notes]
    parts.append(table)
    return Group(*parts)


class LiveProgress(Daemon):
    """Shows the state in a rich Live panel, redrawn on the event loop every `interval_s`
    (never from another thread: the state is only touched by the loop)."""

    name = "loadtest-progress"

    def __init__(
        self,
        state: ProgressState,
        clock: Clock,
        *,
        console: Console | None = None,
        interval_s: float = 0.25,
    ) -> None:
        super().__init__(clock, interval_s)
        self.state = state
        self._live = Live(
            console=console or Console(stderr=True),
            auto_refresh=False,
            transient=False,
        )
        self._shown = False

    def render(self) -> RenderableType:
        return render_snapshot(self.state.snapshot(self.clock.monotonic()))

    async def tick(self, now: float) -> None:
        if not self._shown:
            self._live.start()
            self._shown = True
        self._live.update(self.render(), refresh=True)

    async def on_stop(self) -> None:
        if self._shown:
            self._live.update(self.render(), refresh=True)
            self._live.stop()


class PrintProgress(ProgressState):
    """For a terminal that is not interactive: one line per finished level and per note."""

    def __init__(self, started: float, console: Console) -> None:
        super().__init__(started)
        self._console = console

    def level_finished(self, summary: LevelSummary, now: float) -> None:
        super().level_finished(summary, now)
        self._console.print(self.finished[-1], highlight=False)

    def note(self, text: str) -> None:
        super().note(text)
        self._console.print(text, style="yellow", highlight=False)
