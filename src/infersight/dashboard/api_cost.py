"""The Cost page's data: spend rate, cost per 1M tokens, idle spend, month projection and
budget per upstream (the cost daemon's series), and the advisor's advice with its evidence."""

from __future__ import annotations

from typing import Final

from infersight.advisor import advice_report
from infersight.dashboard.endpoints import Call, Context, Endpoint
from infersight.dashboard.panels import LineSpec, PanelBuilder
from infersight.dashboard.params import STEP_PARAM, TIME_PARAMS, Param, time_window
from infersight.dashboard.providers import Json
from infersight.status_view import RECENT_S
from infersight.store.base import Store

COST_SERIES: Final = (
    "cost_usd_per_hour",
    "cost_usd_per_1m_output_tokens",
    "cost_idle_usd_per_hour",
    "cost_spent_today_usd",
    "cost_spent_month_usd",
    "cost_projected_month_usd",
    "cost_budget_remaining_usd",
)
NO_PRICING: Final = (
    "no pricing configured: set upstreams[].pricing.instance_type (and instances), or "
    "usd_per_1m_input_tokens / usd_per_1m_output_tokens for a hosted API"
)
NO_COST_YET: Final = "no cost samples in this time range: the service writes them every 15 s"


def latest_by_upstream(store: Store, name: str, now: float) -> dict[str, float]:
    """The newest value of `name` per upstream label over the last RECENT_S."""
    found = store.series(name, now - RECENT_S, now + 1.0, step_s=1.0)
    out: dict[str, float] = {}
    for s in found:
        upstream = dict(s.labels).get("upstream")
        if upstream is not None and s.points:
            out[upstream] = s.points[-1][1]
    return out


def cost_table(ctx: Context, now: float) -> list[Json]:
    """One row per priced upstream: the newest cost numbers and its configured price."""
    latest = {name: latest_by_upstream(ctx.store, name, now) for name in COST_SERIES}
    rows: list[Json] = []
    for u in ctx.settings.upstreams:
        p = u.pricing
        seen = any(u.name in values for values in latest.values())
        if p is None and not seen:
            continue
        row: Json = {"upstream": u.name}
        for name in COST_SERIES:
            row[name.removeprefix("cost_")] = latest[name].get(u.name)
        row["pricing"] = None if p is None else p.model_dump()
        row["monthly_budget_usd"] = None if p is None else p.monthly_budget_usd
        rows.append(row)
    return rows


def cost(ctx: Context, call: Call) -> Json:
    window = time_window(call.values, call.now)
    priced = any(u.pricing is not None for u in ctx.settings.upstreams)
    hint = NO_COST_YET if priced else NO_PRICING
    b = PanelBuilder(ctx.store, window)
    up = ("upstream",)
    panels = [
        b.panel(
            "usd_per_hour",
            "Spend rate",
            "usd_per_hour",
            [LineSpec("cost_usd_per_hour")],
            by=up,
            hint=hint,
        ),
        b.panel(
            "usd_per_1m_output_tokens",
            "Cost per 1M output tokens",
            "usd",
            [LineSpec("cost_usd_per_1m_output_tokens")],
            by=up,
            hint=hint if not priced else "no tokens served in this time range",
        ),
        b.panel(
            "idle_usd_per_hour",
            "Idle spend (GPUs under the idle threshold)",
            "usd_per_hour",
            [LineSpec("cost_idle_usd_per_hour")],
            by=up,
            hint=hint if not priced else "no GPU samples: idle spend needs GPU utilisation",
        ),
        b.panel(
            "month",
            "This month: spent and projected",
            "usd",
            [
                LineSpec("cost_spent_month_usd", suffix="spent", agg="max"),
                LineSpec("cost_projected_month_usd", suffix="projected"),
            ],
            by=up,
            hint=hint,
        ),
        b.panel(
            "budget_remaining",
            "Budget remaining this month",
            "usd",
            [LineSpec("cost_budget_remaining_usd", agg="min")],
            by=up,
            hint=hint if not priced else "no monthly_budget_usd set for any upstream",
        ),
    ]
    return {
        **window.to_json(),
        "configured": priced,
        "hint": None if priced else NO_PRICING,
        "upstreams": cost_table(ctx, call.now),
        "panels": [p.to_json() for p in panels],
    }


def advice(ctx: Context, call: Call) -> Json:
    report = advice_report(ctx.store, ctx.settings, now=call.now, days=call.values["days"])
    return report.to_json()


ENDPOINTS: Final = (
    Endpoint(
        "/cost",
        "pages",
        "Everything the Cost page draws",
        cost,
        params=(*TIME_PARAMS, STEP_PARAM),
        description="Spend rate, cost per 1M output tokens, idle spend, month spend and "
        "projection, budget remaining (series cost_*), and the newest numbers per upstream.",
    ),
    Endpoint(
        "/advice",
        "pages",
        "Right-sizing, scaling and saturation advice with its evidence",
        advice,
        params=(
            Param("days", "number", "Window in days.", default=7.0, minimum=0.01, maximum=400),
        ),
        description="advisor.advice_report(...).to_json(): each piece of advice names the "
        "series, window and value it stands on.",
    ),
)
