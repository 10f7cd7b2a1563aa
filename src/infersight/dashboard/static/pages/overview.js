// Overview: tiles (state judged by the API), four trends, active alerts, collectors.
"use strict";
IS.start(async ({ range }) => {
  const { el } = IS;
  const d = await IS.api("/overview", { range });
  const out = [el("h1", { text: "Overview" })];
  if (!d.has_data && d.empty) out.push(IS.emptyBox(d.empty));
  out.push(IS.tiles(d.tiles));
  out.push(el("h2", { text: "Trends" }), IS.charts(d.panels));
  out.push(el("div", { class: "grid2" },
    el("div", {},
      el("h2", { text: "Active alerts" }),
      IS.table([
        { title: "Rule", render: (a) => a.rule || "" },
        { title: "Instance", render: (a) => a.instance || "" },
        { title: "Value", render: (a) => IS.fmt(a.value), num: true },
        { title: "Severity", render: (a) => IS.pill(a.severity || "—") },
        { title: "State", render: (a) => IS.pill(a.state || "firing") },
        { title: "Since", render: (a) => IS.time(a.since) },
      ], d.alerts, { empty: d.tiles.find((t) => t.key === "alerts").detail || "no active alerts" })),
    el("div", {},
      el("h2", { text: "Collectors" }),
      IS.table([
        { title: "Collector", render: (c) => c.collector },
        { title: "State", render: (c) => IS.pill(c.status) },
        { title: "Detail", render: (c) => c.detail || "" },
      ], d.collectors, { empty: d.tiles.find((t) => t.key === "collectors").detail || "no collectors" }))));
  return out;
});
