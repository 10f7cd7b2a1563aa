// One request: its fields, a timing view (start, first token, end), captured text.
"use strict";
IS.start(async () => {
  const { el } = IS;
  const id = decodeURIComponent(location.pathname.split("/").pop());
  let d;
  try {
    d = await IS.api("/requests/" + encodeURIComponent(id));
  } catch (err) {
    if (err.status !== 404) throw err;
    return [el("h1", { text: "Request" }), IS.message(err.message, "error"), el("a", { href: "/requests", text: "← all requests" })];
  }
  const r = d.record, t = d.timing;
  const total = Math.max(t.e2e_s, 1e-9);
  const failed = Boolean(r.error_class);
  const bar = el("div", { class: "bar" }, t.phases.map((p, i) => el("div", {
    class: "seg " + (failed && i === t.phases.length - 1 ? "fail" : p.kind || (p.name === "generating" ? "gen" : "wait")),
    style: `width:${((p.end_s - p.start_s) / total) * 100}%`,
    title: p.name + ": " + IS.fmt(p.end_s - p.start_s, "seconds"),
    text: p.name + " " + IS.fmt(p.end_s - p.start_s, "seconds"),
  })));
  const marks = el("div", { class: "timing-marks" },
    el("span", { text: "start " + IS.time(t.start) }),
    el("span", { text: t.first_token_at !== null ? "first token +" + IS.fmt(t.ttft_s, "seconds") : t.first_token || "no token" }),
    el("span", { text: (failed ? "failed " : "end ") + "+" + IS.fmt(t.e2e_s, "seconds") + (failed ? " (" + r.error_class + ")" : "") }));
  const fields = [
    ["Id", r.id], ["Started", IS.time(r.started_at)], ["Model", r.model], ["Upstream", r.upstream],
    ["Route", r.route], ["Stream", String(r.stream)], ["Status", String(r.status)],
    ["Error class", r.error_class || "—"], ["Error", r.error_message || "—"],
    ["TTFT", IS.fmt(r.ttft_s, "seconds")], ["TPOT", IS.fmt(r.tpot_s, "seconds")],
    ["ITL mean / p50 / p90 / p99 / max", ["mean", "p50", "p90", "p99", "max"].map((k) => IS.fmt(t.itl_s[k], "seconds")).join(" / ")],
    ["E2E", IS.fmt(r.e2e_s, "seconds")], ["Output tokens/s", IS.fmt(r.output_tokens_per_s)],
    ["Prompt / completion tokens", `${r.prompt_tokens ?? "—"} / ${r.completion_tokens ?? "—"}` + (r.tokens_estimated ? " (estimated)" : "")],
    ["Finish reason", r.finish_reason || "—"], ["In flight at start", String(r.inflight_at_start)],
    ["Client", r.client || "—"], ["Source", r.source],
  ];
  return [
    el("a", { href: "/requests", text: "← all requests" }),
    el("h1", { text: "Request " + r.id }),
    el("div", { class: "box timing", id: "timing" }, el("h2", { text: "Timing" }), bar, marks),
    el("div", { class: "grid2" },
      el("div", { class: "box" }, el("h2", { text: "Record" }),
        el("dl", { class: "kv" }, fields.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]))),
      el("div", { class: "box" }, el("h2", { text: "Prompt and response" }),
        d.text.captured
          ? [el("h3", { text: "Prompt" }), el("div", { class: "text-block", text: d.text.prompt || "" }),
             el("h3", { text: "Response" }), el("div", { class: "text-block", text: d.text.response || "" })]
          : el("p", { class: "muted", text: d.text.hint }))),
  ];
});
