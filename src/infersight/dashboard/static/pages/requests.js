// Requests: filterable, paged list; a row opens the request's detail page.
"use strict";
const FILTERS = [
  ["model", "text", "Model"], ["upstream", "text", "Upstream"],
  ["source", "select", "Source", ["", "user", "demo", "sweep", "loadtest"]],
  ["status", "text", "Status (502, 5xx)"],
  ["error_class", "select", "Error class", ["", "any", "none", "upstream_unreachable", "upstream_timeout",
    "upstream_4xx", "upstream_5xx", "midstream_error", "client_disconnect", "invalid_request", "gateway_error"]],
  ["ttft_min_s", "number", "TTFT ≥ (s)"], ["e2e_min_s", "number", "E2E ≥ (s)"],
];
async function requestsPage({ range, params }) {
  const { el } = IS;
  const query = { range, limit: 50, offset: params.get("offset") || 0 };
  for (const [name] of FILTERS) query[name] = params.get(name);
  const form = el("form", { class: "filters", id: "filters" },
    FILTERS.map(([name, kind, label, choices]) => el("label", {}, label,
      kind === "select"
        ? el("select", { name }, choices.map((c) => el("option", { value: c, selected: (params.get(name) || "") === c, text: c || "all" })))
        : el("input", { name, type: kind, step: kind === "number" ? "any" : null, min: kind === "number" ? "0" : null, value: params.get(name) || "" }))),
    el("button", { type: "submit", text: "Apply" }),
    el("button", { type: "button", id: "clear", text: "Clear", onclick: () => {
      IS.setQuery(Object.fromEntries(FILTERS.map(([n]) => [n, null]).concat([["offset", null]])));
      IS.render(requestsPage);
    } }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    IS.setQuery(Object.assign(Object.fromEntries(FILTERS.map(([n]) => [n, data.get(n)])), { offset: null }));
    IS.render(requestsPage);
  });
  let d;
  try {
    d = await IS.api("/requests", query);
  } catch (err) {
    if (err.status !== 400) throw err;
    return [el("h1", { text: "Requests" }), form, IS.message(err.message, "error")];
  }
  const open = (r) => { window.location = "/requests/" + encodeURIComponent(r.id); };
  const status = (r) => IS.pill(String(r.status), r.error_class ? "bad" : "ok");
  const list = IS.table([
    { title: "Started", render: (r) => IS.time(r.started_at) },
    { title: "Model", render: (r) => r.model },
    { title: "Upstream", render: (r) => r.upstream },
    { title: "Status", render: status },
    { title: "Error", render: (r) => r.error_class || "" },
    { title: "TTFT", key: "ttft_s", unit: "seconds", num: true },
    { title: "E2E", key: "e2e_s", unit: "seconds", num: true },
    { title: "Tokens out", key: "completion_tokens", unit: "count", num: true },
    { title: "Tok/s", key: "output_tokens_per_s", num: true },
    { title: "Source", render: (r) => r.source },
  ], d.items, { onclick: open, empty: "no requests match these filters in this time range" });
  const offset = Number(d.offset);
  const pager = el("div", { class: "pager" },
    el("button", { type: "button", id: "newer", disabled: offset === 0, text: "← newer", onclick: () => {
      IS.setQuery({ offset: Math.max(0, offset - d.limit) || null }); IS.render(requestsPage); } }),
    el("span", { class: "muted", text: d.items.length ? `${offset + 1}–${offset + d.items.length}` : "" }),
    el("button", { type: "button", id: "older", disabled: !d.has_more, text: "older →", onclick: () => {
      IS.setQuery({ offset: d.next_offset }); IS.render(requestsPage); } }));
  return [el("h1", { text: "Requests" }), form, list, pager];
}
IS.start(requestsPage);
