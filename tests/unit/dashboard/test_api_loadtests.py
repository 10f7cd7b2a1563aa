"""Stored load test runs through the dashboard API: the seeded sample runs, and a real run
against the simulator stored the way `infersight loadtest` stores it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from infersight.clock import SystemClock
from infersight.loadtest.analysis import capacity_summary
from infersight.loadtest.persist import loadtest_row
from infersight.loadtest.profiles import Level
from infersight.loadtest.report_json import report_dict
from infersight.loadtest.runner import RunSpec, run_loadtest
from infersight.loadtest.workload import LengthSpec, Workload
from infersight.sim import SimKnobs, run_sim_in_thread
from infersight.store.sqlite import SqliteStore

from .conftest import ClientFactory
from .test_api import error, ok

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_runs_are_listed_newest_first_with_their_headline_figures(client: TestClient) -> None:
    d = ok(client, "/loadtests")
    assert d["message"] is None
    single, ladder = d["runs"]
    assert (single["id"], ladder["id"]) == ("lt-sample-single", "lt-sample-ladder")
    assert single["started_at"] > ladder["started_at"]
    assert ladder["level_count"] == 5 and ladder["requests"] > 600 and ladder["errors"] == 0
    assert ladder["knee_concurrency"] == 4
    assert ladder["knee_found"] is True and ladder["capacity_basis"].startswith("knee")
    # one level: a capacity point, not a knee (the list must not call it one)
    assert single["knee_found"] is False and "too few levels" in single["capacity_basis"]
    assert ladder["knee_request_throughput"] == pytest.approx(16.67, abs=0.05)
    assert ladder["headline"]["request_throughput"] == pytest.approx(16.67, abs=0.05)
    assert ladder["headline"]["p95_ttft_ms"] == pytest.approx(50.0, abs=1)
    assert ladder["status"] == "completed" and ladder["error_ratio"] == 0
    assert [r["id"] for r in ok(client, "/loadtests", limit=1)["runs"]] == ["lt-sample-single"]


def test_one_run_has_its_levels_capacity_and_charts(client: TestClient) -> None:
    r = ok(client, "/loadtests/lt-sample-ladder")
    assert [lv["label"] for lv in r["levels"]] == [f"concurrency {c}" for c in (1, 2, 4, 8, 16)]
    top = r["levels"][-1]
    assert top["p95_ttft_ms"] > 500 and top["request_goodput"] < 1
    assert r["capacity"]["knee_level"] == 2
    throughput, ttft = r["panels"]
    assert throughput["unit"] == "per_s" and len(throughput["t"]) == 5
    assert throughput["lines"][0]["values"][:3] == pytest.approx([4.17, 8.33, 16.67], abs=0.01)
    assert ttft["lines"][1]["values"][-1] == pytest.approx(top["p95_ttft_ms"] / 1000)
    assert "lt-nope" in error(client, "/loadtests/lt-nope", 404)


@pytest.mark.parametrize("limit", ["0", "501", "x", "99999999999999999999999"])
def test_bad_limit_is_a_400_naming_it(client: TestClient, limit: str) -> None:
    assert "limit" in error(client, "/loadtests", limit=limit)


def test_empty_store_says_how_to_record_a_run(make_client: ClientFactory) -> None:
    d = ok(make_client(), "/loadtests")
    assert d["runs"] == [] and "infersight loadtest" in d["message"]


def test_a_real_run_against_the_sim_is_listed(make_client: ClientFactory, tmp_path: Path) -> None:
    workload = Workload(input_tokens=LengthSpec("fixed", 8), output_tokens=None, model="sim-model")
    levels = (Level("concurrency", 1, num_requests=4), Level("concurrency", 2, num_requests=6))
    with run_sim_in_thread(SimKnobs(ttft_ms=10, itl_ms=2, tokens=5)) as sim:
        spec = RunSpec(endpoint=sim.url, profile="concurrency", levels=levels)
        result = asyncio.run(run_loadtest(spec, workload, clock=SystemClock()))
    capacity = capacity_summary(result.levels)
    db = tmp_path / "runs.db"
    store = SqliteStore(db)
    store.loadtests.write_loadtest(
        loadtest_row(result, capacity, report_dict(result, capacity), report_path=str(tmp_path))
    )
    store.close()
    client = make_client(db)
    (run,) = ok(client, "/loadtests")["runs"]
    assert run["id"] == result.id and run["model"] == "sim-model" and run["requests"] == 10
    assert run["headline"]["request_throughput"] > 0
    detail = ok(client, f"/loadtests/{result.id}")
    assert [lv["completed"] for lv in detail["levels"]] == [4, 6]
    assert all(v is not None and v > 0 for v in detail["panels"][0]["lines"][0]["values"])


def test_the_page_is_served_and_in_the_navigation(client: TestClient) -> None:
    r = client.get("/loadtests")
    assert r.status_code == 200 and 'aria-current="page">Load tests<' in r.text
    assert client.get("/static/pages/loadtests.js").status_code == 200
