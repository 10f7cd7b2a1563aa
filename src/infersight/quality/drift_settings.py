"""Settings of the drift report and its daemon (`drift:` in the config file).

    drift:
      enabled: true               # prompt drift needs gateway.capture_text: true
      interval_s: 900             # run every 15 minutes
      current_window_s: 3600      # the last hour ...
      baseline_window_s: 86400    # ... against the 24 hours before it
      alpha: 0.01                 # p-value below which a change counts (MMD, KS)

The baseline window ends where the current window starts: [now - current - baseline,
now - current) against [now - current, now).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["user", "sweep", "loadtest", "demo"]


def _user_only() -> list[Source]:
    return ["user"]


class DriftSettings(BaseModel):
    """Drift of prompts and answers between a baseline window and the current window."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = Field(
        default=False,
        description="Run the drift report on a schedule (prompt drift needs "
        "gateway.capture_text: true; length drift works without it).",
    )
    interval_s: float = Field(default=900.0, gt=0, description="Seconds between two drift reports.")
    current_window_s: float = Field(
        default=3600.0, gt=0, description="Length of the current window, in seconds (ends now)."
    )
    baseline_window_s: float = Field(
        default=86400.0,
        gt=0,
        description="Length of the baseline window, in seconds (ends where the current starts).",
    )
    max_requests_per_window: int = Field(
        default=500,
        ge=10,
        le=5000,
        description="Most requests per model and window that are analysed (a seeded random "
        "subsample beyond); bounds the embedding and MMD cost.",
    )
    min_requests: int = Field(
        default=30,
        ge=5,
        description="Fewest requests per model in each window for a signal to be computed.",
    )
    mmd_permutations: int = Field(
        default=200, ge=20, le=10000, description="Permutations of the MMD p-value."
    )
    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="p-value below which a change counts as drift (prompt MMD, length KS).",
    )
    psi_bins: int = Field(default=10, ge=2, le=50, description="Quantile bins of the length PSI.")
    psi_threshold: float = Field(
        default=0.25,
        gt=0,
        description="PSI above which a length distribution counts as drifted (0.25: major), "
        "when its KS test also has p < alpha.",
    )
    sources: list[Source] = Field(
        default_factory=_user_only,
        min_length=1,
        description="Traffic sources analysed (user, sweep, loadtest, demo).",
    )
    seed: int = Field(default=0, description="Seed of the subsampling and permutations.")
