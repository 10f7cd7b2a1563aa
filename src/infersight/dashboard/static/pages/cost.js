// Cost: spend rate, cost per 1M tokens, idle spend, projection and budget, advice with evidence.
"use strict";
IS.start(async ({ range }) => {
  const { el } = IS;
  const [d, advice] = await Promise.all([IS.api("/cost", { range }), IS.api("/advice", { days: 7 })]);
  const out = [el("h1", { text: "Cost" })];
  if (d.hint) out.push(IS.message(d.hint, "warn"));
  out.push(IS.table([
    { title: "Upstream", render: (r) => r.upstream },
    { title: "Per hour", key: "usd_per_hour", unit: "usd_per_hour", num: true },
    { title: "Per 1M output tokens", key: "usd_per_1m_output_tokens", unit: "usd", num: true },
    { title: "Idle per hour", key: "idle_usd_per_hour", unit: "usd_per_hour", num: true },
    { title: "Today", key: "spent_today_usd", unit: "usd", num: true },
    { title: "This month", key: "spent_month_usd", unit: "usd", num: true },
    { title: "Projected month", key: "projected_month_usd", unit: "usd", num: true },
    { title: "Budget", key: "monthly_budget_usd", unit: "usd", num: true },
    { title: "Budget left", key: "budget_remaining_usd", unit: "usd", num: true },
  ], d.upstreams, { empty: "no priced upstream" }));
  out.push(el("h2", { text: "Over time" }), IS.charts(d.panels));
  out.push(el("h2", { text: "Advice (last 7 days)" }));
  const items = advice.upstreams.flatMap((u) => u.advice.map((a) => Object.assign({ upstream: u.upstream }, a)));
  const missing = advice.upstreams.filter((u) => u.missing.length);
  if (!items.length) {  // "nothing to do" only when nothing advice needs is missing
    out.push(IS.message(advice.has_evidence && !missing.length
      ? "No advice: nothing to right-size, scale or relieve in the last 7 days."
      : "No advice yet: advice needs the measurements listed under Not measured below."));
  }
  for (const a of items) {
    out.push(el("div", { class: "box", "data-advice": a.kind },
      el("div", {}, IS.pill(a.severity), " ", el("strong", { text: a.title }), " ",
        el("span", { class: "muted", text: a.upstream })),
      el("p", { text: a.detail }),
      a.projected_saving_usd_per_month ? el("p", { text: "Projected saving: " + IS.fmt(a.projected_saving_usd_per_month, "usd") + " per month" }) : null,
      IS.table([
        { title: "Evidence", render: (e) => e.description },
        { title: "Series", render: (e) => el("code", { text: e.series }) },
        { title: "Value", render: (e) => IS.fmt(e.value) , num: true },
        { title: "Window", render: (e) => IS.fmt(e.window_s / 86400, "count") + " d", num: true },
      ], a.evidence)));
  }
  if (missing.length) {
    out.push(el("h2", { text: "Not measured" }),
      IS.table([
        { title: "Upstream", render: (u) => u.upstream },
        { title: "What is missing and how to measure it", render: (u) => el("div", {}, u.missing.map((m) => el("div", { text: m }))) },
      ], missing));
  }
  return out;
});
