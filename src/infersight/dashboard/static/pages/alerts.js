// Alerts: active, rules (state and runbook), history, silences; SLOs with budget left.
"use strict";
IS.start(async ({ range }) => {
  const { el } = IS;
  const [d, slo] = await Promise.all([IS.api("/alerts", { range }), IS.api("/slo")]);
  const out = [el("h1", { text: "Alerts" })];
  if (!d.configured) {
    out.push(IS.message(d.message, "warn"));
  }
  const runbook = (r) => el("div", {},
    r.runbook ? el("details", {}, el("summary", { text: "runbook" }), el("p", { class: "runbook", text: r.runbook })) : null,
    r.runbook_url ? el("a", { href: r.runbook_url, target: "_blank", rel: "noopener", text: "runbook ↗" }) : null);
  out.push(el("h2", { text: "Active" }), IS.table([
    { title: "Rule", render: (a) => a.rule || "" },
    { title: "Instance", render: (a) => a.instance || "" },
    { title: "Severity", render: (a) => IS.pill(a.severity || "—") },
    { title: "State", render: (a) => IS.pill(String(a.state || "").toLowerCase()) },
    { title: "Since", render: (a) => IS.time(a.since) },
    { title: "Value", render: (a) => IS.fmt(a.value), num: true },
    { title: "Threshold", render: (a) => IS.fmt(a.threshold), num: true },
    { title: "Summary", render: (a) => a.summary || "" },
    { title: "", render: runbook },
  ], d.active, { empty: d.configured ? "no active alerts" : "no alerting configured" }));
  out.push(el("h2", { text: "SLOs" }), slo.slos.length ? IS.table([
    { title: "SLO", render: (s) => s.name },
    { title: "Objective", render: (s) => IS.fmt(s.objective, "ratio"), num: true },
    { title: "Attainment", render: (s) => IS.fmt(s.attainment, "ratio"), num: true },
    { title: "Budget left", render: (s) => IS.fmt(s.budget_remaining, "ratio"), num: true },
    { title: "State", render: (s) => IS.pill(String(s.state || "").toLowerCase() || "—") },
  ], slo.slos) : IS.message(slo.message));
  out.push(el("h2", { text: "Rules" }), IS.table([
    { title: "Rule", render: (r) => r.name || "" },
    { title: "Kind", render: (r) => r.kind || "" },
    { title: "Condition", render: (r) => el("code", { text: r.condition || r.expression || r.series || "" }) },
    { title: "Severity", render: (r) => IS.pill(r.severity || "—") },
    { title: "State", render: (r) => IS.pill(String(r.state || "").toLowerCase() || "—") },
    { title: "Silenced until", render: (r) => r.silenced_until ? IS.time(r.silenced_until) : "" },
    { title: "", render: runbook },
  ], d.rules, { empty: d.configured ? "no rules" : "no alerting configured" }));
  out.push(el("h2", { text: "History" }), IS.table([
    { title: "Time", render: (e) => IS.time(e.ts) },
    { title: "Rule", render: (e) => e.rule || "" },
    { title: "Instance", render: (e) => e.instance || "" },
    { title: "Event", render: (e) => e.kind || "" },
    { title: "State", render: (e) => (e.previous_state ? e.previous_state + " → " : "") + (e.state || "") },
    { title: "Value", render: (e) => IS.fmt(e.value), num: true },
    { title: "Message", render: (e) => e.message || "" },
  ], d.history, { empty: d.configured ? "no alert events in this time range" : "no alerting configured" }));
  out.push(el("h2", { text: "Silences" }), IS.table([
    { title: "Rule", render: (s) => s.rule || "" },
    { title: "From", render: (s) => IS.time(s.created_at) },
    { title: "Until", render: (s) => IS.time(s.expires_at) },
    { title: "Reason", render: (s) => s.reason || "" },
    { title: "By", render: (s) => s.created_by || "" },
  ], d.silences, { empty: d.configured ? "no silences" : "no alerting configured" }));
  return out;
});
