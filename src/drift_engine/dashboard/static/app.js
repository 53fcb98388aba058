/* drift-engine dashboard: everything on the page comes from the JSON API. */
"use strict";

(function () {
  const TOKEN_KEY = "drift-engine.dashboard.token";
  const enginesEl = document.getElementById("engines");
  const charts = new Map(); // engine id -> {plot, vaultId}
  let refreshing = false;
  let refreshAgain = false;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "style") node.style.cssText = v; // CSSOM: allowed by the page's CSP
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }

  function showMessage(text, isError) {
    const m = document.getElementById("message");
    if (!text) { m.hidden = true; return; }
    m.hidden = false;
    m.textContent = text;
    m.className = "message" + (isError ? " error" : "");
  }

  // ---- formatting (money arrives as exact decimal strings; format without floats) ----
  function groupDigits(intPart) {
    return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  // Round a decimal string half-up to `places` digits, digit by digit (no float).
  function roundDec(str, places) {
    const s = String(str);
    const neg = s.startsWith("-");
    const [w, f = ""] = (neg ? s.slice(1) : s).split(".");
    const width = Math.max(f.length, places) + 1;
    const digits = (w + f.padEnd(width, "0")).split("").map(Number);
    const cut = w.length + places;
    if (digits[cut] >= 5) {
      let i = cut - 1;
      while (i >= 0) { if (digits[i] === 9) { digits[i] = 0; i--; } else { digits[i]++; break; } }
      if (i < 0) digits.unshift(1);
    }
    const wl = digits.length - width;
    const whole = digits.slice(0, wl).join("").replace(/^0+(?=\d)/, "") || "0";
    const frac = digits.slice(wl, wl + places).join("");
    const isZero = /^0*$/.test(whole + frac);
    return { neg: neg && !isZero, whole, frac };
  }
  function fmtUsd(m, places) {
    if (!m) return "—";
    const r = roundDec(m.usdc, places === undefined ? 2 : places);
    return (r.neg ? "-" : "") + "$" + groupDigits(r.whole) + (r.frac ? "." + r.frac : "");
  }
  // Prices and sizes (exact decimal strings from the API) for display.
  function fmtDec(str, places) {
    if (str === null || str === undefined) return "—";
    const r = roundDec(str, places);
    return (r.neg ? "-" : "") + groupDigits(r.whole) + (r.frac ? "." + r.frac : "");
  }
  function priceDecimals(str) {
    const whole = String(str).replace("-", "").split(".")[0];
    return whole.length >= 4 ? 2 : whole === "0" ? 6 : 4;
  }
  function fmtPrice(str) {
    return str === null || str === undefined ? "—" : fmtDec(str, priceDecimals(str));
  }
  function signClass(m) {
    if (!m) return "";
    if (m.micro > 0) return "pos";
    if (m.micro < 0) return "neg";
    return "";
  }
  function fmtNum(x, places) {
    if (x === null || x === undefined) return "—";
    return Number(x).toFixed(places === undefined ? 2 : places);
  }
  function fmtPct(x, places) {
    if (x === null || x === undefined) return "—";
    return Number(x).toFixed(places === undefined ? 2 : places) + "%";
  }
  function fmtAge(s) {
    if (s === null || s === undefined) return "never";
    if (s < 1) return "just now";
    if (s < 120) return Math.round(s) + "s ago";
    if (s < 7200) return Math.round(s / 60) + "m ago";
    return Math.round(s / 3600) + "h ago";
  }

  function gauge(health) {
    const level = health === null || health === undefined ? "none"
      : health >= 50 ? "good" : health >= 20 ? "warn" : "bad";
    const width = health === null || health === undefined ? 0 : Math.max(0, Math.min(100, health));
    return el("span", { class: "gauge", "data-level": level, title: "Drift health (0-100)" },
      el("span", { class: "track" }, el("span", { class: "fill", style: "width:" + width + "%" })),
      el("span", { class: "gauge-value" }, health === null || health === undefined ? "—" : health + "%"));
  }

  // ---- header ----
  async function refreshHealth() {
    const h = await getJSON("/api/health");
    const hb = document.getElementById("heartbeat");
    hb.dataset.status = h.status;
    const label = { ok: "heartbeat", stale: "heartbeat STALE", no_heartbeat: "no heartbeat yet", db_error: "database error" }[h.status] || h.status;
    document.getElementById("heartbeat-text").textContent =
      label + (h.heartbeat_at ? " · " + fmtAge(h.heartbeat_age_seconds) : "") +
      " · " + h.engines_running + " engine" + (h.engines_running === 1 ? "" : "s") + " running";
    return h;
  }

  // ---- engines ----
  function vaultTable(engine, vaults) {
    const rows = vaults.map((v) => el("tr", {
      class: v.active ? "vault-row active-vault" : "vault-row", "data-vault-id": v.id,
    },
      el("td", {}, el("span", { class: "vault-name" }, v.name || v.id),
        v.active ? el("span", { class: "badge-active", title: "This vault powers " + engine.name + " now" }, "⚡ ACTIVE") : null,
        v.stale ? el("span", { class: "badge-stale", title: "Chain read failing since " + v.stale_since + ": " + (v.stale_reason || "") + ". Figures are as of the last good sync." }, "STALE") : null),
      el("td", {}, el("span", { class: "vtype " + v.type }, v.type)),
      el("td", { class: "num" }, fmtUsd(v.balance)),
      el("td", { class: "num" }, fmtUsd(v.equity)),
      el("td", { class: "num " + signClass(v.pnl) }, fmtUsd(v.pnl)),
      el("td", { class: "num " + signClass(v.funding) }, fmtUsd(v.funding, 4)),
      el("td", { class: "num" }, fmtUsd(v.fees, 4)),
      el("td", {}, gauge(v.health)),
    ));
    return el("table", { class: "data vault-table", "data-engine-id": engine.id, "aria-label": "Vaults of " + engine.name },
      el("thead", {}, el("tr", {},
        el("th", {}, "Vault"), el("th", {}, "Type"), el("th", { class: "num" }, "Balance"),
        el("th", { class: "num" }, "Equity"), el("th", { class: "num" }, "PnL"),
        el("th", { class: "num" }, "Funding"), el("th", { class: "num" }, "Fees"), el("th", {}, "Health"))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 8, class: "empty" }, "no vault"))));
  }

  function positionsTable(detail) {
    const rows = detail.positions.map((p) => el("tr", {},
      el("td", {}, p.market), el("td", {}, p.side),
      el("td", { class: "num", title: p.size }, fmtDec(p.size, 4)),
      el("td", { class: "num" }, fmtPrice(p.entry_price)),
      el("td", { class: "num" }, fmtPrice(p.oracle_price)),
      el("td", { class: "num" }, fmtUsd(p.notional)),
      el("td", { class: "num " + signClass(p.unrealized_pnl) }, fmtUsd(p.unrealized_pnl)),
    ));
    return el("table", { class: "data positions-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Market"), el("th", {}, "Side"), el("th", { class: "num" }, "Size"),
        el("th", { class: "num" }, "Entry"), el("th", { class: "num" }, "Oracle"), el("th", { class: "num" }, "Notional"),
        el("th", { class: "num" }, "uPnL"))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 7, class: "empty" }, "flat — no open positions"))));
  }

  function riskPanel(detail) {
    const m = detail.margin || {};
    const limits = detail.risk_limits || {};
    const items = [
      ["Health", gauge(m.health)],
      ["Leverage", m.leverage === null || m.leverage === undefined ? "—" : fmtNum(m.leverage) + "×"],
      ["Liq. distance", fmtPct(m.liquidation_distance_pct)],
    ];
    if (m.total_collateral) items.push(["Collateral", fmtUsd(m.total_collateral)]);
    if (m.free_collateral) items.push(["Free collateral", fmtUsd(m.free_collateral)]);
    for (const [k, v] of Object.entries(limits)) items.push([k.replace(/_/g, " "), String(v)]);
    const o = detail.orders || {};
    if (o.working || o.blocked) {
      items.push(["Working orders", el("span", {}, String(o.working || 0),
        o.blocked ? el("span", { class: "badge-stale", title: "An order's send outcome is not known yet: no new exposure until the chain resolves it." }, " BLOCKED") : null)]);
    }
    const u = detail.unhedged;
    if (u) {
      // base is BASE 1e9 (display only); notional is Money
      const size = (u.base / 1e9).toFixed(4);
      items.push(["Unhedged", el("span", { class: "badge-stale unhedged", title: "One leg filled without the other since " + u.since + (u.action ? "; the strategy will " + u.action + " it" : "") + "." },
        size + " " + u.market + " · " + fmtUsd(u.notional) + (u.action ? " · " + u.action : ""))]);
    }
    return el("div", { class: "risk" }, el("dl", {}, items.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
  }

  function controls(engine) {
    const mk = (action, label, cls) => el("button", {
      type: "button", class: cls || "", "data-action": action,
      onclick: () => control(engine, action),
    }, label);
    return el("div", { class: "controls" },
      mk("start", "Start"), mk("pause", "Pause"), mk("stop", "Stop"), mk("kill", "Kill", "kill"));
  }

  async function control(engine, action) {
    if (action === "kill" && !window.confirm("Kill " + engine.name + "? This cancels orders and flattens.")) return;
    let token = localStorage.getItem(TOKEN_KEY);
    if (!token) token = askToken();
    if (!token) return;
    const r = await fetch("/api/engines/" + encodeURIComponent(engine.id) + "/" + action, {
      method: "POST", headers: { Authorization: "Bearer " + token },
    });
    if (r.status === 401) { localStorage.removeItem(TOKEN_KEY); showMessage("Control refused: bad or missing token.", true); return; }
    if (!r.ok) { const b = await r.json().catch(() => ({})); showMessage(action + " failed: " + (b.detail || r.status), true); return; }
    showMessage("");
    scheduleRefresh();
  }

  function askToken() {
    const t = window.prompt("Dashboard control token (from the drift-engine config):");
    if (t) localStorage.setItem(TOKEN_KEY, t.trim());
    return t ? t.trim() : null;
  }

  function engineCard(engine) {
    const card = el("article", { class: "engine", "data-engine-id": engine.id });
    card.append(
      el("header", {}, el("h2", { class: "engine-name" }, engine.name), el("span", { class: "pill state" }),
        el("span", { class: "pill mode" }), el("span", { class: "muted strategy" })),
      el("div", { class: "vaults" }),
      el("div", { class: "engine-grid" },
        el("div", {}, el("h3", {}, "Positions"), el("div", { class: "positions" })),
        el("div", {}, el("h3", {}, "Equity and cumulative funding"), el("div", { class: "chart" })),
        el("div", {}, el("h3", {}, "Risk"), el("div", { class: "risk-slot" }), controls(engine))));
    return card;
  }

  function updateCard(card, engine, vaults, detail) {
    const state = card.querySelector(".pill.state");
    state.textContent = engine.state;
    state.className = "pill state state-" + engine.state;
    card.querySelector(".pill.mode").textContent = engine.mode;
    card.querySelector(".strategy").textContent = engine.strategy + (engine.market ? " · " + engine.market : "");
    card.querySelector(".vaults").replaceChildren(vaultTable(engine, vaults));
    if (detail) {
      card.querySelector(".positions").replaceChildren(positionsTable(detail));
      card.querySelector(".risk-slot").replaceChildren(riskPanel(detail));
    }
  }

  async function updateChart(card, engine) {
    const vaultId = engine.active_vault_id;
    const slot = card.querySelector(".chart");
    if (!vaultId || typeof uPlot === "undefined") return;
    const series = await getJSON("/api/vaults/" + encodeURIComponent(vaultId) + "/snapshots");
    const xs = [], eq = [], fund = [];
    for (const s of series.snapshots) {
      xs.push(Date.parse(s.at) / 1000);
      eq.push(Number(s.equity.usdc));       // display only
      fund.push(Number(s.funding_cumulative.usdc));
    }
    const data = [xs, eq, fund];
    let entry = charts.get(engine.id);
    if (entry && entry.vaultId === vaultId && entry.slot === slot) {
      entry.plot.setData(data);
      return;
    }
    if (entry) entry.plot.destroy();
    slot.replaceChildren();
    const width = Math.max(300, slot.clientWidth || 480);
    const plot = new uPlot({
      width, height: 200,
      series: [
        {},
        { label: "Equity $", stroke: "#7aa2ff", width: 2, scale: "eq" },
        { label: "Cum. funding $", stroke: "#2ecc71", width: 2, scale: "fund" },
      ],
      axes: [
        { stroke: "#8a96ad", grid: { stroke: "#2a3449" } },
        { scale: "eq", stroke: "#8a96ad", grid: { stroke: "#2a3449" }, size: 70 },
        { scale: "fund", side: 1, stroke: "#2ecc71", grid: { show: false }, size: 60 },
      ],
      scales: {
        x: { time: true },
        // a flat series (e.g. no funding yet) gets a small band around it, not 0..100
        fund: { range: (u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) },
      },
      legend: { live: false },
    }, data, slot);
    charts.set(engine.id, { plot, vaultId, slot });
  }

  async function refreshEngines() {
    const [engines, vaults] = await Promise.all([getJSON("/api/engines"), getJSON("/api/vaults")]);
    const active = engines.filter((e) => e.active);
    const keep = new Set(active.map((e) => e.id));
    for (const card of Array.from(enginesEl.querySelectorAll("article.engine"))) {
      if (!keep.has(card.dataset.engineId)) {
        const c = charts.get(card.dataset.engineId);
        if (c) { c.plot.destroy(); charts.delete(card.dataset.engineId); }
        card.remove();
      }
    }
    document.getElementById("no-engines").hidden = active.length > 0;
    const details = await Promise.all(active.map((e) =>
      getJSON("/api/engines/" + encodeURIComponent(e.id)).catch(() => null)));
    active.forEach((engine, i) => {
      let card = enginesEl.querySelector('article.engine[data-engine-id="' + CSS.escape(engine.id) + '"]');
      if (!card) { card = engineCard(engine); enginesEl.append(card); }
      const own = vaults.filter((v) => v.engine_id === engine.id);
      updateCard(card, engine, own, details[i]);
      updateChart(card, engine).catch((err) => console.warn(err));
    });
  }

  async function refreshMarkets() {
    const markets = await getJSON("/api/markets");
    const rows = markets.map((m) => el("tr", { "data-market": m.symbol },
      el("td", {}, m.symbol), el("td", { class: "num" }, fmtPrice(m.oracle_price)),
      el("td", { class: "num" }, m.funding_rate_hourly || "—"),
      el("td", { class: "num " + (m.funding_apr > 0 ? "pos" : m.funding_apr < 0 ? "neg" : "") }, fmtPct(m.funding_apr)),
      el("td", { class: "num" }, fmtPct(m.funding_apr_24h)), el("td", { class: "num" }, fmtPct(m.funding_apr_7d)),
      el("td", { class: "num" }, fmtPct(m.spot_deposit_apr) + " / " + fmtPct(m.spot_borrow_apr))));
    document.querySelector("#markets-table tbody").replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "no market data yet"))]));
  }

  async function refresh() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    try {
      await Promise.all([refreshHealth(), refreshEngines(), refreshMarkets()]);
      document.body.dataset.loaded = "1";
    } catch (err) {
      showMessage("Could not load: " + err.message, true);
    } finally {
      refreshing = false;
      if (refreshAgain) { refreshAgain = false; refresh(); }
    }
  }
  function scheduleRefresh() { refresh(); }

  function connectStream() {
    const status = document.getElementById("stream-status");
    const es = new EventSource("/api/stream");
    es.addEventListener("open", () => { status.textContent = "live"; });
    es.addEventListener("heartbeat", scheduleRefresh);
    es.addEventListener("change", scheduleRefresh);
    es.addEventListener("error", () => { status.textContent = "live: reconnecting"; });
  }

  window.addEventListener("resize", () => {
    for (const { plot, slot } of charts.values()) {
      plot.setSize({ width: Math.max(300, slot.clientWidth), height: 200 });
    }
  });
  document.getElementById("token-button").addEventListener("click", askToken);
  refresh();
  connectStream();
  // keeps the "Ns ago" label honest between heartbeats
  setInterval(() => refreshHealth().catch(() => {}), 5000);
})();
