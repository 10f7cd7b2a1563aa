"""Made-up request rows for the pure load-test code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infersight.loadtest.results import RequestRow

RowFactory = Callable[..., RequestRow]
T0 = 1_700_000_000.0


def make_row(
    i: int,
    *,
    start: float | None = None,
    ttft: float | None = 0.1,
    e2e: float = 1.0,
    tokens: int = 11,
    error: str | None = None,
    level: int = 0,
    measured: bool = True,
    **extra: Any,
) -> RequestRow:
    gaps = (
        () if error or tokens < 2 or ttft is None else ((e2e - ttft) / (tokens - 1),) * (tokens - 1)
    )
    values: dict[str, Any] = {
        "index": i,
        "level": level,
        "start_s": T0 + (i * 0.1 if start is None else start),
        "offset_s": i * 0.1 if start is None else start,
        "measured": measured,
        "status": 500 if error else 200,
        "error_class": error,
        "error": f"HTTP 500: {error}" if error else None,
        "ttft_s": None if error else ttft,
        "e2e_s": e2e,
        "tpot_s": None if error or tokens < 2 or ttft is None else (e2e - ttft) / (tokens - 1),
        "itl_s": gaps,
        "output_tokens": 0 if error else tokens,
        "prompt_tokens": 5,
        "tokens_estimated": False,
        "finish_reason": None if error else "stop",
    }
    values.update(extra)
    return RequestRow(**values)


@pytest.fixture
def row() -> RowFactory:
    return make_row
