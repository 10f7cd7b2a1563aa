// Infrastructure: GPUs, engines, host, and every collector's state (a collector down shows).
"use strict";
IS.start(async ({ range }) => {
  const { el } = IS;
  const d = await IS.api("/infrastructure", { range });
  const byKey = (keys) => d.panels.filter((p) => keys.includes(p.key));
  const live = d.collectors.live;
  const collectorRows = live.length
    ? live.map((c) => ({ collector: c.collector, status: c.status, detail: c.last_error || (c.notes || []).join("; "), at: c.last_success_at }))
    : d.collectors.stored.map((c) => ({ collector: c.collector, status: c.stale ? "stale" : c.up ? "up" : "down", detail: "", at: c.last_seen }));
  return [
    el("h1", { text: "Infrastructure" }),
    el("h2", { text: "Collectors" }),
    IS.table([
      { title: "Collector", render: (c) => c.collector },
      { title: "State", render: (c) => IS.pill(c.status) },
      { title: "Last success", render: (c) => IS.time(c.at) },
      { title: "Detail", render: (c) => c.detail || "" },
    ], collectorRows, { empty: d.collectors.hint || "no collectors have reported" }),
    el("h2", { text: "GPUs" }),
    d.gpus.length ? IS.table([
      { title: "GPU", render: (g) => g.gpu + (g.name ? " · " + g.name : "") },
      { title: "Upstream", render: (g) => g.upstream || "this host" },
      { title: "Utilisation", key: "utilization_ratio", unit: "ratio", num: true },
      { title: "Memory", render: (g) => IS.fmt(g.memory_used_bytes, "bytes") + " / " + IS.fmt(g.memory_total_bytes, "bytes"), num: true },
      { title: "Power", key: "power_watts", unit: "watts", num: true },
      { title: "Temp.", key: "temperature_celsius", unit: "celsius", num: true },
    ], d.gpus) : null,
    IS.charts(byKey(["gpu_utilization", "gpu_memory", "gpu_power", "gpu_temperature"])),
    el("h2", { text: "Serving engines" }),
    IS.charts(byKey(["kv_cache", "engine_requests"])),
    el("h2", { text: "Host" }),
    IS.charts(byKey(["host_cpu", "host_memory", "host_disk"])),
  ];
});
