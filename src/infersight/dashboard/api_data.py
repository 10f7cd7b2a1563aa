"""Data endpoints: metric series, request records (list, detail, errors by class), the status
snapshot and the collectors."""

from __future__ import annotations

import difflib
from dataclasses import asdict
from typing import Any, Final

from infersight.core.records import RequestRecord
from infersight.core.series import AGGREGATIONS, bucket_start
from infersight.dashboard.endpoints import Call, Context, Endpoint
from infersight.dashboard.panels import COMBINE, Line, Panel, combine_groups
from infersight.dashboard.params import (
    STEP_PARAM,
    TIME_PARAMS,
    ApiError,
    Param,
    bad,
    time_window,
)
from infersight.dashboard.providers import Json, collector_state_json
from infersight.dashboard.request_query import (
    ERRORS_MAX_SCAN_ROWS,
    PAGE_PARAMS,
    REQUEST_FILTER_PARAMS,
    RequestFilter,
    record_json,
)
from infersight.status_view import gather_status

SOURCE_FILTERS: Final = (
    Param("model", "string", "Only this model."),
    Param("upstream", "string", "Only this upstream."),
    Param("source", "string", "Only this traffic source (user, demo, sweep, loadtest)."),
)


def _by(values: dict[str, Any]) -> list[str]:
    raw = values.get("by")
    return [k.strip() for k in raw.split(",") if k.strip()] if raw else []


def series(ctx: Context, call: Call) -> Json:
    v = call.values
    name: str = v["name"]
    window = time_window(v, call.now)
    known = ctx.store.metric_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ApiError(
            400,
            f"unknown metric {name!r}{hint} (GET /api/v1/metrics lists every stored name)",
            param="name",
        )
    labels = dict(v["label"])
    found = ctx.store.series(
        name,
        window.start,
        window.end,
        step_s=window.step_s,
        agg=v["agg"],
        labels=labels or None,
    )
    by, combine = _by(v), v["combine"]
    out: list[Json]
    if by or combine:
        groups = combine_groups(found, by, combine or "sum")
        out = [
            {"labels": dict(g), "points": [[t, x] for t, x in sorted(points.items())]}
            for g, points in sorted(groups.items())
        ]
    else:
        out = [{"labels": dict(s.labels), "points": [list(p) for p in s.points]} for s in found]
    return {
        "name": name,
        "agg": v["agg"],
        "labels": labels,
        "by": by,
        "combine": combine,
        **window.to_json(),
        "series": out,
    }


def metrics(ctx: Context, call: Call) -> Json:
    return {"names": ctx.store.metric_names()}


def labels(ctx: Context, call: Call) -> Json:
    v = call.values
    window = time_window({**v, "step": None}, call.now, max_points=10**9)
    found = ctx.store.series(v["name"], window.start, window.end, step_s=window.range_s, agg="max")
    values = sorted({dict(s.labels).get(v["key"], "") for s in found} - {""})
    return {"name": v["name"], "key": v["key"], "values": values}


def requests_list(ctx: Context, call: Call) -> Json:
    v = call.values
    window = time_window({**v, "step": None}, call.now, max_points=10**9)
    f = RequestFilter.from_params(window.start, window.end, v)
    limit, offset = v["limit"], v["offset"]
    rows = ctx.requests.page(f, limit=limit + 1, offset=offset)
    has_more = len(rows) > limit
    return {
        "start": window.start,
        "end": window.end,
        "limit": limit,
        "offset": offset,
        "has_more": has_more,
        "next_offset": offset + limit if has_more else None,
        "items": [record_json(r) for r in rows[:limit]],
    }


def timing_view(r: RequestRecord) -> Json:
    """Start, first token and end on one axis (seconds after the start), with the phases."""
    phases: list[Json] = []
    # kind: how the bar draws a phase (wait, gen, fail, whole); first_token: the middle mark
    if r.ttft_s is not None:
        phases.append({"name": "to first token", "kind": "wait", "start_s": 0.0, "end_s": r.ttft_s})
        phases.append({"name": "generating", "kind": "gen", "start_s": r.ttft_s, "end_s": r.e2e_s})
        first_token = f"first token +{r.ttft_s * 1000:.0f} ms"
    elif r.error_class:
        phases.append({"name": "failed", "kind": "fail", "start_s": 0.0, "end_s": r.e2e_s})
        first_token = "no token"
    elif not r.stream:
        # a non-streamed answer arrives whole: there is no first token to time, and no stall
        phases.append({"name": "answered whole", "kind": "whole", "start_s": 0.0, "end_s": r.e2e_s})
        first_token = "not streamed: no token timing"
    else:
        phases.append(
            {"name": "waiting (no token)", "kind": "wait", "start_s": 0.0, "end_s": r.e2e_s}
        )
        first_token = "no token"
    return {
        "first_token": first_token,
        "start": r.started_at,
        "first_token_at": None if r.ttft_s is None else r.started_at + r.ttft_s,
        "end": r.started_at + r.e2e_s,
        "ttft_s": r.ttft_s,
        "e2e_s": r.e2e_s,
        "generation_s": None if r.ttft_s is None else r.e2e_s - r.ttft_s,
        "tpot_s": r.tpot_s,
        "itl_s": {
            "mean": r.itl_mean_s,
            "p50": r.itl_p50_s,
            "p90": r.itl_p90_s,
            "p99": r.itl_p99_s,
            "max": r.itl_max_s,
        },
        "phases": phases,
    }


def request_detail(ctx: Context, call: Call) -> Json:
    record_id = call.path["id"]
    r = ctx.store.get_record(record_id)
    if r is None:
        raise ApiError(404, f"no request {record_id!r} in the store (expired or never recorded)")
    captured = r.prompt_text is not None or r.response_text is not None
    return {
        "record": record_json(r, full=True),
        "timing": timing_view(r),
        "text": {
            "captured": captured,
            "prompt": r.prompt_text,
            "response": r.response_text,
            "hint": None
            if captured
            else "prompt and response are not stored: set gateway.capture_text: true to keep them",
        },
    }


def errors(ctx: Context, call: Call) -> Json:
    v = call.values
    window = time_window(v, call.now)
    equals = {k: v[k] for k in ("model", "upstream", "source") if v.get(k)}
    covered, rows = ctx.requests.errors_by_class(window.start, window.end, window.step_s, equals)
    by_class: dict[str, dict[float, float]] = {}
    totals: dict[str, int] = {}
    for bucket, cls, n in rows:
        by_class.setdefault(cls, {})[bucket] = n / window.step_s
        totals[cls] = totals.get(cls, 0) + n
    # every bucket of the covered range, so a quiet bucket reads 0 rather than a gap
    grid = bucket_grid(covered, window.end, window.step_s)
    t = grid if by_class else []
    lines = [
        Line(cls, [pts.get(b, 0.0) for b in grid], {"error_class": cls})
        for cls, pts in sorted(by_class.items())
    ]
    note = None
    if covered > window.start:
        note = (
            f"by class over the newest {ERRORS_MAX_SCAN_ROWS:,} requests only (from "
            f"{covered:.0f}); the error ratio chart covers the whole range"
        )
    panel = Panel(
        "errors_by_class",
        "Errors by class",
        "per_s",
        t,
        lines,
        "no failed requests in this time range",
        "failed requests per second by error class (request records, by start time)",
        x_range=(window.start, window.end),
    )
    return {
        **window.to_json(),
        "covered_start": covered,
        "note": note,
        "totals": totals,
        "panel": panel.to_json(),
    }


def bucket_grid(start: float, end: float, step_s: float) -> list[float]:
    first = bucket_start(start, step_s)
    return [
        first + i * step_s
        for i in range(int((end - first) // step_s) + 1)
        if first + i * step_s < end
    ]


def status(ctx: Context, call: Call) -> Json:
    return asdict(gather_status(ctx.store, ctx.settings, now=call.now))


def collectors(ctx: Context, call: Call) -> Json:
    snap = gather_status(ctx.store, ctx.settings, now=call.now)
    live = [collector_state_json(s) for s in ctx.collectors()] if ctx.collectors else []
    return {
        "live": live,
        "stored": [asdict(c) for c in snap.collectors],
        "hint": snap.hints.get("collectors"),
        "in_process": ctx.collectors is not None,
    }


ENDPOINTS: Final = (
    Endpoint(
        "/series",
        "data",
        "One metric series from the store",
        series,
        params=(
            Param(
                "name", "string", "Metric name, e.g. ttft_seconds (see /metrics).", required=True
            ),
            *TIME_PARAMS,
            STEP_PARAM,
            Param("agg", "string", "Aggregation per bucket.", default="avg", choices=AGGREGATIONS),
            Param(
                "label",
                "label",
                "KEY=VALUE: keep label sets whose KEY equals VALUE; repeat for several.",
                repeat=True,
            ),
            Param("by", "string", "Comma-separated label keys: combine label sets per group."),
            Param(
                "combine",
                "string",
                "How label sets in a group are combined per bucket (default sum when by is given).",
                choices=tuple(COMBINE),
            ),
        ),
        description="Wraps Store.series: buckets aligned to multiples of step; the store reads "
        "raw samples, 1-minute or 1-hour rollups by step and range.",
    ),
    Endpoint("/metrics", "data", "Every stored metric name", metrics),
    Endpoint(
        "/labels",
        "data",
        "Values of one label of a metric over a range",
        labels,
        params=(
            Param("name", "string", "Metric name.", required=True),
            Param("key", "string", "Label key, e.g. model.", required=True),
            *TIME_PARAMS,
        ),
    ),
    Endpoint(
        "/requests",
        "requests",
        "Request records, newest first, filtered and paged",
        requests_list,
        params=(*TIME_PARAMS, *REQUEST_FILTER_PARAMS, *PAGE_PARAMS),
        description="Prompt/response text is left out of the list; see /requests/{id}.",
    ),
    Endpoint(
        "/requests/{id}",
        "requests",
        "One request record with its timing view and captured text",
        request_detail,
        path_params=(Param("id", "string", "Request id."),),
    ),
    Endpoint(
        "/errors",
        "serving",
        "Failed requests per second by error class",
        errors,
        params=(*TIME_PARAMS, STEP_PARAM, *SOURCE_FILTERS),
    ),
    Endpoint("/status", "status", "The newest value of every status number", status),
    Endpoint(
        "/collectors", "status", "Collector states: live (this process) and stored", collectors
    ),
)

__all__ = ["ENDPOINTS", "bad", "timing_view"]
