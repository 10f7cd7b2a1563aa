"""Rule spec helpers: the metric vocabulary, metric selectors, and the look-back of a rule.

A rule names its series as `metric` and may narrow it with a selector, PromQL style:
``ttft_seconds{quantile="0.95",source="user"}`` is the metric ttft_seconds with those labels
(merged with the rule's `labels`). Names are checked against `known_metric`: the series
derived from requests, the collectors' and the cost daemon's names, and any `quality_*` score
series. Everything here is pure: no settings import (settings import this module).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from infersight.collectors.engine_maps import RULES as ENGINE_RULES
from infersight.config.errors import SettingValueError, did_you_mean
from infersight.core.derived import DERIVED_SERIES

DAY_S: Final = 86_400.0
MINUTE_S: Final = 60.0
HOUR_S: Final = 3600.0

# Collector series (collectors/nvml.py, host.py, base.py) and the cost daemon's (cost_daemon.py).
NVML_SERIES: Final = (
    "gpu_utilization_ratio",
    "gpu_memory_utilization_ratio",
    "gpu_memory_used_bytes",
    "gpu_memory_free_bytes",
    "gpu_memory_total_bytes",
    "gpu_power_watts",
    "gpu_temperature_celsius",
    "gpu_sm_clock_hz",
)
HOST_SERIES: Final = (
    "host_cpu_utilization_ratio",
    "host_memory_used_bytes",
    "host_memory_total_bytes",
    "host_disk_used_ratio",
    "host_disk_free_bytes",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
)
COLLECTOR_SERIES: Final = ("collector_up", "collector_duration_seconds")
COST_SERIES: Final = (
    "cost_usd_per_hour",
    "cost_usd_per_1m_output_tokens",
    "cost_idle_usd_per_hour",
    "cost_spent_today_usd",
    "cost_spent_month_usd",
    "cost_projected_month_usd",
    "cost_budget_remaining_usd",
)
# Series names anyone may write: quality scores (quality_accuracy, quality_toxicity, ...).
FREE_PREFIXES: Final = ("quality_",)


def _engine_series() -> Iterator[str]:
    for rule in ENGINE_RULES:
        yield rule.target
        if rule.shape == "histogram":  # <target>{quantile=...}, <target>_sum, <target>_count
            yield f"{rule.target}_sum"
            yield f"{rule.target}_count"


KNOWN_METRICS: Final[frozenset[str]] = frozenset(
    (
        *DERIVED_SERIES,
        *_engine_series(),
        *NVML_SERIES,
        *HOST_SERIES,
        *COLLECTOR_SERIES,
        *COST_SERIES,
    )
)


def known_metric(name: str) -> bool:
    return name in KNOWN_METRICS or name.startswith(FREE_PREFIXES)


_NAME: Final = r"[A-Za-z_:][A-Za-z0-9_:]*"
_SELECTOR: Final = re.compile(rf"^\s*({_NAME})\s*(?:\{{(.*)\}})?\s*$")
_PAIR: Final = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"([^"]*)"|([^,"\s]+))\s*')


@dataclass(frozen=True, slots=True)
class Selector:
    name: str
    labels: tuple[tuple[str, str], ...]


def parse_selector(text: str) -> Selector:
    """``name`` or ``name{k="v",k2=v2}``; SettingValueError saying what is wrong otherwise."""
    example = 'write a metric name, optionally with labels: ttft_seconds{quantile="0.95"}'
    match = _SELECTOR.match(text)
    if match is None:
        raise SettingValueError(
            f"{text!r} is not a metric selector", hint=example, show_value=False
        )
    name, body = match.group(1), match.group(2)
    labels: dict[str, str] = {}
    if body is not None and body.strip():
        for part in _split_pairs(body):
            pair = _PAIR.fullmatch(part)
            if pair is None:
                raise SettingValueError(
                    f"{text!r}: cannot read the label {part.strip()!r}",
                    hint='write labels as key="value", separated by commas',
                    show_value=False,
                )
            key, value = (
                pair.group(1),
                pair.group(2) if pair.group(2) is not None else pair.group(3),
            )
            if key in labels and labels[key] != value:
                raise SettingValueError(f"{text!r}: label {key!r} is given twice", show_value=False)
            labels[key] = value
    return Selector(name, tuple(sorted(labels.items())))


def _split_pairs(body: str) -> list[str]:
    parts, current, quoted = [], "", False
    for ch in body:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def check_metric(text: str, *, allow_unknown: bool, key: str = "metric") -> Selector:
    """Parse `text` and check its name against the vocabulary."""
    selector = parse_selector(text)
    if not allow_unknown and not known_metric(selector.name):
        suggestion = did_you_mean(selector.name, sorted(KNOWN_METRICS))
        raise SettingValueError(
            f"{key}: unknown metric {selector.name!r}{suggestion}",
            hint="use a series infersight writes (infersight alerts metrics lists them), a "
            "quality_* score, or set allow_unknown_metric: true for a series of your own",
            show_value=False,
        )
    return selector


def tier_of(step_s: float) -> str:
    """The store tier a query with this step reads (core.series.choose_tier): raw below one
    minute, 1h for whole hours, else 1m."""
    if step_s < MINUTE_S:
        return "raw"
    if step_s % HOUR_S == 0:
        return "hour"
    return "minute"


def span_text(seconds: float) -> str:
    for unit, size in (("d", DAY_S), ("h", HOUR_S), ("m", MINUTE_S)):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"
