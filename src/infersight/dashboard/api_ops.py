"""Alerts, SLOs and quality: read through the providers the service hands in; without one, a
"not configured" body that says what is missing (the pages show it instead of an error)."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from infersight.dashboard.endpoints import Call, Context, Endpoint
from infersight.dashboard.panels import LineSpec, PanelBuilder
from infersight.dashboard.params import STEP_PARAM, TIME_PARAMS, ApiError, Param, time_window
from infersight.dashboard.providers import (
    NO_ALERTING,
    NO_SLOS,
    NO_SWEEPS,
    Json,
    alerts_not_configured,
)
from infersight.dashboard.quality_view import is_score_series

LIVE_PREFIX: Final = "quality_live_"
DRIFT_PREFIX: Final = "drift_"
HISTORY_PARAMS: Final = (
    *TIME_PARAMS,
    Param("limit", "integer", "Events at most.", default=200, minimum=1, maximum=5000),
)


def alerts(ctx: Context, call: Call) -> Json:
    a = ctx.alerts
    if a is None:
        return alerts_not_configured()
    window = time_window({**call.values, "step": None}, call.now, max_points=10**9)
    return {
        "configured": True,
        "message": None,
        "active": a.active(call.now),
        "history": a.history(window.start, window.end, call.values["limit"]),
        "rules": a.rules(call.now),
        "silences": a.silences(call.now),
    }


def _part(name: str) -> Endpoint:
    def handler(ctx: Context, call: Call) -> Json:
        a = ctx.alerts
        if a is None:
            return {"configured": False, "message": NO_ALERTING, name: []}
        if name == "history":
            window = time_window({**call.values, "step": None}, call.now, max_points=10**9)
            items = a.history(window.start, window.end, call.values["limit"])
        else:
            items = getattr(a, name)(call.now)
        return {"configured": True, "message": None, name: items}

    return Endpoint(
        f"/alerts/{name}",
        "alerts",
        f"Alerting: {name}",
        handler,
        params=HISTORY_PARAMS if name == "history" else (),
    )


def slo(ctx: Context, call: Call) -> Json:
    if ctx.alerts is None:
        return {"configured": False, "message": NO_SLOS, "slos": []}
    slos = ctx.alerts.slos(call.now)
    return {"configured": bool(slos), "message": None if slos else NO_SLOS, "slos": slos}


def quality(ctx: Context, call: Call) -> Json:
    """Score, live-sample and drift series from the metric store (whatever wrote them), sweeps
    and latest scores from the quality provider (the store's sweep tables)."""
    window = time_window(call.values, call.now)
    q = ctx.quality
    names = ctx.store.metric_names()
    b = PanelBuilder(ctx.store, window)

    def panels(selected: list[str], by: tuple[str, ...], hint: str, unit: str) -> list[Json]:
        out = []
        for name in selected:
            p = b.panel(name, name, unit, [LineSpec(name, combine="avg")], by=by, hint=hint)
            out.append(replace(p, sparse=True).to_json())
        return out

    scores = sorted({*(q.score_series() if q is not None else ()), *filter(is_score_series, names)})
    live = [n for n in names if n.startswith(LIVE_PREFIX)]
    drift = [n for n in names if n.startswith(DRIFT_PREFIX) or n.endswith("_load_correlation")]
    sweeps = q.sweeps(window.start, window.end, 50) if q is not None else []
    return {
        **window.to_json(),
        "configured": q is not None,
        "message": None if sweeps else NO_SWEEPS,
        "latest": q.latest_scores(call.now) if q is not None else [],
        "sweeps": sweeps,
        # sweep metrics are shares or mean scores in [0, 1]
        "score_panels": panels(scores, ("dataset", "tag"), NO_SWEEPS, "ratio"),
        "live_panels": panels(live, ("model",), "no live samples in this time range", "value"),
        "drift_panels": panels(drift, ("model",), "no drift samples in this time range", "value"),
    }


def quality_sweep(ctx: Context, call: Call) -> Json:
    if ctx.quality is None:
        raise ApiError(404, NO_SWEEPS)
    sweep = ctx.quality.sweep(call.path["id"])
    if sweep is None:
        raise ApiError(404, f"no sweep {call.path['id']!r}")
    return sweep


ENDPOINTS: Final = (
    Endpoint(
        "/alerts",
        "alerts",
        "Active alerts, history, rules (with state and runbook) and silences",
        alerts,
        params=HISTORY_PARAMS,
        description="history covers the time range; configured=false while no alert engine runs.",
    ),
    *(_part(name) for name in ("active", "history", "rules", "silences")),
    Endpoint("/slo", "alerts", "SLO attainment, error budget left and burn rates", slo),
    Endpoint(
        "/quality",
        "quality",
        "Quality scores over time, latest scores and sweeps",
        quality,
        params=(*TIME_PARAMS, STEP_PARAM),
        description='configured=false ("no sweeps yet") until quality sweeps run.',
    ),
    Endpoint(
        "/quality/sweeps/{id}",
        "quality",
        "One sweep with its items",
        quality_sweep,
        path_params=(Param("id", "string", "Sweep id."),),
    ),
)
