"""Settings of quality sweeps, the live-traffic sampler and the optional LLM judge
(`quality:` in the config file).

    quality:
      sweeps:
        - name: nightly-default
          dataset: default              # the packaged 100-item dataset, or a JSONL path
          cron: "0 2 * * *"             # 02:00 UTC every day (or interval_s: 3600)
          scorers: [accuracy, consistency, relevance, toxicity, hallucination]
          resamples: 2                  # 2 extra answers per item for self-consistency
      sampler:
        enabled: true                   # needs gateway.capture_text: true
        fraction: 0.05
      judge:
        base_url: http://127.0.0.1:8000/v1
        model: judge-model
        api_key_env: JUDGE_API_KEY

A sweep without `endpoint` goes through this gateway (its records are tagged as sweep
traffic and left out of user statistics).
"""

from __future__ import annotations

import math
import re
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infersight.config.errors import SettingValueError
from infersight.core.cron import CronError, CronSchedule
from infersight.quality.scorers import SCORERS

LIVE_SCORERS: Final = ("relevance", "toxicity", "refusal", "answer_length")
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_INTERVAL_S: Final = 3600.0

LiveScorer = Literal["relevance", "toxicity", "refusal", "answer_length"]
JudgeCriterion = Literal["correctness", "relevance", "faithfulness"]


def _all_scorers() -> list[str]:
    return list(SCORERS)


def _live_scorers() -> list[LiveScorer]:
    return list(LIVE_SCORERS)


def _correctness() -> list[JudgeCriterion]:
    return ["correctness"]


class SweepSettings(BaseModel):
    """One scheduled quality sweep: a dataset run against an endpoint and scored."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(
        default="",
        validate_default=True,  # a sweep without a name is refused where it is written
        description="Unique name of the sweep (letters, digits, _.-).",
    )
    enabled: bool = Field(default=True, description="Run this sweep on its schedule.")
    dataset: str = Field(
        default="default",
        description="JSONL dataset file, or 'default' for the packaged 100-item dataset.",
    )
    endpoint: str = Field(
        default="",
        description="OpenAI-compatible base URL to sweep (empty: through this gateway).",
    )
    api_key_env: str = Field(
        default="", description="Environment variable holding the endpoint's API key, if any."
    )
    model: str = Field(
        default="", description="Model to ask (empty: the first model the endpoint lists)."
    )
    interval_s: float | None = Field(
        default=None,
        gt=0,
        description="Run every this many seconds (default 3600 when no cron is given).",
    )
    cron: str = Field(
        default="",
        description="Five-field cron schedule in UTC, e.g. '0 2 * * *'; instead of interval_s.",
    )
    concurrency: int = Field(default=4, ge=1, le=256, description="Requests in flight at once.")
    max_tokens: int = Field(default=128, ge=1, description="max_tokens of each request.")
    temperature: float = Field(
        default=0.0, ge=0, le=2, description="Sampling temperature of the first answer."
    )
    resample_temperature: float = Field(
        default=0.7, ge=0, le=2, description="Sampling temperature of the extra answers."
    )
    resamples: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Extra answers per item for self-consistency (0: paraphrase groups only).",
    )
    timeout_s: float = Field(
        default=120.0, gt=0, description="Longest wait for one answer, in seconds."
    )
    scorers: list[str] = Field(
        default_factory=_all_scorers,
        min_length=1,
        description="Scorers to run: accuracy, consistency, relevance, toxicity, hallucination.",
    )
    tags: list[str] = Field(
        default_factory=list, description="Only items with one of these tags (empty: all items)."
    )
    use_judge: bool = Field(
        default=False, description="Also grade with the LLM judge (quality.judge must be set)."
    )
    alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="p-value under which a change against the previous sweep is significant.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not _NAME.match(v):
            raise SettingValueError(
                "every sweep needs a name" if not v else f"{v!r} is not a valid sweep name",
                hint="use letters, digits, '.', '_' and '-', e.g. name: nightly-default",
                show_value=bool(v),
            )
        return v

    @field_validator("scorers")
    @classmethod
    def _scorers(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in SCORERS]
        if unknown:
            raise SettingValueError(
                f"unknown scorer(s) {', '.join(map(repr, unknown))}",
                hint=f"choose from {', '.join(SCORERS)}",
            )
        return list(dict.fromkeys(v))

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^https?://[^/\s]+", v):
            raise SettingValueError(
                "must start with http:// or https://", hint="e.g. http://127.0.0.1:8000/v1"
            )
        return v.rstrip("/")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        v = v.strip()
        if v:
            try:
                CronSchedule.parse(v)
            except CronError as exc:
                raise SettingValueError(
                    str(exc), hint="minute hour day-of-month month day-of-week, in UTC"
                ) from None
        return v

    @model_validator(mode="after")
    def _one_schedule(self) -> SweepSettings:
        if self.cron and self.interval_s is not None:
            raise SettingValueError(
                f"sweep {self.name!r} sets both interval_s and cron",
                hint="keep one of them",
                show_value=False,
            )
        return self

    @property
    def every_s(self) -> float | None:
        """The interval when the schedule is not cron."""
        if self.cron:
            return None
        return self.interval_s if self.interval_s is not None else DEFAULT_INTERVAL_S

    def schedule(self) -> CronSchedule | None:
        return CronSchedule.parse(self.cron) if self.cron else None


class SamplerSettings(BaseModel):
    """Scores a share of real user requests with reference-free scorers (needs captured text)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = Field(
        default=False, description="Score sampled live requests (needs gateway.capture_text)."
    )
    fraction: float = Field(
        default=0.05, ge=0, le=1, description="Share of successful user requests scored."
    )
    scorers: list[LiveScorer] = Field(
        default_factory=_live_scorers,
        min_length=1,
        description="relevance, toxicity, refusal and/or answer_length.",
    )
    publish_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between two publications of the live series."
    )
    queue_size: int = Field(
        default=1000,
        ge=1,
        description="Sampled requests waiting to be scored at most (more are dropped).",
    )
    batch_size: int = Field(default=16, ge=1, description="Requests scored in one batch.")
    max_busy_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Most of the wall time the scoring worker may be busy (it pauses between "
        "batches): bounds the CPU taken from the gateway on small machines.",
    )
    seed: int | None = Field(
        default=None, description="Seed of the sampling draws (empty: unpredictable)."
    )

    @field_validator("fraction")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise SettingValueError("must be a number between 0 and 1")
        return v


class JudgeSettings(BaseModel):
    """An optional LLM judge over any OpenAI-compatible endpoint."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    base_url: str = Field(
        default="", description="OpenAI-compatible base URL of the judge (empty: no judge)."
    )
    model: str = Field(default="", description="Model that judges.")
    api_key_env: str = Field(
        default="", description="Environment variable holding the judge's API key, if any."
    )
    timeout_s: float = Field(default=30.0, gt=0, description="Longest wait for one verdict, s.")
    criteria: list[JudgeCriterion] = Field(
        default_factory=_correctness,
        min_length=1,
        description="What the judge grades: correctness, relevance, faithfulness.",
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^https?://[^/\s]+", v):
            raise SettingValueError(
                "must start with http:// or https://", hint="e.g. http://127.0.0.1:8000/v1"
            )
        return v.rstrip("/")

    @model_validator(mode="after")
    def _model_needed(self) -> JudgeSettings:
        if self.base_url and not self.model:
            raise SettingValueError(
                "judge.base_url is set but judge.model is empty",
                hint="name the judge model, e.g. model: gpt-4o-mini",
                show_value=False,
            )
        return self

    @property
    def configured(self) -> bool:
        return bool(self.base_url)


class QualitySettings(BaseModel):
    """Quality sweeps on a schedule, live-traffic sampling, and an optional LLM judge."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sweeps: list[SweepSettings] = Field(
        default_factory=list, description="Scheduled sweeps (none by default)."
    )
    check_interval_s: float = Field(
        default=30.0, gt=0, le=60, description="Seconds between two checks for due sweeps."
    )
    keep_days: float = Field(
        default=400.0, gt=0, description="Sweeps and their items are kept this many days."
    )
    sampler: SamplerSettings = Field(
        default_factory=SamplerSettings, description="Scoring of sampled live user requests."
    )
    judge: JudgeSettings = Field(
        default_factory=JudgeSettings, description="Optional LLM judge used by sweeps."
    )

    @model_validator(mode="after")
    def _unique(self) -> QualitySettings:
        seen: set[str] = set()
        for i, sweep in enumerate(self.sweeps):
            if sweep.name in seen:
                raise SettingValueError(
                    f"sweeps[{i}]: the sweep name {sweep.name!r} is used more than once",
                    hint="give each sweep its own name",
                    show_value=False,
                )
            seen.add(sweep.name)
            if sweep.use_judge and not self.judge.configured:
                raise SettingValueError(
                    f"sweeps[{i}] ({sweep.name}): use_judge is true but no judge is configured",
                    hint="set quality.judge.base_url and quality.judge.model, or use_judge: false",
                    show_value=False,
                )
        return self


__all__ = [
    "LIVE_SCORERS",
    "JudgeSettings",
    "QualitySettings",
    "SamplerSettings",
    "SweepSettings",
]
