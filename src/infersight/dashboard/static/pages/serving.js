// Serving: latency percentiles, throughput, errors (by class), in-flight and queue depth.
"use strict";
async function servingPage({ range, params }) {
  const { el } = IS;
  const by = params.get("by") || "none";
  const filters = { model: params.get("model"), upstream: params.get("upstream"), source: params.get("source") };
  const [d, errors] = await Promise.all([
    IS.api("/serving", Object.assign({ range, by }, filters)),
    IS.api("/errors", Object.assign({ range }, filters)),
  ]);
  const split = el("select", { id: "split", "aria-label": "split by" },
    ["none", "model", "upstream"].map((v) => el("option", { value: v, selected: v === by, text: v === "none" ? "all together" : "by " + v })));
  split.addEventListener("change", () => { IS.setQuery({ by: split.value }); IS.render(servingPage); });
  const controls = el("div", { class: "filters" }, el("label", {}, "Split", split),
    Object.entries(filters).filter(([, v]) => v).map(([k, v]) => IS.pill(k + " = " + v, "info")));
  const errPanel = errors.panel;
  if (errors.note) errPanel.description = errPanel.description + "; " + errors.note;
  const order = ["ttft", "itl", "tpot", "e2e", "requests_per_s", "output_tokens_per_s", "error_ratio"];
  const panels = order.map((k) => d.panels.find((p) => p.key === k)).filter(Boolean);
  const rest = d.panels.filter((p) => !order.includes(p.key));
  return [
    el("h1", { text: "Serving" }), controls,
    el("h2", { text: "Latency" }), IS.charts(panels.slice(0, 4)),
    el("h2", { text: "Throughput and errors" }), IS.charts([...panels.slice(4), errPanel]),
    el("h2", { text: "Concurrency and queue" }), IS.charts(rest),
    el("h2", { text: "Summary over the range" }),
    IS.table([
      { title: by === "none" ? "Traffic" : by, render: (r) => r.label },
      { title: "Requests", key: "requests", unit: "count", num: true },
      { title: "Errors", key: "request_errors", unit: "count", num: true },
      { title: "Error ratio", key: "error_ratio", unit: "ratio", num: true },
      { title: "Output tokens", key: "output_tokens", unit: "count", num: true },
      { title: "TTFT p95 (avg of minutes)", key: "ttft_p95_s", unit: "seconds", num: true },
      { title: "E2E p95 (avg of minutes)", key: "e2e_p95_s", unit: "seconds", num: true },
    ], d.summary, { empty: "no requests in this time range" }),
  ];
}
IS.start(servingPage);
