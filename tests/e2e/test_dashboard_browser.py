"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright, against
real gateways (one on a seeded SQLite store, one on an empty store, one with a token).

Every page loads with data and with an empty store, charts are drawn (canvases with pixels),
filters narrow the request list, a request's detail opens, and no page logs a JavaScript
error. Screenshots go to test-output/dashboard/ (git-ignored); with INFERSIGHT_UPDATE_DOCS=1
the overview is also written to docs/overview.png. `make test` installs Chromium and
Playwright; without them these tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from infersight.core.clock import FakeClock
from infersight.dashboard.sample_data import (
    SampleSummary,
    evaluate_alerts,
    sample_settings,
    seed_sample_data,
)
from infersight.service import ThreadedGateway
from infersight.settings import Settings
from infersight.store.sqlite import SqliteStore

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
CHROMIUM = "/usr/bin/chromium"
NOW = 1_767_225_600.0
REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "test-output" / "dashboard"
PAGES = (
    "/",
    "/serving",
    "/infrastructure",
    "/cost",
    "/quality",
    "/alerts",
    "/requests",
    "/loadtests",
)
CHART_PAGES = {"/": 4, "/serving": 10, "/infrastructure": 9, "/cost": 5, "/quality": 2}
EMPTY_CHARTS = {"/": 4, "/serving": 10, "/infrastructure": 9, "/cost": 5}  # each says why
TOKEN = "browser-test-token"

# Pixels drawn on each chart canvas (uPlot draws lines, axes and grid on one canvas).
INKED_CANVASES = """() => Array.from(document.querySelectorAll('.chart canvas')).map((c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n += 1;
  return n;
})"""


@dataclass
class Site:
    url: str
    summary: SampleSummary | None
    gateway: ThreadedGateway


@dataclass
class Console:
    errors: list[str] = field(default_factory=list)


def _settings(db: Path, **gateway: Any) -> Settings:
    s = sample_settings()
    return s.model_copy(
        update={
            "store": s.store.model_copy(update={"path": str(db)}),
            "gateway": s.gateway.model_copy(update={"port": 0, **gateway}),
        }
    )


def _start(db: Path, *, seed: bool, **gateway: Any) -> Site:
    summary = None
    if seed:
        store = SqliteStore(db)
        try:
            summary = seed_sample_data(store, now=NOW)
            evaluate_alerts(store, sample_settings(), now=NOW)
        finally:
            store.close()
    gw = ThreadedGateway(_settings(db, **gateway), clock=FakeClock(NOW), background=False)
    gw.start()
    return Site(gw.url, summary, gw)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    tmp = tmp_path_factory.mktemp("dashboard-e2e")
    started = {
        "data": _start(tmp / "data.db", seed=True),
        "empty": _start(tmp / "empty.db", seed=False),
        "token": _start(tmp / "token.db", seed=False, dashboard_token=SecretStr(TOKEN)),
    }
    yield started
    for site in started.values():
        site.gateway.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: `make test` installs Debian's chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Console]]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    console = Console()
    pg.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: console.errors.append(f"uncaught: {e}"))
    yield pg, console
    context.close()


def load(pg: Any, url: str) -> None:
    pg.goto(url)
    pg.wait_for_selector("body[data-ready='1']", timeout=10_000)


def shot(pg: Any, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def test_every_page_with_data_draws_its_charts(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    summary = sites["data"].summary
    assert summary is not None
    for path in (*PAGES, f"/requests/{summary.first_id}"):
        load(pg, sites["data"].url + path)
        assert pg.locator(".box.error").count() == 0, path
        inked = pg.evaluate(INKED_CANVASES)
        assert len(inked) == CHART_PAGES.get(path, 0), path
        assert all(n > 500 for n in inked), (path, inked)
        assert pg.locator("[data-empty]").count() == 0, path
        shot(pg, "data" + (path.replace("/", "_") if path != "/" else "_overview"))
        if path == "/" and os.environ.get("INFERSIGHT_UPDATE_DOCS") == "1":
            (REPO / "docs").mkdir(exist_ok=True)
            shutil.copy(OUT / "data_overview.png", REPO / "docs" / "overview.png")
    assert console.errors == []


def test_overview_judges_tiles_and_shows_a_collector_down(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    load(pg, sites["data"].url + "/")
    assert pg.get_attribute(".tile[data-key='collectors']", "data-state") == "bad"
    assert "engine:vllm-b" in pg.inner_text(".tile[data-key='collectors']")
    assert pg.locator("td .pill.down").count() == 1
    assert pg.get_attribute(".tile[data-key='request_rate']", "data-state") == "ok"
    assert pg.get_attribute(".tile[data-key='slo']", "data-state") == "ok"
    assert pg.get_attribute(".tile[data-key='alerts']", "data-state") == "bad"
    assert "collector_down" in pg.inner_text("main")
    load(pg, sites["data"].url + "/alerts")
    assert pg.locator("td .pill.alarm").count() >= 2
    pg.locator("details summary").first.click()  # a rule's runbook opens
    assert pg.locator("details[open] .runbook").count() == 1
    load(pg, sites["data"].url + "/infrastructure")
    assert pg.locator("td .pill.down").count() == 1
    assert console.errors == []


def test_every_page_with_an_empty_store_says_so(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    for path in (*PAGES, "/requests/none-such"):
        load(pg, sites["empty"].url + path)
        assert pg.locator("canvas").count() == 0, path
        if path in EMPTY_CHARTS:
            empties = pg.locator(".chart-empty")
            assert empties.count() == EMPTY_CHARTS[path], path
            assert all(t.strip() for t in empties.all_inner_texts()), path
        shot(pg, "empty" + (path.replace("/", "_") if path != "/" else "_overview"))
    load(pg, sites["empty"].url + "/")
    assert "No data yet" in pg.inner_text("[data-empty]")
    assert "/v1/chat/completions" in pg.inner_text("[data-empty]")
    load(pg, sites["empty"].url + "/quality")
    assert "no sweeps yet" in pg.inner_text("main")
    load(pg, sites["empty"].url + "/alerts")
    assert "ttft_p95_high" in pg.inner_text("main")  # the rule pack, not evaluated yet
    assert "no active alerts" in pg.inner_text("main")
    # the missing request's 404 is the only failed load, and it is said on the page
    load(pg, sites["empty"].url + "/requests/none-such")
    assert "no request 'none-such'" in pg.inner_text("main")
    assert [e for e in console.errors if "404" not in e] == []


def test_request_filters_and_detail(sites: dict[str, Site], page: tuple[Any, Console]) -> None:
    pg, console = page
    load(pg, sites["data"].url + "/requests?range=6h")
    assert pg.locator("tbody tr").count() == 50
    pg.select_option("select[name='error_class']", "any")
    pg.click("#filters button[type='submit']")
    pg.wait_for_selector("body[data-ready='1']")
    assert "error_class=any" in pg.url
    errors = pg.locator("tbody tr td:nth-child(5)").all_inner_texts()
    assert errors and all(e.strip() for e in errors)
    pg.fill("input[name='model']", "qwen2.5-7b")
    pg.click("#filters button[type='submit']")
    pg.wait_for_selector("body[data-ready='1']")
    models = pg.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert models and set(models) == {"qwen2.5-7b"}
    pg.click("#clear")
    pg.wait_for_selector("body[data-ready='1']")
    pg.click("#older")
    pg.wait_for_selector("body[data-ready='1']")
    assert "offset=50" in pg.url
    pg.locator("tbody tr").first.click()
    pg.wait_for_url("**/requests/req-*")
    pg.wait_for_selector("body[data-ready='1']")
    assert pg.locator("#timing .seg").count() >= 1
    assert "first token" in pg.inner_text("#timing") or "no token" in pg.inner_text("#timing")
    shot(pg, "request_detail")
    assert console.errors == []


def test_quality_sweep_drill_down(sites: dict[str, Site], page: tuple[Any, Console]) -> None:
    pg, console = page
    load(pg, sites["data"].url + "/quality?range=6h")
    assert "regressed" in pg.inner_text("#sweeps")
    pg.locator("#sweeps tbody tr").first.click()
    pg.wait_for_selector("#sweep-detail tbody tr")
    assert pg.locator("#sweep-detail tbody tr").count() == 40
    assert "reset link" in pg.inner_text("#sweep-detail")
    shot(pg, "quality_drill_down")
    assert console.errors == []


def test_loadtest_runs_and_one_run_with_its_charts(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    load(pg, sites["data"].url + "/loadtests")
    assert pg.locator("#runs tbody tr").count() == 2
    runs = pg.inner_text("#runs")
    assert "llama-3.1-8b" in runs and "c=4" in runs and "completed" in runs
    pg.locator("#runs tbody tr", has_text="c=4").nth(1).click()  # the older run: the ladder
    pg.wait_for_selector("#loadtest-detail .table-wrap tbody tr")
    assert "run=lt-sample-ladder" in pg.url
    assert pg.locator("#loadtest-detail .table-wrap tbody tr").count() == 5
    assert "saturated" in pg.inner_text("#loadtest-detail") or "concurrency 16" in pg.inner_text(
        "#loadtest-detail"
    )
    pg.wait_for_function("document.querySelectorAll('#loadtest-detail .chart canvas').length == 2")
    inked = pg.evaluate(INKED_CANVASES)
    assert len(inked) == 2 and all(n > 500 for n in inked), inked
    shot(pg, "loadtest_detail")
    load(pg, sites["data"].url + "/loadtests?run=lt-sample-single")  # a link to one run
    assert pg.locator("#loadtest-detail .table-wrap tbody tr").count() == 1
    assert len(pg.evaluate(INKED_CANVASES)) == 2
    load(pg, sites["empty"].url + "/loadtests")
    assert "no load tests yet" in pg.inner_text("main")
    assert console.errors == []
    # a link opens the run by its id (not only the listed newest 100); an unknown id says so
    load(pg, sites["data"].url + "/loadtests?run=no-such-run")
    assert "no load test 'no-such-run' in the store" in pg.inner_text("#loadtest-detail")
    assert all("404" in e for e in console.errors)  # the API's answer, shown on the page


def test_range_split_and_theme(sites: dict[str, Site], page: tuple[Any, Console]) -> None:
    pg, console = page
    load(pg, sites["data"].url + "/serving")
    pg.select_option("#range", "6h")
    pg.wait_for_function("document.body.dataset.ready === '1' && location.search.includes('6h')")
    pg.select_option("#split", "model")
    pg.wait_for_function("document.body.dataset.ready === '1' && location.search.includes('model')")
    legend = pg.inner_text(".chart-panel[data-key='ttft'] .u-legend")
    assert "llama-3.1-8b p95" in legend and "qwen2.5-7b p95" in legend
    assert all(n > 500 for n in pg.evaluate(INKED_CANVASES))
    theme = pg.evaluate("document.documentElement.dataset.theme")
    pg.click("#theme")
    pg.wait_for_selector("body[data-ready='1']")
    assert pg.evaluate("document.documentElement.dataset.theme") != theme
    shot(pg, "serving_split_theme")
    load(pg, sites["data"].url + "/")  # the choices are remembered
    assert pg.input_value("#range") == "6h"
    assert console.errors == []


def test_token_login(sites: dict[str, Site], page: tuple[Any, Console]) -> None:
    pg, console = page
    pg.goto(sites["token"].url + "/cost")
    assert "/login" in pg.url
    pg.fill("input[name='token']", "wrong")
    pg.click("button[type='submit']")
    assert "not valid" in pg.inner_text("body")
    pg.fill("input[name='token']", TOKEN)
    pg.click("button[type='submit']")
    pg.wait_for_selector("body[data-ready='1']")
    assert pg.url.endswith("/cost")
    assert pg.locator(".box.error").count() == 0
    assert [e for e in console.errors if "401" not in e] == []


def drawn(pg: Any) -> dict[str, Any]:
    result: dict[str, Any] = pg.evaluate("IS.drawn()")
    return result


def test_every_chart_spans_the_selected_range(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    url = sites["data"].url
    for path, range_s in (
        ("/?range=15m", 900),
        ("/?range=1h", 3600),
        ("/serving?range=6h", 21600),
        ("/quality?range=1h", 3600),
        ("/infrastructure?range=7d", 7 * 86400),
    ):
        load(pg, url + path)
        charts = drawn(pg)
        assert charts, path
        for key, c in charts.items():  # the same range on every chart, errors by class included
            assert c["x"] == [NOW - range_s, NOW], (path, key)
            assert c["y"][0] <= c["y"][1] and c["y"][0] >= 0, (path, key)
    load(pg, url + "/quality?range=1h")
    for key, c in drawn(pg).items():  # ratios: 0-100 %, not 10,000 %
        assert c["y"][1] <= 1.0, key
    assert console.errors == []


def test_time_labels_stay_inside_their_chart(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    """The range ends at midnight, so the last label ("12:00am" over the date) sits on the
    chart's right edge; no label may be cut off on either side, at desktop or phone width."""
    pg, console = page
    url = sites["data"].url
    for width in (1440, 375):
        pg.set_viewport_size({"width": width, "height": 900})
        for path in ("/serving?range=1h", "/?range=6h", "/infrastructure?range=24h"):
            load(pg, url + path)
            charts = drawn(pg)
            assert charts, path
            for key, c in charts.items():
                lo, hi = c["timeLabels"]
                assert lo >= 0 and hi <= c["width"], (width, path, key, lo, hi, c["width"])
    assert console.errors == []


# one panel drawn on the page as the API would send it (x_range: the selected range)
DRAW_PANEL = """async (p) => {
  const box = IS.chartPanel(p);
  document.getElementById('main').append(box);
  IS.drawPending();
  await new Promise((r) => requestAnimationFrame(r));
  return IS.drawn()[p.key];
}"""


def test_a_single_point_gets_a_sane_axis_and_a_marker(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    load(pg, sites["empty"].url + "/loadtests")
    t = [NOW - 300.0, NOW - 240.0, NOW - 180.0, NOW - 120.0, NOW - 60.0]
    base = {"title": "x", "description": "", "t": t, "x_range": [NOW - 3600, NOW], "sparse": False}
    one = pg.evaluate(
        DRAW_PANEL,
        {
            **base,
            "key": "one",
            "unit": "ratio",
            "lines": [{"label": "a", "values": [None, None, 1.0, None, None]}],
        },
    )
    assert one["x"] == [NOW - 3600, NOW]
    assert one["y"] == [0, 1]  # one accuracy of 100 %: 0-100 %
    assert one["points"] == [True]  # alone between gaps: drawn as a marker
    const = pg.evaluate(
        DRAW_PANEL,
        {
            **base,
            "key": "const",
            "unit": "seconds",
            "lines": [
                {"label": "a", "values": [0.2] * 5},
                {"label": "b", "values": [0.1, None, None, None, None]},
            ],
        },
    )
    assert const["y"][0] == 0 and 0.2 < const["y"][1] < 0.3  # constant: room above it
    assert const["points"] == [False, True]  # a line of 5 values needs no markers; one value does
    disk = pg.evaluate(
        DRAW_PANEL,
        {**base, "key": "disk", "unit": "ratio", "lines": [{"label": "a", "values": [0.248] * 5}]},
    )
    assert disk["y"][0] == 0 and 0.25 < disk["y"][1] < 0.5
    assert console.errors == []


LONG_ID = """() => {
  const id = '0123456789abcdef0123456789abcdef';
  document.querySelector('h1').textContent = 'Request ' + id;
  document.querySelector('.kv dd').textContent = id;
}"""


def test_no_page_scrolls_sideways_on_a_phone(sites: dict[str, Site], browser: Any) -> None:
    summary = sites["data"].summary
    assert summary is not None
    context = browser.new_context(viewport={"width": 375, "height": 800})
    try:
        pg = context.new_page()
        wide = {}
        for path in (*PAGES, f"/requests/{summary.first_id}"):
            load(pg, sites["data"].url + path)
            if path.startswith("/requests/"):  # a 32-character id (a uuid's hex) must wrap
                pg.evaluate(LONG_ID)
            width = pg.evaluate("document.documentElement.scrollWidth")
            if width > 375:
                wide[path] = width
        assert wide == {}
    finally:
        context.close()


def test_no_page_prints_null_or_undefined(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    for name in ("data", "empty"):
        for path in PAGES:
            load(pg, sites[name].url + path)
            words = pg.inner_text("#main").split()
            assert "null" not in words and "undefined" not in words, (name, path)
    assert console.errors == []


ROWS = """(sel) => Array.from(document.querySelectorAll(sel + ' tr')).map(
  (tr) => Array.from(tr.children).map((c) => c.innerText.trim()))"""


def test_alert_rows_name_their_instance_and_value(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    """Per-model instances of one rule are told apart, not shown as duplicate rows."""
    pg, console = page
    load(pg, sites["data"].url + "/?range=1h")
    head, *rows = pg.evaluate(ROWS, ".grid2 > div:first-child table")
    assert head[:3] == ["Rule", "Instance", "Value"]
    assert len(rows) >= 2 and len({tuple(r[:2]) for r in rows}) == len(rows)
    assert all(r[1] and r[2] != "—" for r in rows)
    load(pg, sites["data"].url + "/alerts?range=24h")
    header = pg.locator("h2:text-is('History') + .table-wrap th").all_inner_texts()
    assert "Instance" in header and "Value" in header
    assert console.errors == []


def test_cost_without_measurements_says_what_advice_needs(
    sites: dict[str, Site], page: tuple[Any, Console]
) -> None:
    pg, console = page
    load(pg, sites["empty"].url + "/cost")
    text = pg.inner_text("#main")
    assert "advice needs the measurements listed under Not measured" in text
    assert "nothing to right-size" not in text and "Not measured\n" in text
    assert console.errors == []
