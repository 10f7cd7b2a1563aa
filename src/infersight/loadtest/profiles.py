"""Load profiles: what load each level offers and for how long (pure values).

- `concurrency N`: a closed loop, N workers each sending its next request when the previous
  one ended (N requests always in flight); `ramp_s` spreads the workers' first requests.
- `rate R`: an open loop, arrivals at R per second whatever the endpoint does: Poisson gaps,
  or gamma gaps with `burstiness` (see `loadtest.arrivals`), optionally capped at
  `max_concurrency` requests in flight (arrivals beyond it wait for a free slot, as in vLLM).
- `sweep`: a ladder of concurrency or rate levels, each for a fixed duration or request count.
- `search`: rate levels chosen by `loadtest.search` until the highest rate that meets the SLOs.

Every level starts with `warmup_s` whose requests are sent but not measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

Mode = Literal["concurrency", "rate"]
MODES: Final = ("concurrency", "rate")
DEFAULT_CONCURRENCY_LADDER: Final = (1, 2, 4, 8, 16, 32, 64, 128)
DEFAULT_RATE_LADDER: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


@dataclass(frozen=True, slots=True)
class Level:
    """One load level. Exactly one of `duration_s` / `num_requests` bounds the measured part."""

    mode: Mode
    value: float  # workers (concurrency) or arrivals per second (rate)
    duration_s: float | None = None
    num_requests: int | None = None
    warmup_s: float = 0.0
    burstiness: float = 1.0
    max_concurrency: int | None = None
    ramp_s: float = 0.0  # closed loop: worker i starts at i × ramp_s / N (no thundering herd)

    def __post_init__(self) -> None:
        problems = level_problems(self)
        if problems:
            raise ValueError("invalid load level: " + "; ".join(problems))

    @property
    def concurrency(self) -> int | None:
        return int(self.value) if self.mode == "concurrency" else None

    @property
    def rate_per_s(self) -> float | None:
        return self.value if self.mode == "rate" else None

    @property
    def label(self) -> str:
        if self.mode == "concurrency":
            return f"concurrency {int(self.value)}"
        text = f"rate {self.value:g}/s"
        if self.burstiness != 1.0:
            text += f" burstiness {self.burstiness:g}"
        if self.max_concurrency is not None:
            text += f" max {self.max_concurrency}"
        return text


def level_problems(level: Level) -> list[str]:
    """Every problem with a level, each naming the field and the value seen."""
    out: list[str] = []
    if level.mode not in MODES:
        out.append(f"mode must be one of {', '.join(MODES)}, got {level.mode!r}")
    if not math.isfinite(level.value) or level.value <= 0:
        out.append(f"value must be > 0, got {level.value!r}")
    elif level.mode == "concurrency" and level.value != int(level.value):
        out.append(f"concurrency must be a whole number, got {level.value!r}")
    if (level.duration_s is None) == (level.num_requests is None):
        out.append("give exactly one of duration_s and num_requests")
    if level.duration_s is not None and not (
        math.isfinite(level.duration_s) and level.duration_s > 0
    ):
        out.append(f"duration_s must be > 0, got {level.duration_s!r}")
    if level.num_requests is not None and level.num_requests < 1:
        out.append(f"num_requests must be >= 1, got {level.num_requests!r}")
    if not math.isfinite(level.warmup_s) or level.warmup_s < 0:
        out.append(f"warmup_s must be >= 0, got {level.warmup_s!r}")
    if not math.isfinite(level.ramp_s) or level.ramp_s < 0:
        out.append(f"ramp_s must be >= 0, got {level.ramp_s!r}")
    if not math.isfinite(level.burstiness) or level.burstiness <= 0:
        out.append(f"burstiness must be > 0 (1 = Poisson), got {level.burstiness!r}")
    if level.max_concurrency is not None and level.max_concurrency < 1:
        out.append(f"max_concurrency must be >= 1, got {level.max_concurrency!r}")
    return out


def sweep_levels(
    mode: Mode,
    values: Sequence[float],
    *,
    duration_s: float | None = None,
    num_requests: int | None = None,
    warmup_s: float = 0.0,
    burstiness: float = 1.0,
    max_concurrency: int | None = None,
    ramp_s: float = 0.0,
) -> list[Level]:
    """One level per value, in ascending order (duplicates dropped)."""
    if not values:
        raise ValueError("a sweep needs at least one level")
    return [
        Level(
            mode,
            float(v),
            duration_s=duration_s,
            num_requests=num_requests,
            warmup_s=warmup_s,
            burstiness=burstiness,
            max_concurrency=max_concurrency,
            ramp_s=ramp_s,
        )
        for v in sorted(set(values))
    ]


def parse_ladder(text: str, *, mode: Mode) -> list[float]:
    """'1,2,4,8' → [1, 2, 4, 8]; 'geom:1:64' → 1, 2, 4, ... 64 (doubling). ValueError otherwise."""
    text = text.strip()
    try:
        if text.startswith("geom:"):
            lo_s, hi_s = text[5:].split(":")
            lo, hi = float(lo_s), float(hi_s)
            if not (0 < lo <= hi and math.isfinite(hi)):
                raise ValueError
            values = []
            v = lo
            while v <= hi * (1 + 1e-9):
                values.append(v)
                v *= 2
        else:
            values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"invalid ladder {text!r}: expected comma-separated numbers (1,2,4,8) or "
            "geom:LOW:HIGH (doubling from LOW to HIGH)"
        ) from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"invalid ladder {text!r}: every level must be a number > 0")
    if mode == "concurrency" and any(v != int(v) for v in values):
        raise ValueError(f"invalid ladder {text!r}: concurrency levels must be whole numbers")
    return values
