"""Serving-engine metric names → one vocabulary (pure: tables and functions, no I/O).

Each supported exporter (vLLM, TGI, SGLang, llama.cpp server, NVIDIA's DCGM exporter) names the
same few quantities differently. `RULES` maps each source family onto our name, its shape and a
unit scale; `map_families` applies them to parsed exposition families and returns points and
histograms labelled `engine` (the kind), `upstream`, `model` (from `model_name` when present),
plus a few identity labels per kind (`LABELS`). Unknown families are ignored.

Aliases: where an engine renamed a metric (vLLM `gpu_cache_usage_perc` → `kv_cache_usage_perc`,
`time_per_output_token_seconds` → `inter_token_latency_seconds`; SGLang likewise), both names are
listed with a rank; when an endpoint exposes both, only the preferred one (rank 0) is used, so
nothing is counted twice. Series that collapse onto the same output labels (vLLM's
`request_success_total` per finished_reason) are summed; ratios take the max instead.

Family names are compared without a trailing `_total` (the Prometheus parser strips it from
counters, and some exporters emit counters untyped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from infersight.collectors.histograms import HistogramSnapshot

Shape = Literal["gauge", "counter", "histogram", "histogram_sum"]
Agg = Literal["sum", "max"]
Labels = tuple[tuple[str, str], ...]

ENGINE_KINDS: Final = ("vllm", "tgi", "sglang", "llamacpp", "dcgm")
PREFIXES: Final[dict[str, str]] = {
    "vllm": "vllm:",
    "tgi": "tgi_",
    "sglang": "sglang:",
    "llamacpp": "llamacpp:",
    "dcgm": "DCGM_FI_",
}
MIB: Final = 1024.0 * 1024.0


@dataclass(frozen=True, slots=True)
class Rule:
    """One source family → our metric. `scale` converts units; `rank` orders aliases (0 first)."""

    kind: str
    source: str
    target: str
    shape: Shape
    scale: float = 1.0
    rank: int = 0
    agg: Agg = "sum"


# Histogram targets emit <target>_sum, <target>_count and <target>{quantile="0.5"|"0.95"}.
RULES: Final[tuple[Rule, ...]] = (
    # vLLM (V0 and V1 names). Labels: model_name, engine (data-parallel engine index).
    Rule("vllm", "vllm:num_requests_running", "engine_requests_running", "gauge"),
    Rule("vllm", "vllm:num_requests_waiting", "engine_requests_waiting", "gauge"),
    Rule("vllm", "vllm:kv_cache_usage_perc", "engine_kv_cache_usage_ratio", "gauge", agg="max"),
    Rule(
        "vllm",
        "vllm:gpu_cache_usage_perc",
        "engine_kv_cache_usage_ratio",
        "gauge",
        rank=1,
        agg="max",
    ),
    Rule("vllm", "vllm:num_preemptions", "engine_preemptions_total", "counter"),
    Rule("vllm", "vllm:prompt_tokens", "engine_prompt_tokens_total", "counter"),
    Rule("vllm", "vllm:generation_tokens", "engine_generation_tokens_total", "counter"),
    Rule("vllm", "vllm:request_success", "engine_requests_success_total", "counter"),
    Rule("vllm", "vllm:time_to_first_token_seconds", "engine_ttft_seconds", "histogram"),
    Rule("vllm", "vllm:inter_token_latency_seconds", "engine_itl_seconds", "histogram"),
    Rule("vllm", "vllm:time_per_output_token_seconds", "engine_itl_seconds", "histogram", rank=1),
    Rule("vllm", "vllm:e2e_request_latency_seconds", "engine_e2e_seconds", "histogram"),
    Rule("vllm", "vllm:request_queue_time_seconds", "engine_queue_seconds", "histogram"),
    # Hugging Face TGI. No labels on request metrics; no TTFT histogram.
    Rule("tgi", "tgi_batch_current_size", "engine_requests_running", "gauge"),
    Rule("tgi", "tgi_queue_size", "engine_requests_waiting", "gauge"),
    Rule("tgi", "tgi_batch_current_max_tokens", "engine_batch_max_tokens", "gauge"),
    Rule("tgi", "tgi_request_count", "engine_requests_total", "counter"),
    Rule("tgi", "tgi_request_success", "engine_requests_success_total", "counter"),
    Rule("tgi", "tgi_request_input_length", "engine_prompt_tokens_total", "histogram_sum"),
    Rule("tgi", "tgi_request_generated_tokens", "engine_generation_tokens_total", "histogram_sum"),
    Rule("tgi", "tgi_request_duration", "engine_e2e_seconds", "histogram"),
    Rule("tgi", "tgi_request_mean_time_per_token_duration", "engine_itl_seconds", "histogram"),
    Rule("tgi", "tgi_request_queue_duration", "engine_queue_seconds", "histogram"),
    # SGLang (--enable-metrics). Labels: model_name, tp_rank, ...
    Rule("sglang", "sglang:num_running_reqs", "engine_requests_running", "gauge"),
    Rule("sglang", "sglang:num_queue_reqs", "engine_requests_waiting", "gauge"),
    Rule("sglang", "sglang:token_usage", "engine_kv_cache_usage_ratio", "gauge", agg="max"),
    Rule("sglang", "sglang:cache_hit_rate", "engine_prefix_cache_hit_ratio", "gauge", agg="max"),
    Rule("sglang", "sglang:gen_throughput", "engine_generation_tokens_per_second", "gauge"),
    Rule("sglang", "sglang:num_requests", "engine_requests_total", "counter"),
    Rule("sglang", "sglang:prompt_tokens", "engine_prompt_tokens_total", "counter"),
    Rule("sglang", "sglang:generation_tokens", "engine_generation_tokens_total", "counter"),
    Rule("sglang", "sglang:time_to_first_token_seconds", "engine_ttft_seconds", "histogram"),
    Rule("sglang", "sglang:inter_token_latency_seconds", "engine_itl_seconds", "histogram"),
    Rule(
        "sglang", "sglang:time_per_output_token_seconds", "engine_itl_seconds", "histogram", rank=1
    ),
    Rule("sglang", "sglang:e2e_request_latency_seconds", "engine_e2e_seconds", "histogram"),
    # llama.cpp server (llama-server --metrics). No labels.
    Rule("llamacpp", "llamacpp:requests_processing", "engine_requests_running", "gauge"),
    Rule("llamacpp", "llamacpp:requests_deferred", "engine_requests_waiting", "gauge"),
    Rule(
        "llamacpp",
        "llamacpp:kv_cache_usage_ratio",
        "engine_kv_cache_usage_ratio",
        "gauge",
        agg="max",
    ),
    Rule("llamacpp", "llamacpp:prompt_tokens", "engine_prompt_tokens_total", "counter"),
    Rule("llamacpp", "llamacpp:tokens_predicted", "engine_generation_tokens_total", "counter"),
    Rule("llamacpp", "llamacpp:n_decode", "engine_decode_calls_total", "counter"),
    Rule("llamacpp", "llamacpp:prompt_tokens_seconds", "engine_prompt_tokens_per_second", "gauge"),
    Rule(
        "llamacpp",
        "llamacpp:predicted_tokens_seconds",
        "engine_generation_tokens_per_second",
        "gauge",
    ),
    # NVIDIA DCGM exporter. Labels: gpu, UUID, modelName, GPU_I_ID (MIG), Hostname, ...
    Rule("dcgm", "DCGM_FI_DEV_GPU_UTIL", "gpu_utilization_ratio", "gauge", scale=0.01, agg="max"),
    Rule(
        "dcgm",
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "gpu_memory_utilization_ratio",
        "gauge",
        scale=0.01,
        agg="max",
    ),
    Rule("dcgm", "DCGM_FI_DEV_FB_USED", "gpu_memory_used_bytes", "gauge", scale=MIB),
    Rule("dcgm", "DCGM_FI_DEV_FB_FREE", "gpu_memory_free_bytes", "gauge", scale=MIB),
    Rule("dcgm", "DCGM_FI_DEV_POWER_USAGE", "gpu_power_watts", "gauge"),
    Rule("dcgm", "DCGM_FI_DEV_GPU_TEMP", "gpu_temperature_celsius", "gauge", agg="max"),
    Rule("dcgm", "DCGM_FI_DEV_SM_CLOCK", "gpu_sm_clock_hz", "gauge", scale=1e6, agg="max"),
    Rule("dcgm", "DCGM_FI_PROF_SM_ACTIVE", "gpu_sm_active_ratio", "gauge", agg="max"),
    Rule("dcgm", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gpu_gr_engine_active_ratio", "gauge", agg="max"),
)
RULES_BY_SOURCE: Final[dict[str, Rule]] = {r.source: r for r in RULES}

# Source labels kept per kind (renamed); all others are dropped. `model_name` → `model` always.
LABELS: Final[dict[str, dict[str, str]]] = {
    "vllm": {"engine": "engine_index"},
    "tgi": {},
    "sglang": {"tp_rank": "tp_rank", "dp_rank": "dp_rank", "pp_rank": "pp_rank"},
    "llamacpp": {},
    "dcgm": {"gpu": "gpu", "UUID": "gpu_uuid", "modelName": "gpu_name", "GPU_I_ID": "mig"},
}
QUANTILES: Final = (0.5, 0.95)


class SampleLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def value(self) -> float: ...


class FamilyLike(Protocol):
    """What `prometheus_client.parser` yields: a family name, its type and its samples."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def samples(self) -> Sequence[SampleLike]: ...


def family_key(name: str) -> str:
    """The name rules are keyed on: without a trailing `_total`."""
    return name[:-6] if name.endswith("_total") else name


def engine_kind(name: str) -> str | None:
    """The engine kind whose prefix `name` carries, or None."""
    for kind, prefix in PREFIXES.items():
        if name.startswith(prefix):
            return kind
    return None


def detect_engines(names: Iterable[str]) -> list[str]:
    """Kinds present among metric family names, most families first (ties: ENGINE_KINDS order).

    Only names with a known rule count, so a stray `tgi_`-prefixed family of some other
    program does not make an endpoint look like TGI.
    """
    counts: dict[str, int] = {}
    for name in names:
        rule = RULES_BY_SOURCE.get(family_key(name))
        if rule is not None:
            counts[rule.kind] = counts.get(rule.kind, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], ENGINE_KINDS.index(k)))


@dataclass(slots=True)
class MappedScrape:
    """One scrape in our vocabulary. `points`: gauges and counters; `histograms` by target."""

    points: dict[tuple[str, Labels], float] = field(default_factory=dict)
    histograms: dict[tuple[str, Labels], HistogramSnapshot] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)
    families_seen: int = 0
    families_mapped: int = 0


def out_labels(kind: str, upstream: str, labels: Mapping[str, str]) -> Labels:
    keep = LABELS.get(kind, {})
    out = {"engine": kind, "upstream": upstream}
    model = labels.get("model_name")
    if model:
        out["model"] = model
    for src, dst in keep.items():
        value = labels.get(src)
        if value:
            out[dst] = value
    return tuple(sorted(out.items()))


def choose_rules(keys: Iterable[str]) -> dict[str, Rule]:
    """{family key: rule} for the families to use: per (kind, target) the lowest-rank alias."""
    best: dict[tuple[str, str], Rule] = {}
    for key in keys:
        rule = RULES_BY_SOURCE.get(key)
        if rule is None:
            continue
        slot = (rule.kind, rule.target)
        current = best.get(slot)
        if current is None or rule.rank < current.rank:
            best[slot] = rule
    return {rule.source: rule for rule in best.values()}


def map_families(families: Iterable[FamilyLike], *, upstream: str) -> MappedScrape:
    """Apply RULES to parsed exposition families (see the module docstring)."""
    by_key: dict[str, list[FamilyLike]] = {}
    seen = 0
    for fam in families:
        seen += 1
        by_key.setdefault(family_key(fam.name), []).append(fam)
    chosen = choose_rules(by_key)
    out = MappedScrape(families_seen=seen, families_mapped=len(chosen))
    out.kinds = detect_engines(chosen)
    for key, rule in chosen.items():
        for fam in by_key[key]:
            if rule.shape in ("gauge", "counter"):
                _map_scalar(rule, fam, upstream, out.points)
            else:
                _map_histogram(rule, fam, upstream, out)
    return out


def _map_scalar(
    rule: Rule, fam: FamilyLike, upstream: str, points: dict[tuple[str, Labels], float]
) -> None:
    base = fam.name
    names = (base, base + "_total") if rule.shape == "counter" else (base,)
    for s in fam.samples:
        if s.name not in names:
            continue  # _created and friends
        value = float(s.value) * rule.scale
        if value != value:  # NaN (llama.cpp before its first generation): no reading
            continue
        k = (rule.target, out_labels(rule.kind, upstream, s.labels))
        if k in points:
            old = points[k]
            points[k] = max(old, value) if rule.agg == "max" else old + value
        else:
            points[k] = value


def _map_histogram(rule: Rule, fam: FamilyLike, upstream: str, out: MappedScrape) -> None:
    base = fam.name
    acc: dict[
        Labels, tuple[dict[float, float], list[float]]
    ] = {}  # labels → (buckets, [sum, count])
    for s in fam.samples:
        name = s.name
        if name == base + "_bucket":
            src = {k: v for k, v in s.labels.items() if k != "le"}
            try:
                bound = float(s.labels.get("le", "nan"))
            except ValueError:
                continue
            buckets, _ = acc.setdefault(out_labels(rule.kind, upstream, src), ({}, [0.0, 0.0]))
            buckets[bound] = buckets.get(bound, 0.0) + float(s.value)
        elif name in (base + "_sum", base + "_count"):
            _, sc = acc.setdefault(out_labels(rule.kind, upstream, s.labels), ({}, [0.0, 0.0]))
            sc[0 if name.endswith("_sum") else 1] += float(s.value)
    for labels, (buckets, (sum_, count)) in acc.items():
        if rule.shape == "histogram_sum":
            k = (rule.target, labels)
            out.points[k] = out.points.get(k, 0.0) + sum_ * rule.scale
        elif buckets:
            hk = (rule.target, labels)
            snap = HistogramSnapshot.from_buckets(buckets.items(), sum_ * rule.scale, count)
            if rule.scale != 1.0:
                snap = HistogramSnapshot(
                    tuple(b * rule.scale for b in snap.bounds),
                    snap.cumulative,
                    snap.sum,
                    snap.count,
                )
            out.histograms[hk] = snap


# -- prefilter -------------------------------------------------------------------------------
# prometheus_client's text parser costs ~15 µs per line, and a vLLM /metrics is ~800 lines of
# which ~150 are ours. `prefilter_exposition` keeps the lines of families that have a rule (and
# their HELP/TYPE) for the real parser, and only sanity-checks the others (a metric name, then
# a number), so garbage anywhere in the text is still reported as malformed.
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SAMPLE_SUFFIXES: Final = ("_bucket", "_count", "_sum", "_total")


class MalformedExposition(ValueError):
    """A line that is not Prometheus text; the message names the line."""


def _base_names(name: str) -> Iterator[str]:
    yield name
    for suffix in _SAMPLE_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            yield base
            yield family_key(base)


def wanted_family(name: str) -> bool:
    """True when `name` (a family or sample name) belongs to a family that has a rule."""
    return any(family_key(n) in RULES_BY_SOURCE for n in _base_names(name))


def prefilter_exposition(text: str) -> str:
    """The lines of `text` that belong to mapped families; raises MalformedExposition."""
    keep: list[str] = []
    cache: dict[str, bool] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line.isspace():
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                ok = cache.get(name)
                if ok is None:
                    ok = cache[name] = wanted_family(name)
                if ok:
                    keep.append(line)
            continue
        m = _NAME.match(line)
        if m is None:
            raise MalformedExposition(f"line {lineno}: no metric name in {line[:80]!r}")
        name = m.group()
        ok = cache.get(name)
        if ok is None:
            ok = cache[name] = wanted_family(name)
        if ok:
            keep.append(line)
            continue
        rest = line[m.end() :]
        if rest[:1] == "{":
            close = rest.rfind("}")
            if close < 0:
                raise MalformedExposition(f"line {lineno}: unclosed labels in {line[:80]!r}")
            rest = rest[close + 1 :]
        value = rest.split(None, 1)
        try:
            float(value[0])
        except (IndexError, ValueError):
            raise MalformedExposition(f"line {lineno}: no number in {line[:80]!r}") from None
    keep.append("")
    return "\n".join(keep)
