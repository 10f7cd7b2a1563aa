"""Store series as PromQL over the gateway's /metrics (for `prom_rules`).

The store's series and the /metrics names differ for everything derived from request records:
per-minute quantiles become histogram_quantile over the gateway's bucket counters
(`ttft_seconds{quantile="0.95"}` → histogram_quantile(0.95, sum by (le, model, upstream)
(rate(infersight_ttft_seconds_bucket[1m])))), per-second series become counter rates,
`request_error_ratio` becomes errors / requests. Every other series is the `infersight_<name>`
gauge that exporters/latest.py writes, under the rule's statistic over time
(avg_over_time, max_over_time, quantile_over_time, rate). `Translator.notes` says what could
not be carried over (labels /metrics lacks, approximations).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from infersight.alerting.rules import parse_selector
from infersight.alerting.settings import AlertRuleSettings
from infersight.core.derived import DERIVED_QUANTILES, SERVING_ERROR_CLASSES, quantile_label
from infersight.core.series import PERCENTILE_AGGS
from infersight.exporters.latest import exported_name
from infersight.exporters.prometheus import E2E_BUCKETS_S, ITL_BUCKETS_S, TTFT_BUCKETS_S

MIN_RANGE_S: Final = 60.0  # shortest range selector: four scrapes at the default 15 s
REQUEST_DIMS: Final = ("model", "upstream")  # labels of the gateway's request metrics
HISTOGRAMS: Final[dict[str, str]] = {
    "ttft_seconds": "infersight_ttft_seconds",
    "itl_seconds": "infersight_inter_token_latency_seconds",
    "tpot_seconds": "infersight_tpot_seconds",
    "e2e_seconds": "infersight_e2e_request_latency_seconds",
}
COUNTERS: Final[dict[str, str]] = {
    "requests_per_s": "infersight_requests_total",
    "request_errors_per_s": "infersight_request_errors_total",
    "request_serving_errors_per_s": "infersight_request_errors_total",
    "output_tokens_per_s": "infersight_completion_tokens_total",
}
# One more matcher a counter's series needs (the serving-side error classes).
COUNTER_MATCHERS: Final[dict[str, str]] = {
    "request_serving_errors_per_s": f'error_class=~"{"|".join(SERVING_ERROR_CLASSES)}"',
}
ERROR_RATIO: Final = "request_error_ratio"
# store series -> (gauge on /metrics, the labels it has)
GAUGE_ALIASES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "requests_in_flight": ("infersight_requests_in_flight", ("upstream",)),
}
SLO_HISTOGRAMS: Final[dict[str, tuple[str, tuple[float, ...]]]] = {
    "ttft_s": ("infersight_ttft_seconds", TTFT_BUCKETS_S),
    "e2e_s": ("infersight_e2e_request_latency_seconds", E2E_BUCKETS_S),
    "tpot_s": ("infersight_tpot_seconds", ITL_BUCKETS_S),
    "itl_mean_s": ("infersight_inter_token_latency_seconds", ITL_BUCKETS_S),
    "itl_p50_s": ("infersight_inter_token_latency_seconds", ITL_BUCKETS_S),
    "itl_p90_s": ("infersight_inter_token_latency_seconds", ITL_BUCKETS_S),
}
_OVER_TIME: Final = {"avg": "avg_over_time", "min": "min_over_time", "max": "max_over_time"}
_INVALID_NAME: Final = re.compile(r"[^A-Za-z0-9_]")


class ExportError(ValueError):
    """A rule that cannot be written as PromQL; the message names the rule and the fix."""


# -- PromQL text --------------------------------------------------------------------------------


def prom_duration(seconds: float) -> str:
    """90 -> "90s", 300 -> "5m", 259200 -> "3d" (the largest whole unit)."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def number(x: float) -> str:
    """A float literal without binary noise: 14.4 × 0.01 -> "0.144"."""
    return f"{x:.12g}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(metric: str, labels: Mapping[str, str], extra: str = "") -> str:
    """metric{k="v",...}; `extra` is one more matcher written as PromQL."""
    parts = [f"{k}={_quote(v)}" for k, v in sorted(labels.items())]
    if extra:
        parts.append(extra)
    return f"{metric}{{{','.join(parts)}}}" if parts else metric


def aggregate(op: str, by: Sequence[str], expr: str) -> str:
    return f"{op} by ({', '.join(by)}) ({expr})" if by else f"{op}({expr})"


def over_time(statistic: str, range_expr: str) -> str:
    """The rule's statistic over a range: avg -> avg_over_time(x[5m]), p95 ->
    quantile_over_time(0.95, x[5m]), rate -> rate(x[5m])."""
    if statistic in _OVER_TIME:
        return f"{_OVER_TIME[statistic]}({range_expr})"
    if statistic == "sum":
        return f"sum_over_time({range_expr})"
    if statistic == "rate":
        return f"rate({range_expr})"
    return f"quantile_over_time({number(PERCENTILE_AGGS[statistic])}, {range_expr})"


def record_name(prefix: str, rule_name: str, suffix: str) -> str:
    return f"{prefix}:{_INVALID_NAME.sub('_', rule_name)}:{suffix}"


def le_matcher(edge: float) -> str:
    """Matches a bucket edge as the gateway writes it ("1.0") and as Prometheus 3 normalises it
    ("1")."""
    forms = sorted({repr(float(edge)), f"{edge:g}" if float(edge).is_integer() else repr(edge)})
    if len(forms) == 1:
        return f"le={_quote(forms[0])}"
    return "le=~" + _quote("|".join(f.replace(".", "\\.") for f in forms))


# -- store series -> PromQL ---------------------------------------------------------------------


@dataclass(slots=True)
class Series:
    """A store series selector as PromQL, with the labels its result carries."""

    expr: str
    labels: list[str]  # result labels worth naming in a summary
    primary: str  # a selector for absent()


class Translator:
    """Store series of one rule as PromQL; `notes` collects what was dropped or approximated."""

    def __init__(self, rule: AlertRuleSettings, *, min_range_s: float = MIN_RANGE_S) -> None:
        self.rule = rule
        self.min_range_s = min_range_s
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def series(self, text: str, *, by: list[str] | None, agg: str) -> Series:
        """The rule's statistic of `text` over period_s; by None: one result per series (the
        store's default), a list: aggregated by those labels with `agg`."""
        sel = parse_selector(text)
        labels = {**dict(sel.labels), **self.rule.labels}
        if sel.name in HISTOGRAMS or sel.name in COUNTERS or sel.name == ERROR_RATIO:
            return self._request_series(sel.name, labels, by)
        metric, allowed = GAUGE_ALIASES.get(sel.name, (exported_name(sel.name), ()))
        if allowed:
            labels = self.keep(sel.name, labels, allowed)
        primary = selector(metric, labels)
        window = prom_duration(max(self.rule.period_s, self.min_range_s))
        expr = over_time(self.rule.statistic, f"{primary}[{window}]")
        if by is None:
            return Series(expr, [], primary)
        return Series(aggregate(agg, by, expr), list(by), primary)

    def keep(self, name: str, labels: dict[str, str], allowed: Sequence[str]) -> dict[str, str]:
        """The labels /metrics has (noting the others)."""
        if labels.pop("source", None) is not None:
            self.note("source: not a label on /metrics (traffic of every source counts)")
        dropped = sorted(set(labels) - set(allowed) - {"quantile"})
        if dropped:
            self.note(f"{name}: label {', '.join(dropped)} is not on /metrics (dropped)")
        return {k: v for k, v in labels.items() if k in allowed}

    def _request_series(self, name: str, labels: dict[str, str], by: list[str] | None) -> Series:
        quantile = labels.get("quantile")
        match = self.keep(name, labels, REQUEST_DIMS)
        dims = list(REQUEST_DIMS) if by is None else [d for d in by if d in REQUEST_DIMS]
        if by is not None and set(by) - set(REQUEST_DIMS):
            extra = ", ".join(sorted(set(by) - set(REQUEST_DIMS)))
            self.note(f"group_by {extra}: not a label of the request metrics (dropped)")
        if name in HISTOGRAMS and by is not None:
            self.note(f"{name}: one histogram per group (merged buckets), not `combine`")
        if quantile is not None:
            try:
                float(quantile)
            except ValueError:
                raise ExportError(
                    f"rule {self.rule.name!r}: quantile label {quantile!r} is not a number "
                    '(use e.g. quantile="0.95")'
                ) from None
        period, stat, step = self.rule.period_s, self.rule.statistic, self.min_range_s
        if period <= step or stat in ("avg", "rate"):
            expr = request_rate_expr(name, match, quantile, dims, max(period, step))
        else:  # a statistic of the per-minute values within the period: a subquery
            inner = request_rate_expr(name, match, quantile, dims, step)
            expr = over_time(stat, f"({inner})[{prom_duration(period)}:{prom_duration(step)}]")
        if name == "itl_seconds":
            self.note("itl_seconds: quantiles of every token gap, not of each request's mean ITL")
        base = HISTOGRAMS.get(name, COUNTERS.get(name, COUNTERS["requests_per_s"]))
        primary = selector(base + ("_count" if name in HISTOGRAMS else ""), match)
        shown = [*dims, "quantile"] if name in HISTOGRAMS and quantile is None else dims
        return Series(expr, shown, primary)


def request_rate_expr(
    name: str, match: Mapping[str, str], quantile: str | None, dims: Sequence[str], range_s: float
) -> str:
    """A request-derived store series over one range: histogram quantiles, counter rates, or
    errors / requests. Without a quantile, all four of the store's quantiles, labelled."""
    r = prom_duration(range_s)
    if name in HISTOGRAMS:
        bucket = selector(f"{HISTOGRAMS[name]}_bucket", match)
        inner = aggregate("sum", ["le", *dims], f"rate({bucket}[{r}])")
        if quantile is not None:
            return f"histogram_quantile({quantile}, {inner})"
        parts = [
            f'label_replace(histogram_quantile({q:g}, {inner}), "quantile", '
            f'"{quantile_label(q)}", "", "")'
            for q in DERIVED_QUANTILES
        ]
        return "(" + " or ".join(parts) + ")"
    if name == ERROR_RATIO:
        errors = request_rate_expr("request_errors_per_s", match, None, dims, range_s)
        requests = request_rate_expr("requests_per_s", match, None, dims, range_s)
        return f"({errors} / {requests})"
    counter = selector(COUNTERS[name], match, COUNTER_MATCHERS.get(name, ""))
    return aggregate("sum", dims, f"rate({counter}[{r}])")
