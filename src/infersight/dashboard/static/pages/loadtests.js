// Load tests: the runs `infersight loadtest` stored, newest first; a row opens the run
// (?run=ID): its levels, capacity summary and throughput / TTFT per level.
"use strict";
const STATUS_CLASS = { completed: "ok", stopped: "warn", interrupted: "warn" };
const ms = (v) => (v === null || v === undefined ? null : v / 1000);

async function loadtestsPage({ params }) {
  const { el } = IS;
  const d = await IS.api("/loadtests", { limit: 100 });
  const out = [el("h1", { text: "Load tests" })];
  if (d.message) out.push(IS.message(d.message, "warn"));
  const detail = el("div", { id: "loadtest-detail" });
  const open = async (run, scroll) => {
    IS.setQuery({ run: run.id });
    let r;
    try {
      r = await IS.api("/loadtests/" + encodeURIComponent(run.id));
    } catch (err) {
      if (err.status !== 404) throw err;
      detail.replaceChildren(IS.message(err.message, "error"));
      return;
    }
    const cap = r.capacity || {};
    detail.replaceChildren(
      el("h2", { text: `Run ${r.id} · ${r.model} · ${IS.time(r.started_at)}` }),
      el("p", { class: "muted" },
        `${r.endpoint} · ${r.profile} · ${IS.fmt(r.duration_s, "seconds")}`,
        r.stop_reason ? " · stopped: " + r.stop_reason : "",
        r.report_path ? " · report: " + r.report_path + "/report.html" : ""),
      cap.knee_level !== undefined && cap.knee_level !== null
        ? IS.message(`capacity point: ${cap.knee_label || "level " + cap.knee_level}` +
            (cap.basis ? ` (${cap.basis})` : "") +
            (r.knee_request_throughput !== null ? `, ${IS.fmt(r.knee_request_throughput, "per_s")}` : ""))
        : null,
      IS.charts(r.panels),
      IS.table([
        { title: "Level", render: (lv) => lv.label },
        { title: "OK", key: "completed", unit: "count", num: true },
        { title: "Failed", key: "failed", unit: "count", num: true },
        { title: "Req/s", key: "request_throughput", unit: "per_s", num: true },
        { title: "Goodput", key: "request_goodput", unit: "per_s", num: true },
        { title: "Out tok/s", key: "output_throughput", unit: "tokens_per_s", num: true },
        { title: "In flight", key: "mean_concurrency", num: true },
        { title: "TTFT p50", render: (lv) => IS.fmt(ms(lv.median_ttft_ms), "seconds"), num: true },
        { title: "TTFT p95", render: (lv) => IS.fmt(ms(lv.p95_ttft_ms), "seconds"), num: true },
        { title: "TPOT p95", render: (lv) => IS.fmt(ms(lv.p95_tpot_ms), "seconds"), num: true },
        { title: "E2E p95", render: (lv) => IS.fmt(ms(lv.p95_e2el_ms), "seconds"), num: true },
        { title: "", render: (lv) => lv.saturation ? IS.pill("saturated: " + lv.saturation, "warn")
          : lv.stopped ? IS.pill(lv.stopped, "warn") : "" },
      ], r.levels, { empty: "this run has no level results" }));
    if (scroll) {  // opened by a click: the detail is in the page, draw its charts now
      IS.drawPending();
      detail.scrollIntoView({ block: "start" });
    }
  };
  out.push(el("div", { id: "runs" }, IS.table([
    { title: "Started", render: (r) => IS.time(r.started_at) },
    { title: "Model", render: (r) => r.model },
    { title: "Endpoint", render: (r) => r.endpoint },
    { title: "Profile", render: (r) => r.profile },
    { title: "Levels", key: "level_count", unit: "count", num: true },
    { title: "Requests", key: "requests", unit: "count", num: true },
    { title: "Errors", key: "error_ratio", unit: "ratio", num: true },
    { title: "Req/s", render: (r) => IS.fmt(r.headline.request_throughput, "per_s"), num: true },
    { title: "TTFT p95", render: (r) => IS.fmt(ms(r.headline.p95_ttft_ms), "seconds"), num: true },
    { title: "Capacity point", render: (r) => r.knee_concurrency === null ? "—" : el("span", { title: r.capacity_basis || "" },
      (r.knee_found ? "knee " : "") + "c=" + IS.fmt(r.knee_concurrency, "count") + " · " + IS.fmt(r.knee_request_throughput, "per_s") +
      (r.knee_found ? "" : " (no knee)")), num: true },
    { title: "Max goodput", key: "max_goodput", unit: "per_s", num: true },
    { title: "Status", render: (r) => IS.pill(r.status, STATUS_CLASS[r.status] || "info") },
  ], d.runs, { empty: "no load tests yet", onclick: (r) => open(r, true) })), detail);
  // a linked run is opened by its id, also when it is older than the listed ones (a run not
  // in the store gets the API's 404 message)
  const wanted = params.get("run");
  if (wanted) await open({ id: wanted }, false);  // drawn with the page
  return out;
}
IS.start(loadtestsPage);
