// infersight dashboard: shared helpers. Pages draw what the API computed; no judgement here.
"use strict";

const IS = (() => {
  const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"];
  const PALETTE = ["#2f6fdb", "#e07b39", "#1f9d55", "#d64545", "#8e5bd0", "#17a2b8",
    "#b7791f", "#e05297", "#5c7cfa", "#6b8e23"];
  const params = () => new URLSearchParams(window.location.search);
  let timer = null;
  let charts = [];
  let pending = [];  // charts to draw once their boxes are in the document

  function stored(key, fallback) {
    try { return localStorage.getItem("infersight." + key) || fallback; } catch (e) { return fallback; }
  }
  function store(key, value) {
    try { localStorage.setItem("infersight." + key, value); } catch (e) { /* private mode */ }
  }
  function range() {
    const r = params().get("range") || stored("range", "1h");
    return RANGES.includes(r) ? r : "1h";
  }

  // -- DOM ------------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // -- numbers --------------------------------------------------------------------------------
  function num(v, digits) {
    const a = Math.abs(v);
    const d = digits !== undefined ? digits : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
    return v.toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: 0 });
  }
  function money(v) {
    return v.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function bytes(v) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return num(v, i ? 1 : 0) + " " + units[i];
  }
  function fmt(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    switch (unit) {
      case "seconds": return Math.abs(v) < 1 ? num(v * 1000, Math.abs(v) < 0.01 ? 2 : 0) + " ms" : num(v, 2) + " s";
      case "ratio": return num(v * 100, Math.abs(v) < 0.1 ? 2 : 1) + " %";
      case "per_s": return num(v) + "/s";
      case "tokens_per_s": return num(v) + " tok/s";
      case "bytes": return bytes(v);
      case "watts": return num(v, 0) + " W";
      case "celsius": return num(v, 0) + " °C";
      case "usd": return "$" + money(v);
      case "usd_per_hour": return "$" + money(v) + "/h";
      case "count": return num(v, Number.isInteger(v) ? 0 : 1);
      default: return num(v);
    }
  }
  function time(ts) {
    if (ts === null || ts === undefined) return "—";
    return new Date(ts * 1000).toLocaleString(undefined, { hour12: false });
  }

  // -- API ------------------------------------------------------------------------------------
  async function api(path, query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== null && v !== undefined && v !== "") q.set(k, v);
    }
    const url = "/api/v1" + path + (q.toString() ? "?" + q : "");
    const resp = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
    if (resp.status === 401) {
      window.location = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("sign-in needed");
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) {
      const msg = body && body.error ? body.error.message : resp.status + " " + resp.statusText;
      const err = new Error(msg);
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  // -- building blocks ------------------------------------------------------------------------
  function tiles(list) {
    return el("div", { class: "tiles" }, list.map((t) =>
      el("div", { class: "tile " + t.state, "data-key": t.key, "data-state": t.state },
        el("div", { class: "title", text: t.title }),
        el("div", { class: "value", text: fmt(t.value, t.unit) }),
        el("div", { class: "detail", text: t.detail || "" }))));
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function chartPanel(panel) {
    const box = el("div", { class: "chart-panel", "data-key": panel.key },
      el("h3", { text: panel.title }),
      panel.description ? el("div", { class: "desc", text: panel.description }) : null);
    const area = el("div", { class: "chart" });
    box.append(area);
    if (panel.hint || !panel.t.length) {
      area.replaceWith(el("div", { class: "chart-empty", text: panel.hint || "no data in this time range" }));
      return box;
    }
    if (typeof uPlot === "undefined") {
      area.replaceWith(el("div", { class: "chart-empty", text: "chart library missing: run make" }));
      return box;
    }
    pending.push({ area, panel });  // drawn by render() once in the document (needs a width)
    return box;
  }

  function drawPending() {
    const todo = pending;
    pending = [];
    const widths = todo.map((p) => Math.max(p.area.clientWidth, 300));  // one layout pass
    todo.forEach((p, i) => draw(p.area, p.panel, widths[i]));
  }

  // x: the panel's x_range (the selected time range: every chart of a page spans the same
  // range, whatever part of it has data); without one, the data's span (one point: +-1 min).
  function xRange(panel) {
    const xr = panel.x_range;
    if (xr) return () => [xr[0], xr[1]];
    return (u, min, max) => (min === max ? [min - 60, max + 60] : [min, max]);
  }

  // y: non-negative data starts at 0; a ratio up to >= 50 % spans 0-100 %; a single point or a
  // constant series gets room above it instead of a range of its float noise.
  function yRange(unit) {
    return (u, min, max) => {
      if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
      if (min >= 0) {
        if (max <= 0) return [0, 1];
        if (unit === "ratio" && max >= 0.5) return [0, Math.max(1, max)];
        return [0, max * 1.15];
      }
      const pad = (max - min) * 0.1 || Math.abs(max) * 0.15 || 1;
      return [min - pad, max > 0 ? max + pad : Math.min(0, max + pad)];
    };
  }

  // markers where a line segment cannot show a value: a line with fewer than 3 values, or a
  // value between two gaps (one bucket alone draws no line)
  function needsPoints(values) {
    let n = 0;
    for (let i = 0; i < values.length; i += 1) {
      if (values[i] === null || values[i] === undefined) continue;
      n += 1;
      const before = i > 0 && values[i - 1] !== null && values[i - 1] !== undefined;
      const after = i < values.length - 1 && values[i + 1] !== null && values[i + 1] !== undefined;
      if (!before && !after) return true;
    }
    return n < 3;
  }

  function draw(area, panel, width) {
    const fg = cssVar("--muted");
    const grid = cssVar("--grid");
    const opts = {
      width, height: 220,
      // room on the right for the last time label ("12:00am" overhangs its tick)
      padding: [null, 28, null, null],
      scales: { x: { time: true, range: xRange(panel) }, y: { range: yRange(panel.unit) } },
      series: [{ value: (u, v) => time(v) }].concat(panel.lines.map((line, i) => ({
        label: line.label,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.6,
        value: (u, v) => fmt(v, panel.unit),
        spanGaps: Boolean(panel.sparse),
        points: { show: Boolean(panel.sparse) || needsPoints(line.values), size: 6,
          fill: PALETTE[i % PALETTE.length] },
      }))),
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, space: 80 },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid },
          values: (u, vals) => vals.map((v) => fmt(v, panel.unit)),
          size: (u, values) => 16 + 7 * Math.max(4, ...(values || []).map((v) => String(v).length)) },
      ],
      cursor: { points: { size: 6 } },
      legend: { live: true },
    };
    const data = [panel.t].concat(panel.lines.map((l) => l.values));
    const chart = new uPlot(opts, data, area);
    area.dataset.drawn = "1";
    charts.push({ chart, area, key: panel.key });
  }

  // how far the time labels under a chart reach, in CSS px from the chart's left edge:
  // [leftmost, rightmost], or null without labels (labels are centred on their ticks)
  function timeLabelSpan(chart) {
    const axis = chart.axes[0];
    const ticks = axis._splits || [];
    if (!ticks.length) return null;
    const ratio = uPlot.pxRatio;
    const ctx = chart.ctx;
    ctx.save();
    ctx.font = axis.font[0];
    let lo = Infinity;
    let hi = -Infinity;
    ticks.forEach((v, i) => {
      const lines = String(axis._values[i] ?? "").split("\n");
      const half = Math.max(...lines.map((t) => ctx.measureText(t).width)) / ratio / 2;
      const x = chart.bbox.left / ratio + chart.valToPos(v, "x");
      lo = Math.min(lo, x - half);
      hi = Math.max(hi, x + half);
    });
    ctx.restore();
    return [lo, hi];
  }

  // what each drawn chart shows, by panel key (for tests and the console): scale ranges,
  // which lines show markers, the chart's width and the reach of its time labels
  function drawn() {
    const out = {};
    for (const { chart, key } of charts) {
      out[key] = {
        x: [chart.scales.x.min, chart.scales.x.max],
        y: [chart.scales.y.min, chart.scales.y.max],
        points: chart.series.slice(1).map((s) => Boolean(typeof s.points.show === "function"
          ? s.points.show(chart, chart.series.indexOf(s)) : s.points.show)),
        labels: chart.series.slice(1).map((s) => s.label),
        width: chart.width,
        timeLabels: timeLabelSpan(chart),
      };
    }
    return out;
  }

  function charts_(panels) {
    return el("div", { class: "charts" }, panels.map(chartPanel));
  }

  function table(columns, rows, opts) {
    const o = opts || {};
    if (!rows.length) return el("div", { class: "box muted", text: o.empty || "nothing to show" });
    const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : "", text: c.title })));
    const body = rows.map((r) => {
      const tr = el("tr", { class: o.onclick ? "clickable" : "" },
        columns.map((c) => {
          const v = c.render ? c.render(r) : fmt(r[c.key], c.unit);
          return el("td", { class: c.num ? "num" : "" }, v instanceof Node ? v : String(v));
        }));
      if (o.onclick) tr.addEventListener("click", () => o.onclick(r));
      return tr;
    });
    return el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
  }

  function pill(text, cls) {
    return el("span", { class: "pill " + String(cls || text).toLowerCase(), text });
  }

  function emptyBox(empty) {
    return el("div", { class: "box empty warn", "data-empty": "1" },
      el("h2", { text: empty.title }), el("p", { text: empty.text }),
      (empty.commands || []).map((c) => el("pre", { text: c })));
  }

  function message(text, cls) {
    return el("div", { class: "box " + (cls || "muted"), text });
  }

  // -- page lifecycle -------------------------------------------------------------------------
  async function render(page) {
    const main = document.getElementById("main");
    const y = window.scrollY;
    document.body.dataset.ready = "";
    for (const c of charts) c.chart.destroy();
    charts = [];
    try {
      pending = [];
      const content = await page({ range: range(), params: params() });
      // a page leaves out a part with null (no GPUs: no GPU table), as el() children do
      main.replaceChildren(...[].concat(content).filter((c) => c !== null && c !== undefined && c !== false));
      drawPending();
      document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString(undefined, { hour12: false });
    } catch (err) {
      main.replaceChildren(el("div", { class: "box error", role: "alert" },
        el("strong", { text: "Could not load this page: " }), String(err.message || err)));
    }
    window.scrollTo(0, y);
    await new Promise((r) => requestAnimationFrame(r));  // painted
    document.body.dataset.ready = "1";
  }

  function setQuery(updates) {
    const p = params();
    for (const [k, v] of Object.entries(updates)) {
      if (v === null || v === undefined || v === "") p.delete(k); else p.set(k, v);
    }
    const q = p.toString();
    history.replaceState(null, "", location.pathname + (q ? "?" + q : ""));
  }

  function start(page) {
    const rangeSel = document.getElementById("range");
    const refreshSel = document.getElementById("refresh");
    rangeSel.value = range();
    refreshSel.value = stored("refresh", "0");
    rangeSel.addEventListener("change", () => {
      store("range", rangeSel.value);
      setQuery({ range: rangeSel.value });
      render(page);
    });
    const schedule = () => {
      if (timer) clearInterval(timer);
      const s = Number(refreshSel.value);
      timer = s > 0 ? setInterval(() => render(page), s * 1000) : null;
    };
    refreshSel.addEventListener("change", () => { store("refresh", refreshSel.value); schedule(); });
    document.getElementById("theme").addEventListener("click", () => {
      const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      store("theme", next);
      render(page);
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const c of charts) c.chart.setSize({ width: Math.max(c.area.clientWidth, 300), height: 220 });
      }, 150);
    });
    schedule();
    render(page);
  }

  return { el, fmt, time, api, tiles, charts: charts_, chartPanel, drawPending, table, pill, emptyBox,
    message, start, render, setQuery, params, range, drawn };
})();
