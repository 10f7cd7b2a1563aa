// Quality: scores over time, latest scores and regressions, sweeps with per-item drill-down,
// live samples, drift.
"use strict";
async function qualityPage({ range }) {
  const { el } = IS;
  const d = await IS.api("/quality", { range });
  const out = [el("h1", { text: "Quality" })];
  if (d.message) out.push(IS.message(d.message, "warn"));
  out.push(el("h2", { text: "Scores over time" }),
    d.score_panels.length ? IS.charts(d.score_panels) : IS.message("no sweeps yet: no score series in the store"));
  out.push(el("h2", { text: "Latest scores and regressions" }),
    IS.table([
      { title: "Dataset", render: (s) => s.dataset || "" },
      { title: "Metric", render: (s) => s.scorer || "" },
      { title: "Value", render: (s) => IS.fmt(s.value, "ratio"), num: true },
      { title: "95 % interval", render: (s) => s.low === undefined || s.low === null ? "" : IS.fmt(s.low, "ratio") + " – " + IS.fmt(s.high, "ratio"), num: true },
      { title: "Change vs previous", render: (s) => s.change === undefined || s.change === null ? "" : (s.change > 0 ? "+" : "") + IS.fmt(s.change * 100, "count") + " pt", num: true },
      { title: "", render: (s) => s.regressed ? IS.pill("regressed", "bad") : "" },
      { title: "Sweep", render: (s) => IS.time(s.at) },
    ], d.latest, { empty: "no sweeps yet" }));
  const detail = el("div", { id: "sweep-detail" });
  const open = async (s) => {
    const sweep = await IS.api("/quality/sweeps/" + encodeURIComponent(s.id));
    detail.replaceChildren(
      el("h2", { text: `Sweep ${sweep.id} · ${sweep.dataset} · ${IS.time(sweep.finished_at)}` }),
      (sweep.notes || []).length ? IS.message(sweep.notes.join("; ")) : null,
      IS.table([
        { title: "Item", render: (i) => i.id },
        { title: "Tags", render: (i) => (i.tags || []).join(", ") },
        { title: "Prompt", render: (i) => el("div", { class: "text-block", text: i.prompt || "" }) },
        { title: "Expected", render: (i) => el("div", { class: "text-block", text: i.expected || "" }) },
        { title: "Response", render: (i) => el("div", { class: "text-block", text: i.response || i.error || "" }) },
        { title: "Scores", render: (i) => Object.entries(i.scores || {}).map(([k, v]) => k + " " + IS.fmt(v)).join(", ") },
        { title: "", render: (i) => i.passed === false ? IS.pill("failed", "bad") : i.passed ? IS.pill("passed", "ok") : "" },
      ], sweep.items || [], { empty: "this sweep has no items" }));
    detail.scrollIntoView({ block: "start" });
  };
  out.push(el("h2", { text: "Sweeps" }), el("div", { id: "sweeps" }, IS.table([
    { title: "Finished", render: (s) => IS.time(s.finished_at) },
    { title: "Sweep", render: (s) => s.name || s.id },
    { title: "Dataset", render: (s) => s.dataset || "" },
    { title: "Model", render: (s) => s.model || "" },
    { title: "Items", render: (s) => String(s.items ?? ""), num: true },
    { title: "Failed", render: (s) => String(s.failed ?? ""), num: true },
    { title: "Scores", render: (s) => Object.entries(s.scores || {}).map(([k, v]) => k + " " + IS.fmt(v, "ratio")).join(", ") },
    { title: "", render: (s) => s.regressed ? IS.pill("regressed: " + (s.regressions || []).join(", "), "bad") : "" },
  ], d.sweeps, { empty: "no sweeps yet", onclick: open })), detail);
  out.push(el("h2", { text: "Live samples" }),
    d.live_panels.length ? IS.charts(d.live_panels) : IS.message("no live samples yet: the online sampler scores a share of live traffic once quality sampling is on"));
  out.push(el("h2", { text: "Drift" }),
    d.drift_panels.length ? IS.charts(d.drift_panels) : IS.message("no drift samples yet"));
  return out;
}
IS.start(qualityPage);
