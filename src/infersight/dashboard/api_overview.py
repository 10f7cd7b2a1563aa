"""The Overview page in one call: green / amber / red tiles, four trend charts, collectors.

Tile states: ``ok`` (green), ``warn`` (amber), ``bad`` (red), ``info`` (a number with nothing
to judge it against) and ``none`` (nothing measured: ``detail`` says why and what to do).
Judgements are made here, never in the browser:

* error rate: amber from `ERROR_RATIO_WARN`, red from `ERROR_RATIO_BAD`;
* TTFT p95: against the TTFT SLO's threshold when one exists (amber within 80 % of it, red
  over it), else ``info``;
* SLO: red when an error budget is spent, amber under `BUDGET_WARN` left;
* budget: red when the month's budget is spent, amber when the projection exceeds it or less
  than `BUDGET_WARN` is left;
* collectors: red when one is down, amber when one has gone quiet (stale).
"""

from __future__ import annotations

from typing import Any, Final

from infersight.dashboard.api_cost import cost_table
from infersight.dashboard.api_serving import no_traffic_hint, traffic_panels
from infersight.dashboard.endpoints import Call, Context, Endpoint
from infersight.dashboard.panels import LineSpec, PanelBuilder
from infersight.dashboard.params import STEP_PARAM, TIME_PARAMS, time_window
from infersight.dashboard.providers import Json
from infersight.status_view import StatusSnapshot, gather_status

ERROR_RATIO_WARN: Final = 0.01
ERROR_RATIO_BAD: Final = 0.05
BUDGET_WARN: Final = 0.25
TARGET_WARN: Final = 0.8


def tile(
    key: str, title: str, value: float | None, unit: str, state: str, detail: str = ""
) -> Json:
    return {
        "key": key,
        "title": title,
        "value": value,
        "unit": unit,
        "state": state,
        "detail": detail,
    }


def ttft_target_s(slos: list[Json]) -> float | None:
    """The threshold of the first latency SLO on TTFT (the alerting engine's slos())."""
    for s in slos:
        value = s.get("target_value")
        if s.get("field") == "ttft_s" and isinstance(value, int | float):
            return float(value)
    return None


def _serving_tiles(snap: StatusSnapshot, slos: list[Json]) -> list[Json]:
    rows = snap.serving
    if not rows:
        hint = "no requests in the last 5 min"
        return [
            tile("request_rate", "Requests/s", None, "per_s", "none", hint),
            tile("error_rate", "Error rate", None, "ratio", "none", hint),
            tile("ttft_p95", "TTFT p95", None, "seconds", "none", hint),
            tile("tokens_per_s", "Output tokens/s", None, "tokens_per_s", "none", hint),
        ]
    rate = sum(r.requests_per_s for r in rows)
    errs = sum((r.error_ratio or 0.0) * r.requests_per_s for r in rows)
    ratio = errs / rate if rate > 0 else 0.0
    ttfts = [r.ttft_p95_s for r in rows if r.ttft_p95_s is not None]
    ttft = max(ttfts) if ttfts else None
    tokens = [r.output_tokens_per_s for r in rows if r.output_tokens_per_s is not None]
    basis = "newest minute" if rows[0].basis == "rollup" else "last 5 min of records"
    err_state = "bad" if ratio >= ERROR_RATIO_BAD else "warn" if ratio >= ERROR_RATIO_WARN else "ok"
    target = ttft_target_s(slos)
    if ttft is None:
        ttft_state, ttft_detail = "none", "no request with a first token"
    elif target is not None:
        ttft_state = "bad" if ttft > target else "warn" if ttft > TARGET_WARN * target else "ok"
        ttft_detail = f"target {target:g} s (SLO)"
    else:
        ttft_state, ttft_detail = "info", "no TTFT target: set a TTFT SLO to judge it"
    return [
        tile("request_rate", "Requests/s", rate, "per_s", "ok" if rate > 0 else "info", basis),
        tile(
            "error_rate",
            "Error rate",
            ratio,
            "ratio",
            err_state,
            f"amber from {ERROR_RATIO_WARN:.0%}, red from {ERROR_RATIO_BAD:.0%}",
        ),
        tile("ttft_p95", "TTFT p95", ttft, "seconds", ttft_state, ttft_detail),
        tile(
            "tokens_per_s",
            "Output tokens/s",
            sum(tokens) if tokens else None,
            "tokens_per_s",
            "info",
            basis,
        ),
    ]


def _slo_tile(ctx: Context, slos: list[Json]) -> Json:
    if not slos:
        return tile(
            "slo",
            "SLO attainment",
            None,
            "ratio",
            "none",
            "no SLOs configured" if ctx.alerts is not None else "no alerting configured",
        )
    measured = [s for s in slos if isinstance(s.get("budget_remaining"), int | float)]
    if not measured:
        return tile(
            "slo", "SLO attainment", None, "ratio", "none", f"{len(slos)} SLO(s), not evaluated yet"
        )
    worst = min(measured, key=lambda s: float(s["budget_remaining"]))
    left = float(worst["budget_remaining"])
    state = "bad" if left <= 0 else "warn" if left < BUDGET_WARN else "ok"
    attainment = worst.get("attainment")
    return tile(
        "slo",
        "SLO attainment",
        float(attainment) if isinstance(attainment, int | float) else None,
        "ratio",
        state,
        f"{worst.get('name')}: {left:.0%} of the error budget left",
    )


def _gpu_tile(snap: StatusSnapshot) -> Json:
    utils = [g.utilization_ratio for g in snap.gpus if g.utilization_ratio is not None]
    if not utils:
        return tile("gpu", "GPU utilisation", None, "ratio", "none", snap.hints.get("gpus", ""))
    return tile(
        "gpu",
        "GPU utilisation",
        sum(utils) / len(utils),
        "ratio",
        "info",
        f"mean over {len(utils)} GPU(s)",
    )


def _quality_tile(ctx: Context, now: float) -> Json:
    """The newest sweeps' accuracy (the lowest over datasets); amber when a sweep regressed
    significantly against the one before it, else neutral (info): a sweep has no pass level
    to judge a score against, so even 0 % is not shown green."""
    latest = ctx.quality.latest_scores(now) if ctx.quality is not None else []
    if not latest:
        return tile("quality", "Quality (accuracy)", None, "ratio", "none", "no sweeps yet")
    regressed = sorted(
        {f"{s.get('dataset')}/{s.get('scorer')}" for s in latest if s.get("regressed")}
    )
    accuracy = [s for s in latest if s.get("scorer") == "accuracy"]
    shown = [s for s in accuracy or latest if isinstance(s.get("value"), int | float)]
    if not shown:
        return tile("quality", "Quality (accuracy)", None, "ratio", "none", "no scores yet")
    worst = min(shown, key=lambda s: float(s["value"]))
    if regressed:
        detail = "regressed: " + ", ".join(regressed)
    else:
        detail = f"{worst.get('dataset')}, {len({s.get('dataset') for s in latest})} dataset(s)"
    return tile(
        "quality",
        f"Quality ({worst.get('scorer')})",
        float(worst["value"]),
        "ratio",
        "warn" if regressed else "info",
        detail,
    )


def _cost_tiles(ctx: Context, now: float) -> list[Json]:
    rows = cost_table(ctx, now)

    def total(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return sum(values) if values else None

    if not rows:
        detail = "no pricing configured: set upstreams[].pricing"
        return [
            tile("cost_per_hour", "Cost per hour", None, "usd_per_hour", "none", detail),
            tile("cost_today", "Spent today", None, "usd", "none", detail),
            tile("budget", "Budget left (month)", None, "usd", "none", detail),
        ]
    per_hour, today = total("usd_per_hour"), total("spent_today_usd")
    budget_tile = _budget_tile(rows, total("budget_remaining_usd"), total("monthly_budget_usd"))
    idle = total("idle_usd_per_hour")
    return [
        tile(
            "cost_per_hour",
            "Cost per hour",
            per_hour,
            "usd_per_hour",
            "info" if per_hour is not None else "none",
            "" if idle is None else f"idle ${idle:,.2f}/h",
        ),
        tile("cost_today", "Spent today", today, "usd", "info" if today is not None else "none"),
        budget_tile,
    ]


def _budget_state(row: Json) -> tuple[int, str, str]:
    """(rank, state, detail) of one upstream's month: rank orders states, worst highest."""
    budget, remaining = row["monthly_budget_usd"], row["budget_remaining_usd"]
    projected = row.get("projected_month_usd")
    left = remaining / budget
    over = projected is not None and projected > budget
    state = "bad" if left <= 0 else "warn" if left < BUDGET_WARN or over else "ok"
    detail = f"{row['upstream']}: {left:.0%} of ${budget:,.0f} left" + (
        f", projected ${projected:,.0f}" if projected is not None else ""
    )
    return ("ok", "warn", "bad").index(state), state, detail


def _budget_tile(rows: list[Json], remaining: float | None, budget: float | None) -> Json:
    """The total left; judged by the upstream closest to (or over) its own budget."""
    judged = [
        _budget_state(r)
        for r in rows
        if r.get("monthly_budget_usd") and r.get("budget_remaining_usd") is not None
    ]
    if not judged:
        why = (
            "no cost samples yet" if budget else "no monthly_budget_usd set in upstreams[].pricing"
        )
        return tile("budget", "Budget left (month)", remaining, "usd", "none", why)
    _, state, detail = max(judged)
    return tile("budget", "Budget left (month)", remaining, "usd", state, detail)


def _alerts_tile(ctx: Context, now: float) -> tuple[Json, list[Json]]:
    if ctx.alerts is None:
        return tile("alerts", "Active alerts", None, "count", "none", "no alerting configured"), []
    active = ctx.alerts.active(now)
    firing = [a for a in active if str(a.get("state", "")).upper() in ("ALARM", "FIRING")]
    critical = [a for a in firing if a.get("severity") == "critical"]
    state = "bad" if critical else "warn" if firing else "ok"
    detail = f"{len(critical)} critical" if critical else ("" if firing else "none firing")
    return tile("alerts", "Active alerts", float(len(firing)), "count", state, detail), active


def _collectors(ctx: Context, snap: StatusSnapshot) -> tuple[Json, list[Json]]:
    items: list[Json] = []
    live = list(ctx.collectors()) if ctx.collectors is not None else []
    for s in live:
        items.append(
            {
                "collector": s.collector,
                "status": s.status,
                "detail": s.last_error or "; ".join(s.notes),
            }
        )
    if not live:  # another process collects into this store (or none does)
        for c in snap.collectors:
            status = "stale" if c.stale else "up" if c.up else "down"
            items.append({"collector": c.collector, "status": status, "detail": ""})
    if not items:
        return tile(
            "collectors",
            "Collectors",
            None,
            "count",
            "none",
            snap.hints.get("collectors", "no collectors run"),
        ), items
    down = [i for i in items if i["status"] == "down"]
    stale = [i for i in items if i["status"] == "stale"]
    up = [i for i in items if i["status"] == "up"]
    state = "bad" if down else "warn" if stale else "ok"
    detail = f"{len(up)} up" + (
        f", {len(down)} down: " + ", ".join(str(i["collector"]) for i in down) if down else ""
    )
    return tile("collectors", "Collectors up", float(len(up)), "count", state, detail), items


def overview(ctx: Context, call: Call) -> Json:
    window = time_window(call.values, call.now)
    snap = gather_status(ctx.store, ctx.settings, now=call.now)
    hint = no_traffic_hint(call.base_url)
    b = PanelBuilder(ctx.store, window)
    requests, output_tokens, errors = traffic_panels(b, hint=hint)
    ttft_p95 = b.panel(
        "ttft_p95",
        "TTFT p95",
        "seconds",
        [LineSpec("ttft_seconds", {"quantile": "0.95"}, combine="max", suffix="p95")],
        hint=hint,
    )
    panels = [requests, errors, ttft_p95, output_tokens]
    slos = ctx.alerts.slos(call.now) if ctx.alerts is not None else []
    alerts_tile, active = _alerts_tile(ctx, call.now)
    collectors_tile, collectors = _collectors(ctx, snap)
    tiles = [
        _slo_tile(ctx, slos),
        *_serving_tiles(snap, slos),
        _gpu_tile(snap),
        _quality_tile(ctx, call.now),
        *_cost_tiles(ctx, call.now),
        alerts_tile,
        collectors_tile,
    ]
    has_data = bool(
        snap.serving
        or any(p.has_data for p in panels)
        or ctx.store.list_records(0.0, call.now + 1.0, limit=1)
    )
    return {
        **window.to_json(),
        "has_data": has_data,
        "empty": None if has_data else _empty(call.base_url),
        "tiles": tiles,
        "panels": [p.to_json() for p in panels],
        "alerts": active,
        "collectors": collectors,
    }


def _empty(base_url: str) -> Json:
    body = '{"model": "MODEL", "messages": [{"role": "user", "content": "hello"}]}'
    return {
        "title": "No data yet",
        "text": "The gateway has not recorded any request. Point an OpenAI-compatible client at "
        "it, or send one request by hand; charts fill in within a minute.",
        "commands": [
            f"export OPENAI_BASE_URL={base_url}/v1",
            f"curl {base_url}/v1/chat/completions -H 'content-type: application/json' -d '{body}'",
        ],
    }


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint(
        "/overview",
        "pages",
        "Everything the Overview page needs in one call",
        overview,
        params=(*TIME_PARAMS, STEP_PARAM),
        description="Tiles (state ok/warn/bad/info/none with a detail line), four trend charts, "
        "active alerts and collectors; has_data=false with instructions on an empty store.",
    ),
)

__all__: Final[Any] = ["ENDPOINTS", "overview"]
