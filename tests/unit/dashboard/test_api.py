"""The dashboard's JSON API on a seeded store: every page endpoint, the series and request
queries, their validation (400 with the reason) and the empty-store answers."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from infersight.core.records import RequestRecord
from infersight.store.sqlite import SqliteStore

from .conftest import NOW, ClientFactory, Seeded

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ok(client: TestClient, path: str, **params: object) -> dict:  # type: ignore[type-arg]
    r = client.get("/api/v1" + path, params=params)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    return r.json()  # type: ignore[no-any-return]


def error(client: TestClient, path: str, code: int = 400, **params: object) -> str:
    r = client.get("/api/v1" + path, params=params)
    assert r.status_code == code, r.text[:300]
    return str(r.json()["error"]["message"])


def drawn(panel: dict) -> bool:  # type: ignore[type-arg]
    return bool(panel["t"]) and any(
        v is not None for line in panel["lines"] for v in line["values"]
    )


def records(seeded: Seeded, start: float, end: float) -> list[RequestRecord]:
    store = SqliteStore(seeded.db)
    try:
        return store.list_records(start, end, limit=1_000_000)
    finally:
        store.close()


# -- pages' endpoints ---------------------------------------------------------------------------


def test_overview_tiles_charts_and_collectors(client: TestClient) -> None:
    d = ok(client, "/overview", range="1h")
    assert d["has_data"] is True and d["empty"] is None
    assert (d["end"], d["end"] - d["start"], d["step_s"]) == (NOW, 3600.0, 30.0)
    tiles = {t["key"]: t for t in d["tiles"]}
    assert set(tiles) >= {
        "slo",
        "request_rate",
        "error_rate",
        "ttft_p95",
        "tokens_per_s",
        "gpu",
        "quality",
        "cost_per_hour",
        "cost_today",
        "budget",
        "alerts",
        "collectors",
    }
    assert tiles["request_rate"]["value"] > 0 and tiles["request_rate"]["state"] == "ok"
    assert 0 < tiles["error_rate"]["value"] < 0.2
    assert tiles["error_rate"]["state"] in ("ok", "warn", "bad")
    assert tiles["ttft_p95"]["state"] == "info"  # no SLO target to judge it against
    assert (
        tiles["gpu"]["value"] == pytest.approx(tiles["gpu"]["value"])
        and tiles["gpu"]["state"] == "info"
    )
    assert tiles["cost_per_hour"]["value"] == pytest.approx(14.18 + 4.0)
    assert tiles["budget"]["state"] in ("warn", "bad")  # vllm-b has 7 % of its budget left
    # a collector that is down is shown as such
    assert (
        tiles["collectors"]["state"] == "bad" and "engine:vllm-b" in tiles["collectors"]["detail"]
    )
    assert {c["collector"]: c["status"] for c in d["collectors"]}["engine:vllm-b"] == "down"
    assert tiles["slo"]["state"] == tiles["alerts"]["state"] == "none"
    assert tiles["quality"]["state"] == "warn"  # the newest sweep regressed
    assert tiles["quality"]["detail"] == "regressed: support-faq/accuracy"
    assert [p["key"] for p in d["panels"]] == [
        "requests_per_s",
        "error_ratio",
        "ttft_p95",
        "output_tokens_per_s",
    ]
    assert all(drawn(p) and p["hint"] is None for p in d["panels"])


def test_empty_store_says_no_data_and_how_to_send_traffic(make_client: ClientFactory) -> None:
    client = make_client()
    d = ok(client, "/overview")
    assert d["has_data"] is False
    assert "http://127.0.0.1:8400/v1" in " ".join(d["empty"]["commands"])
    assert all(t["state"] == "none" for t in d["tiles"] if t["key"] != "budget")
    assert all(not drawn(p) and "send traffic" in p["hint"] for p in d["panels"])
    for path in ("/serving", "/infrastructure", "/cost"):
        body = ok(client, path)
        assert body["panels"] and all(p["hint"] for p in body["panels"]), path
    assert ok(client, "/requests")["items"] == []
    assert ok(client, "/errors")["panel"]["hint"]
    assert ok(client, "/quality")["message"].startswith("no sweeps yet")


def test_serving_percentiles_split_and_filters(client: TestClient, seeded: Seeded) -> None:
    d = ok(client, "/serving", range="6h")
    panels = {p["key"]: p for p in d["panels"]}
    assert set(panels) == {
        "ttft",
        "itl",
        "tpot",
        "e2e",
        "requests_per_s",
        "output_tokens_per_s",
        "error_ratio",
        "in_flight",
        "queue",
    }
    assert [line["label"] for line in panels["ttft"]["lines"]] == ["p50", "p95", "p99"]
    assert all(drawn(p) for p in panels.values())
    ttft = panels["ttft"]["lines"]
    for p50, p99 in zip(ttft[0]["values"], ttft[2]["values"], strict=True):
        assert p50 is None or p99 is None or p50 <= p99
    (summary,) = d["summary"]
    # every derived minute counts each finished request once
    finished = [
        r for r in records(seeded, NOW - 6 * 3600, NOW) if r.started_at + r.e2e_s < NOW - 60
    ]
    assert len(finished) - 60 <= summary["requests"] <= len(finished) + 60
    assert summary["request_errors"] <= summary["requests"]

    split = ok(client, "/serving", range="6h", by="model")
    labels = [line["label"] for line in {p["key"]: p for p in split["panels"]}["ttft"]["lines"]]
    assert labels == [
        f"{m} {q}" for m in ("llama-3.1-8b", "qwen2.5-7b") for q in ("p50", "p95", "p99")
    ]
    assert [r["label"] for r in split["summary"]] == ["llama-3.1-8b", "qwen2.5-7b"]

    only = ok(client, "/serving", range="6h", model="qwen2.5-7b", by="upstream")
    assert [r["label"] for r in only["summary"]] == ["vllm-b"]
    assert error(client, "/serving", by="gpu").startswith("query parameter 'by'")


def test_errors_by_class_count_every_failed_request(client: TestClient, seeded: Seeded) -> None:
    d = ok(client, "/errors", range="2h", step="10m")
    failed = [r for r in records(seeded, NOW - 7200, NOW) if r.error_class]
    expected: dict[str, int] = {}
    for r in failed:
        expected[r.error_class] = expected.get(r.error_class, 0) + 1  # type: ignore[index]
    assert d["totals"] == expected and d["note"] is None
    panel = d["panel"]
    assert {line["label"] for line in panel["lines"]} == set(expected)
    assert all(v is not None for line in panel["lines"] for v in line["values"])  # zero-filled
    total = sum(v for line in panel["lines"] for v in line["values"]) * 600
    assert total == pytest.approx(len(failed))


def test_infrastructure_gpus_engines_host_collectors(client: TestClient) -> None:
    d = ok(client, "/infrastructure", range="1h")
    panels = {p["key"]: p for p in d["panels"]}
    assert [line["label"] for line in panels["gpu_utilization"]["lines"]] == [
        "(none) 0",
        "(none) 1",
    ]
    assert [line["label"] for line in panels["kv_cache"]["lines"]] == ["vllm-a", "vllm-b"]
    assert all(drawn(p) for p in panels.values())
    assert [g["gpu"] for g in d["gpus"]] == ["0", "1"]
    assert {e["upstream"] for e in d["engines"]} == {"vllm-a", "vllm-b"}
    assert d["host"]["memory_total_bytes"] == 32 * 1024**3
    stored = {c["collector"]: c["up"] for c in d["collectors"]["stored"]}
    assert stored == {"nvml": True, "host": True, "engine:vllm-a": True, "engine:vllm-b": False}


def test_cost_and_advice(client: TestClient) -> None:
    d = ok(client, "/cost", range="1h")
    assert d["configured"] is True
    rows = {r["upstream"]: r for r in d["upstreams"]}
    assert rows["vllm-a"]["usd_per_hour"] == pytest.approx(14.18)
    assert rows["vllm-b"]["monthly_budget_usd"] == 2500
    assert rows["vllm-b"]["budget_remaining_usd"] < 0.1 * 2500
    assert all(drawn(p) for p in d["panels"] if p["key"] != "idle_usd_per_hour")
    advice = ok(client, "/advice", days=1)
    assert advice["has_evidence"] is True
    assert {u["upstream"] for u in advice["upstreams"]} == {"vllm-a", "vllm-b"}
    assert error(client, "/advice", days=0).startswith("query parameter 'days'")


def test_alerts_slos_and_judged_tiles_from_the_alert_engine(
    make_client: ClientFactory, seeded: Seeded
) -> None:
    """The real engine's rule pack, evaluated over the sample data (conftest), read through
    alerting.status.AlertStatus as the service wires it."""
    from infersight.alerting.status import AlertStatus

    client = make_client(seeded.db, alerts=lambda s, store: AlertStatus(s.alerting, store))
    d = ok(client, "/alerts", range="1h")
    assert d["configured"] is True and d["message"] is None
    firing = {(a["rule"], a["instance"]) for a in d["active"]}
    assert ("collector_down", "collector=engine:vllm-b") in firing
    rules = {r["name"]: r for r in d["rules"]}
    assert rules["collector_down"]["state"] == "ALARM" and rules["collector_down"]["runbook"]
    assert rules["gpu_idle"]["state"] == "OK"
    assert d["history"] and all(NOW - 3600 <= e["ts"] <= NOW for e in d["history"])
    assert ok(client, "/alerts/active")["active"] == d["active"]
    (slo,) = ok(client, "/slo")["slos"]
    assert slo["name"] == "ttft_slo_burn" and slo["budget_remaining"] is not None
    tiles = {t["key"]: t for t in ok(client, "/overview")["tiles"]}
    assert tiles["alerts"]["value"] == len(d["active"])
    assert tiles["alerts"]["state"] == (
        "bad" if any(a["severity"] == "critical" for a in d["active"]) else "warn"
    )
    assert (
        tiles["slo"]["state"] in ("ok", "warn", "bad") and "ttft_slo_burn" in tiles["slo"]["detail"]
    )
    # TTFT p95 is judged against the SLO's 1 s threshold now
    assert tiles["ttft_p95"]["state"] == "ok" and "target 1 s" in tiles["ttft_p95"]["detail"]


def test_alerting_says_not_configured_without_an_engine(client: TestClient) -> None:
    alerts = ok(client, "/alerts")
    assert alerts["configured"] is False and alerts["message"].startswith("no alerting configured")
    assert alerts["active"] == alerts["rules"] == alerts["history"] == alerts["silences"] == []
    for part in ("active", "history", "rules", "silences"):
        assert ok(client, f"/alerts/{part}")["configured"] is False
    assert ok(client, "/slo")["message"].startswith("no SLOs configured")


def test_quality_sweeps_scores_and_items_from_the_store(client: TestClient) -> None:
    d = ok(client, "/quality", range="6h")
    assert d["configured"] is True and d["message"] is None
    assert [s["id"] for s in d["sweeps"]] == ["sweep-4", "sweep-3", "sweep-2", "sweep-1"]
    newest = d["sweeps"][0]
    assert newest["regressed"] is True and newest["regressions"] == ["accuracy"]
    assert newest["scores"]["accuracy"] == pytest.approx(0.4)
    latest = {(s["dataset"], s["scorer"]): s for s in d["latest"]}
    acc = latest[("support-faq", "accuracy")]
    assert acc["value"] == pytest.approx(0.4) and acc["regressed"] is True and acc["change"] < 0
    panels = {p["key"]: p for p in d["score_panels"]}
    assert set(panels) == {"quality_accuracy", "quality_toxicity_rate"}
    acc_panel = panels["quality_accuracy"]
    assert acc_panel["sparse"] is True and drawn(acc_panel)
    assert [line["label"] for line in acc_panel["lines"]] == [
        "support-faq all",
        "support-faq billing",
        "support-faq login",
    ]
    assert d["drift_panels"] == d["live_panels"] == []
    sweep = ok(client, "/quality/sweeps/sweep-4")
    assert sweep["comparisons"]["accuracy"]["regressed"] is True
    assert len(sweep["items"]) == 40
    item = sweep["items"][0]
    assert set(item) >= {"prompt", "expected", "response", "scores", "passed", "tags"}
    assert item["expected"] == "Use the reset link." and item["scores"]["accuracy"] in (0.0, 1.0)
    assert "no sweep 'nope'" in error(client, "/quality/sweeps/nope", 404)


# -- series ---------------------------------------------------------------------------------------


def test_series_wraps_the_store_with_validation(client: TestClient) -> None:
    d = ok(
        client,
        "/series",
        name="ttft_seconds",
        range="30m",
        step="5m",
        label=["quantile=0.95", "source=user"],
    )
    assert (d["step_s"], d["agg"], d["labels"]) == (
        300.0,
        "avg",
        {"quantile": "0.95", "source": "user"},
    )
    assert {s["labels"]["model"] for s in d["series"]} == {"llama-3.1-8b", "qwen2.5-7b"}
    assert all(p[0] % 300 == 0 for s in d["series"] for p in s["points"])
    grouped = ok(
        client,
        "/series",
        name="requests_per_s",
        range="30m",
        step="5m",
        by="upstream",
        combine="sum",
    )
    assert [s["labels"] for s in grouped["series"]] == [
        {"upstream": "vllm-a"},
        {"upstream": "vllm-b"},
    ]
    total = ok(
        client, "/series", name="requests_per_s", start=NOW - 1800, end=NOW, step=300, combine="sum"
    )
    (one,) = total["series"]
    assert one["labels"] == {}
    assert "did you mean ttft_seconds" in error(client, "/series", name="ttft")
    assert "'agg'" in error(client, "/series", name="ttft_seconds", agg="median")
    assert "at most 5000" in error(client, "/series", name="ttft_seconds", range="30d", step="1m")
    assert "not all three" in error(
        client, "/series", name="ttft_seconds", start=NOW - 60, end=NOW, range="1h"
    )
    assert "must be after start" in error(
        client, "/series", name="ttft_seconds", start=NOW, end=NOW - 60
    )
    assert "is not a time" in error(client, "/series", name="ttft_seconds", start="yesterday")
    assert "KEY=VALUE" in error(client, "/series", name="ttft_seconds", label="quantile")
    assert "is required" in error(client, "/series")
    assert "unknown query parameter 'nme'" in error(client, "/series", nme="ttft_seconds")
    assert "ttft_seconds" in ok(client, "/metrics")["names"]
    models = ok(client, "/labels", name="requests_per_s", key="model", range="2h")
    assert models["values"] == ["llama-3.1-8b", "qwen2.5-7b"]


# -- requests -------------------------------------------------------------------------------------


def test_request_list_filters_and_paging(client: TestClient, seeded: Seeded) -> None:
    window = records(seeded, NOW - 3600, NOW)
    first = ok(client, "/requests", range="1h", limit=20)
    assert [r["id"] for r in first["items"]] == [r.id for r in window[:20]]
    assert first["has_more"] is True and first["next_offset"] == 20
    assert "prompt_text" not in first["items"][0]
    second = ok(client, "/requests", range="1h", limit=20, offset=20)
    assert [r["id"] for r in second["items"]] == [r.id for r in window[20:40]]

    def ids(**filters: object) -> list[str]:
        return [r["id"] for r in ok(client, "/requests", range="1h", limit=500, **filters)["items"]]

    failed = [r.id for r in window if r.error_class][:500]
    assert ids(error_class="any") == failed
    assert (
        ids(error_class="upstream_5xx")
        == [r.id for r in window if r.error_class == "upstream_5xx"][:500]
    )
    assert ids(status="5xx") == [r.id for r in window if 500 <= r.status < 600][:500]
    assert (
        ids(model="qwen2.5-7b", ttft_min_s=0.5)
        == [
            r.id
            for r in window
            if r.model == "qwen2.5-7b" and r.ttft_s is not None and r.ttft_s >= 0.5
        ][:500]
    )
    assert (
        ids(e2e_max_s=1.0, stream="false", source="user")
        == [r.id for r in window if r.e2e_s <= 1.0 and not r.stream and r.source == "user"][:500]
    )
    assert "not an HTTP status" in error(client, "/requests", status="abc")
    assert "above the maximum 500" in error(client, "/requests", limit=501)
    for huge in ("99999999999999999999999", "9223372036854775808"):  # was a 500 (OverflowError)
        assert "'offset'" in error(client, "/requests", offset=huge)
    assert "'error_class'" in error(client, "/requests", error_class="boom")
    assert "not a number" in error(client, "/requests", ttft_min_s="fast")


def test_request_detail_timing_and_text(client: TestClient, seeded: Seeded) -> None:
    d = ok(client, f"/requests/{seeded.summary.first_id}")
    r, t = d["record"], d["timing"]
    assert t["start"] == r["started_at"]
    assert t["first_token_at"] == pytest.approx(r["started_at"] + r["ttft_s"])
    assert t["end"] == pytest.approx(r["started_at"] + r["e2e_s"])
    assert [p["name"] for p in t["phases"]] == ["to first token", "generating"]
    assert d["text"]["captured"] is True and d["text"]["prompt"].startswith("Summarise ticket #0")
    failed = ok(client, f"/requests/{seeded.summary.error_id}")
    assert failed["record"]["error_class"] is not None
    assert failed["text"]["captured"] is False and "capture_text" in failed["text"]["hint"]
    assert "no request 'nope'" in error(client, "/requests/nope", 404)


def test_fallback_query_matches_sql(seeded: Seeded) -> None:
    """Stores without SQL (an in-memory SQLite store) filter in Python: same answers."""
    from infersight.dashboard.request_query import (
        RequestFilter,
        SqliteRequestQuery,
        StoreRequestQuery,
    )

    memory = SqliteStore(":memory:")
    try:
        memory.write_records(records(seeded, 0, NOW + 1))
        sql, py = SqliteRequestQuery(str(seeded.db)), StoreRequestQuery(memory)
        for f in (
            RequestFilter(NOW - 3600, NOW, {}, error_class="any"),
            RequestFilter(
                NOW - 3600,
                NOW,
                {"model": "llama-3.1-8b"},
                status="2xx",
                thresholds={"ttft_min_s": 0.2, "e2e_max_s": 5.0},
            ),
            RequestFilter(NOW - 7200, NOW, {"source": "demo"}, error_class="none", stream=True),
        ):
            assert sql.page(f, limit=50, offset=5) == py.page(f, limit=50, offset=5)
        assert sorted(sql.errors_by_class(NOW - 7200, NOW, 600.0, {})[1]) == sorted(
            py.errors_by_class(NOW - 7200, NOW, 600.0, {})[1]
        )
    finally:
        memory.close()


# -- documentation, pages, errors -----------------------------------------------------------------


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    from infersight.dashboard.app import ENDPOINTS

    doc = ok(client, "/openapi.json")
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/api/v1" + e.path for e in ENDPOINTS}
    series = doc["paths"]["/api/v1/series"]["get"]
    names = {p["name"]: p for p in series["parameters"]}
    assert names["name"]["required"] is True
    assert names["agg"]["schema"]["enum"][0] == "avg"
    assert names["label"]["schema"]["type"] == "array"
    assert "400" in series["responses"]


def test_pages_static_and_unknown_paths(client: TestClient) -> None:
    for path in (
        "/",
        "/serving",
        "/infrastructure",
        "/cost",
        "/quality",
        "/alerts",
        "/requests",
        "/requests/req-000001",
    ):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert 'id="range"' in r.text
    assert 'aria-current="page">Cost<' in client.get("/cost").text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    r = client.get("/nowhere")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    r = client.get("/api/v2/overview")
    assert r.status_code == 404 and "/api/v1" in r.json()["error"]["message"]
    r = client.post("/api/v1/overview")
    assert r.status_code == 405 and "only answers GET" in r.json()["error"]["message"]


def test_every_time_chart_carries_the_selected_range(client: TestClient) -> None:
    """x_range: the chart spans the selected range, not just where its data is."""
    for path in ("/overview", "/serving", "/infrastructure", "/cost", "/quality"):
        d = ok(client, path, range="6h")
        panels = d.get("panels", []) + d.get("score_panels", []) + d.get("live_panels", [])
        assert panels, path
        for p in panels:
            assert p["x_range"] == [NOW - 21600, NOW], (path, p["key"])
    assert ok(client, "/errors", range="6h")["panel"]["x_range"] == [NOW - 21600, NOW]


def test_a_non_streamed_answer_reads_as_answered_whole_not_as_a_stall() -> None:
    from infersight.dashboard.api_data import timing_view

    whole = RequestRecord("r1", NOW, "m", "u", "/v1/chat/completions", False, 200, 0.371)
    t = timing_view(whole)
    assert [(p["name"], p["kind"]) for p in t["phases"]] == [("answered whole", "whole")]
    assert t["first_token"] == "not streamed: no token timing"
    failed = RequestRecord(
        "r2", NOW, "m", "u", "/v1/chat/completions", False, 502, 0.2, "upstream_5xx"
    )
    assert [p["kind"] for p in timing_view(failed)["phases"]] == ["fail"]
    stalled = RequestRecord("r3", NOW, "m", "u", "/v1/chat/completions", True, 200, 0.2)
    assert timing_view(stalled)["phases"][0]["name"] == "waiting (no token)"


def test_quality_tile_is_neutral_without_a_regression() -> None:
    """A sweep has no pass level: 0 % accuracy must not read green."""
    from types import SimpleNamespace

    from infersight.dashboard.api_overview import _quality_tile

    score = {"dataset": "d", "scorer": "accuracy", "value": 0.0, "regressed": False}
    ctx = SimpleNamespace(quality=SimpleNamespace(latest_scores=lambda now: [score]))
    t = _quality_tile(ctx, NOW)  # type: ignore[arg-type]
    assert (t["value"], t["state"]) == (0.0, "info")
