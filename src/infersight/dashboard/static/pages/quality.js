// Quality: scores over time, latest sweep with per-item drill-down, regressions, drift.
"use strict";
async function qualityPage({ range, params }) {
  const { el } = IS;
  const d = await IS.api("/quality", { range });
  const out = [el("h1", { text: "Quality" })];
  if (d.message) out.push(IS.message(d.message, "warn"));
  out.push(el("h2", { text: "Scores over time" }),
    d.score_panels.length ? IS.charts(d.score_panels) : IS.message("no sweeps yet: no score series in the store"));
  out.push(el("h2", { text: "Latest scores and regressions" }),
    IS.table([
      { title: "Dataset", render: (s) => s.dataset || "" },
      { title: "Scorer", render: (s) => s.scorer || "" },
      { title: "Score", render: (s) => IS.fmt(s.value), num: true },
      { title: "Change", render: (s) => s.change === undefined ? "" : IS.fmt(s.change), num: true },
      { title: "", render: (s) => s.regressed ? IS.pill("regressed", "bad") : "" },
    ], d.latest, { empty: "no sweeps yet" }));
  out.push(el("h2", { text: "Sweeps" }));
  const detail = el("div", { id: "sweep-detail" });
  out.push(IS.table([
    { title: "Started", render: (s) => IS.time(s.started_at) },
    { title: "Dataset", render: (s) => s.dataset || "" },
    { title: "Model", render: (s) => s.model || "" },
    { title: "Items", render: (s) => String(s.items ?? ""), num: true },
    { title: "Scores", render: (s) => Object.entries(s.scores || {}).map(([k, v]) => k + " " + IS.fmt(v)).join(", ") },
  ], d.sweeps, {
    empty: "no sweeps yet",
    onclick: async (s) => {
      const sweep = await IS.api("/quality/sweeps/" + encodeURIComponent(s.id));
      detail.replaceChildren(el("h2", { text: "Sweep " + s.id }), IS.table([
        { title: "Prompt", render: (i) => el("div", { class: "text-block", text: i.prompt || "" }) },
        { title: "Expected", render: (i) => el("div", { class: "text-block", text: i.expected || "" }) },
        { title: "Response", render: (i) => el("div", { class: "text-block", text: i.response || "" }) },
        { title: "Scores", render: (i) => Object.entries(i.scores || {}).map(([k, v]) => k + " " + IS.fmt(v)).join(", ") },
        { title: "", render: (i) => i.passed === false ? IS.pill("failed", "bad") : "" },
      ], sweep.items || [], { empty: "this sweep has no items" }));
    },
  }), detail);
  out.push(el("h2", { text: "Live samples" }),
    IS.message(d.configured ? "live traffic samples appear with their scores in the sweeps list" : "no sweeps yet: the online sampler scores live traffic once quality runs"));
  out.push(el("h2", { text: "Drift" }),
    d.drift_panels.length ? IS.charts(d.drift_panels) : IS.message("no drift samples yet"));
  return out;
}
IS.start(qualityPage);
