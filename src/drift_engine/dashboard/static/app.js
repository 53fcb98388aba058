/* drift-engine dashboard: everything on the page comes from the JSON API. */
"use strict";

(function () {
  const F = window.Fmt;
  const TOKEN_KEY = "drift-engine.dashboard.token";
  const CHART_EVERY_MS = 3000;
  const ACTIVITY_EVERY_MS = 3000;
  const ACTIONS = [["start", "Start"], ["pause", "Pause"], ["stop", "Stop"], ["kill", "Kill"]];
  const CATEGORY_NAMES = {
    decision: "Decisions", fill: "Fills", funding: "Funding", risk: "Risk",
    operator: "Operator", state: "State", error: "Errors", capital: "Capital",
  };
  const enginesEl = document.getElementById("engines");
  const cards = new Map(); // engine id -> card state
  const page = { controls: false, controlsReason: "", engines: [], fetchedAt: Date.now() };
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

  function showMessage(text) {
    const m = document.getElementById("message");
    m.hidden = !text;
    m.textContent = text || "";
  }

  let toastTimer = null;
  function toast(text, isError) {
    const t = document.getElementById("toast");
    t.hidden = false;
    t.textContent = text;
    t.className = "toast" + (isError ? " error" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, isError ? 15000 : 8000);
  }

  function gauge(health) {
    const known = health !== null && health !== undefined;
    const level = !known ? "none" : health >= 50 ? "good" : health >= 20 ? "warn" : "bad";
    const width = known ? Math.max(0, Math.min(100, health)) : 0;
    return el("span", { class: "gauge", "data-level": level },
      el("span", { class: "track", "aria-hidden": "true" }, el("span", { class: "fill", style: "width:" + width + "%" })),
      el("span", { class: "gauge-value" }, known ? String(health) : "—"));
  }

  // ---- header: banner, heartbeat, counts, control mode ----
  function renderRun(run) {
    document.getElementById("banner").textContent = run.banner;
    document.getElementById("banner").dataset.replay = run.replay;
    page.controls = run.controls_enabled;
    page.controlsReason = run.controls_reason;
    const mode = document.getElementById("control-mode");
    mode.dataset.mode = run.controls_enabled ? "on" : "off";
    document.getElementById("control-mode-text").textContent = run.controls_enabled
      ? "Controls on" + (localStorage.getItem(TOKEN_KEY) ? " (token saved in this browser)" : ": enter the control token to act")
      : run.controls_reason;
    document.getElementById("token-form").hidden = !run.controls_enabled;
  }

  function renderHealth(h) {
    const hb = document.getElementById("heartbeat");
    hb.dataset.status = h.status;
    const label = { ok: "heartbeat", stale: "heartbeat STALE", no_heartbeat: "no heartbeat yet", db_error: "database error" }[h.status] || h.status;
    document.getElementById("heartbeat-text").textContent =
      label + (h.heartbeat_at ? " · " + F.age(h.heartbeat_age_seconds) : "");
    document.getElementById("counts").textContent = h.engines_total ? h.engine_summary : "no engines yet";
  }

  // ---- one engine card ----
  function kpiBox(name, cls) {
    return el("div", { class: "kpi " + cls }, el("span", { class: "kpi-label" }, name),
      el("span", { class: "kpi-value" }, "—"));
  }

  function makeCard(engine) {
    const id = engine.id;
    const card = el("article", { class: "engine", "data-engine-id": id, "aria-labelledby": "name-" + id });
    const tabs = el("div", { class: "tabs", role: "tablist", "aria-label": "Details of " + engine.name });
    const panels = {};
    const tabButtons = {};
    for (const [key, label] of [["activity", "Activity"], ["ledger", "Ledger"]]) {
      const b = el("button", {
        type: "button", role: "tab", id: "tab-" + key + "-" + id, class: "tab",
        "aria-controls": "panel-" + key + "-" + id, "aria-selected": key === "activity" ? "true" : "false",
        "data-tab": key, onclick: () => selectTab(state, key),
      }, label);
      tabButtons[key] = b;
      tabs.append(b);
      panels[key] = el("div", {
        role: "tabpanel", id: "panel-" + key + "-" + id, class: "tab-panel " + key + "-panel",
        "aria-labelledby": "tab-" + key + "-" + id, hidden: key !== "activity",
      });
    }
    const filters = el("fieldset", { class: "filters" }, el("legend", {}, "Show"));
    const state = {
      card, id, name: engine.name, tab: "activity", tabButtons, panels, filters,
      categories: new Set(Object.keys(CATEGORY_NAMES)), chart: null, chartAt: 0, activityAt: 0,
      ledgerVault: null, ledgerBefore: [], timeline: null,
    };
    for (const [key, label] of Object.entries(CATEGORY_NAMES)) {
      const input = el("input", { type: "checkbox", id: "f-" + key + "-" + id, checked: true,
        onchange: (ev) => { ev.target.checked ? state.categories.add(key) : state.categories.delete(key); state.activityAt = 0; loadActivity(state); } });
      filters.append(el("span", { class: "filter" }, input, el("label", { for: "f-" + key + "-" + id }, label)));
    }
    panels.activity.append(filters, el("ol", { class: "activity-list", tabindex: "0", "aria-label": "Activity of " + engine.name }));
    panels.ledger.append(
      el("div", { class: "ledger-bar" },
        el("label", { for: "lv-" + id }, "Vault "),
        el("select", { id: "lv-" + id, class: "ledger-vault", onchange: (ev) => { state.ledgerVault = ev.target.value; state.ledgerBefore = []; loadLedger(state); } }),
        el("button", { type: "button", class: "small ledger-newer", onclick: () => { state.ledgerBefore.pop(); loadLedger(state); } }, "Newer"),
        el("button", { type: "button", class: "small ledger-older", onclick: () => { if (state.nextBefore) { state.ledgerBefore.push(state.nextBefore); loadLedger(state); } } }, "Older")),
      el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Ledger of " + engine.name + " (scrolls sideways)" },
        el("table", { class: "data ledger-table" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "#"), el("th", { scope: "col" }, "When (engine time)"), el("th", { scope: "col" }, "Kind"),
            el("th", { scope: "col", class: "num" }, "Amount"), el("th", { scope: "col", class: "num" }, "Fee"), el("th", { scope: "col", class: "num" }, "Net"), el("th", { scope: "col" }, "Memo"))),
          el("tbody", {}))));

    card.append(
      el("header", { class: "engine-head" },
        el("h2", { class: "engine-name", id: "name-" + id }, engine.name),
        el("span", { class: "pill state" }),
        el("span", { class: "liveness" }),
        el("span", { class: "pill mode" }),
        el("span", { class: "muted strategy" })),
      el("p", { class: "exposure-note", hidden: true }),
      el("div", { class: "kpis" }, kpiBox("Equity", "kpi-equity"), kpiBox("PnL", "kpi-pnl"),
        el("div", { class: "kpi kpi-health" }, el("span", { class: "kpi-label" }, "Health (0–100)"), el("span", { class: "kpi-value" }, "—"))),
      el("dl", { class: "kpis-more" }),
      el("div", { class: "controls", role: "group", "aria-label": "Controls of " + engine.name },
        ACTIONS.map(([action, label]) => el("button", {
          type: "button", class: "control" + (action === "kill" ? " kill" : ""), "data-action": action,
          "aria-label": label + " " + engine.name, disabled: true,
          onclick: () => control(state, action),
        }, label)),
        el("span", { class: "control-note muted" })),
      el("div", { class: "engine-grid" },
        el("section", { class: "positions-col", "aria-label": "Positions of " + engine.name },
          el("h3", {}, "Positions"), el("div", { class: "positions" })),
        el("section", { class: "chart-col", "aria-label": "Equity of " + engine.name },
          el("h3", {}, "Equity and cumulative funding"),
          el("figure", { class: "chart-figure" },
            el("div", { class: "chart", "aria-hidden": "true" }),
            el("figcaption", { class: "chart-caption" }, "no data yet"))),
        el("section", { class: "risk-col", "aria-label": "Risk of " + engine.name },
          el("h3", {}, "Risk limits"), el("div", { class: "risk-slot" }))),
      el("h3", {}, "Vaults"),
      el("div", { class: "vaults scroll", tabindex: "0", role: "region", "aria-label": "Vaults of " + engine.name + " (scrolls sideways)" }),
      tabs, panels.activity, panels.ledger);
    return state;
  }

  function selectTab(state, key) {
    state.tab = key;
    for (const [k, b] of Object.entries(state.tabButtons)) {
      b.setAttribute("aria-selected", k === key ? "true" : "false");
      state.panels[k].hidden = k !== key;
    }
    if (key === "ledger") loadLedger(state);
    else loadActivity(state);
  }

  function updateHeader(state, engine) {
    const c = state.card;
    const pill = c.querySelector(".pill.state");
    pill.textContent = engine.status;
    pill.className = "pill state state-" + engine.status.replace(/ /g, "_");
    c.classList.toggle("inactive", engine.state === "STOPPED" || engine.state === "HALTED" || engine.process !== "running");
    c.dataset.state = engine.state;
    c.dataset.process = engine.process;
    const live = c.querySelector(".liveness");
    live.textContent = engine.process === "running" ? "" : liveText(engine);
    live.dataset.process = engine.process;
    c.querySelector(".pill.mode").textContent = engine.mode;
    c.querySelector(".strategy").textContent = engine.strategy + (engine.market ? " · " + engine.market : "") +
      (engine.state !== engine.status && engine.state !== "STOPPED" ? " · last state " + engine.state : "");
    const note = c.querySelector(".exposure-note");
    const stoppedWithExposure = (engine.state === "STOPPED" || engine.state === "HALTED") && engine.holds_positions;
    note.hidden = !stoppedWithExposure;
    note.textContent = stoppedWithExposure ? engine.state + " with open positions: they stay open until closed (Kill flattens)." : "";
    for (const b of c.querySelectorAll("button.control")) {
      const action = b.dataset.action;
      const why = engine.actions ? engine.actions[action] : null;
      const reason = !page.controls ? page.controlsReason : why;
      b.disabled = Boolean(reason);
      b.title = reason ? "Not available: " + reason : b.getAttribute("aria-label");
    }
    c.querySelector(".control-note").textContent = engine.pending_command
      ? "queued: " + engine.pending_command + (engine.process === "running" ? " (applies next tick)" : " (waits for a running process)")
      : "";
  }

  function liveText(engine) {
    const extra = (Date.now() - page.fetchedAt) / 1000;
    const age = engine.last_tick_age_seconds === null ? null : engine.last_tick_age_seconds + extra;
    const ago = engine.last_tick_at ? "last tick " + F.age(age) : "no tick recorded";
    return (engine.process === "finished" ? "replay finished — " : "not running — ") + ago;
  }

  function setKpi(box, text, cls) {
    const v = box.querySelector(".kpi-value");
    v.textContent = text;
    v.className = "kpi-value " + (cls || "");
  }

  function updateDetail(state, detail) {
    const c = state.card;
    const k = detail.kpis;
    const active = detail.vaults.find((v) => v.active) || detail.vaults[0];
    setKpi(c.querySelector(".kpi-equity"), active ? F.usd(active.equity) : "—");
    setKpi(c.querySelector(".kpi-pnl"), k ? F.signedUsd(k.pnl) + (k.return_pct !== null ? " (" + (k.return_pct > 0 ? "+" : "") + F.pct(k.return_pct) + ")" : "") : "—", k ? F.signClass(k.pnl) : "");
    c.querySelector(".kpi-health .kpi-value").replaceChildren(gauge(detail.margin.health));
    const items = [];
    if (k) {
      items.push(["Net APR", k.net_apr_pct === null ? "—" : F.pct(k.net_apr_pct) + " over " + F.num(k.days, 1) + " d"]);
      const ddLimit = detail.limits.find((l) => l.key === "max_drawdown");
      items.push(["Drawdown", F.pct(k.drawdown_pct) + " (" + F.usd(k.drawdown_usd) + ")" + (ddLimit ? " of " + F.pct(ddLimit.limit, 0) + " limit" : "")]);
      items.push(["Time in market", F.pct(k.time_in_market_pct, 1)]);
      items.push(["Funding", F.signedUsd(k.funding)]);
      items.push(["Interest", F.signedUsd(k.interest)]);
      items.push(["Fees", F.usd(k.fees)]);
      items.push(["Cash", active ? F.usd(active.cash) : "—"]);
      items.push(["Capital in", F.usd(k.net_deposits)]);
    }
    c.querySelector(".kpis-more").replaceChildren(...items.map(([a, b]) => el("div", {}, el("dt", {}, a), el("dd", {}, b))));
    c.querySelector(".positions").replaceChildren(positionsView(detail));
    c.querySelector(".risk-slot").replaceChildren(riskView(detail));
    c.querySelector(".vaults").replaceChildren(vaultTable(detail));
    const select = c.querySelector(".ledger-vault");
    const ids = detail.vaults.map((v) => v.id).join(",");
    if (select.dataset.ids !== ids) {
      select.dataset.ids = ids;
      select.replaceChildren(...detail.vaults.map((v) => el("option", { value: v.id }, (v.name || v.id) + (v.active ? " ⚡ ACTIVE" : ""))));
      state.ledgerVault = (active || {}).id || null;
      if (state.ledgerVault) select.value = state.ledgerVault;
    }
  }

  function legRow(p) {
    return el("tr", { "data-market": p.market },
      el("th", { scope: "row" }, p.market), el("td", {}, p.side),
      el("td", { class: "num", title: p.size }, F.size(p.size)),
      el("td", { class: "num" }, F.price(p.entry_price)),
      el("td", { class: "num" }, F.price(p.oracle_price)),
      el("td", { class: "num" }, F.usd(p.notional)),
      el("td", { class: "num " + F.signClass(p.unrealized_pnl) }, F.signedUsd(p.unrealized_pnl)),
      el("td", { class: "num" }, p.liquidation_price ? F.price(p.liquidation_price) + (p.liquidation_distance_pct !== null ? " (" + F.pct(p.liquidation_distance_pct, 1) + " away)" : "") : "none"));
  }

  function legTable(legs, label) {
    return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label + " (scrolls sideways)" },
      el("table", { class: "data positions-table" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Leg"), el("th", { scope: "col" }, "Side"), el("th", { scope: "col", class: "num" }, "Size"),
          el("th", { scope: "col", class: "num" }, "Entry"), el("th", { scope: "col", class: "num" }, "Oracle"), el("th", { scope: "col", class: "num" }, "Notional"),
          el("th", { scope: "col", class: "num" }, "uPnL"), el("th", { scope: "col", class: "num" }, "Liq. price"))),
        el("tbody", {}, legs.map(legRow))));
  }

  function positionsView(detail) {
    const paired = new Set();
    const blocks = [];
    for (const pair of detail.pairs) {
      pair.legs.forEach((l) => paired.add(l.market_type + ":" + l.market_index));
      const fundingText = pair.funding_apr === null ? "funding APR unknown"
        : "funding APR " + F.pct(pair.funding_apr) + " (" + pair.funding_apr_window + ")" +
          (pair.entry_apr !== null ? " · enter above " + F.pct(pair.entry_apr) : "") +
          (pair.exit_apr !== null ? " · exit below " + F.pct(pair.exit_apr) : "");
      blocks.push(el("div", { class: "pair", "data-asset": pair.asset },
        el("p", { class: "pair-head" },
          el("strong", {}, pair.asset + " carry (hedged pair)"), " · ",
          el("span", { class: "net-delta" }, "net delta " + F.size(pair.net_delta) + " " + pair.asset + " (" + F.signedUsd(pair.net_delta_usd) + ")"), " · ",
          el("span", { class: "pair-upnl " + F.signClass(pair.unrealized_pnl) }, "combined uPnL " + F.signedUsd(pair.unrealized_pnl)), " · ",
          el("span", { class: "hedged" }, "hedged " + F.usd(pair.hedged_notional))),
        el("p", { class: "pair-funding muted" }, fundingText),
        legTable(pair.legs, pair.asset + " legs")));
    }
    const rest = detail.positions.filter((p) => !paired.has(p.market_type + ":" + p.market_index));
    if (rest.length) blocks.push(legTable(rest, "Other positions"));
    if (!blocks.length) blocks.push(el("p", { class: "empty" }, "flat — no open positions"));
    return el("div", {}, blocks);
  }

  function limitText(l) {
    const v = (x) => x === null || x === undefined ? "—"
      : l.unit === "pct" ? F.pct(x) : l.unit === "ratio" ? F.num(x) + "×" : l.unit === "health" ? F.num(x, 0) + " / 100" : "$" + F.num(x);
    let limit = v(l.limit);
    if (l.limit_usd && l.unit !== "usd") limit += " = " + F.usd(l.limit_usd);
    let now = v(l.current);
    if (l.current_usd) now += " = " + F.usd(l.current_usd);
    return { limit, now };
  }

  function riskView(detail) {
    const m = detail.margin || {};
    const rows = detail.limits.map((l) => {
      const t = limitText(l);
      return el("tr", { class: l.breached ? "breached" : "" },
        el("th", { scope: "row" }, l.label),
        el("td", { class: "num" }, t.limit),
        el("td", { class: "num" }, l.unit === "usd" ? "—" : t.now),
        el("td", { class: "muted" }, l.note));
    });
    return el("div", {},
      el("dl", { class: "margin" },
        el("div", {}, el("dt", {}, "Leverage"), el("dd", {}, m.leverage === null || m.leverage === undefined ? "—" : F.num(m.leverage) + "×")),
        el("div", {}, el("dt", {}, "Liq. distance"), el("dd", {}, F.pct(m.liquidation_distance_pct))),
        m.free_collateral ? el("div", {}, el("dt", {}, "Free collateral"), el("dd", {}, F.usd(m.free_collateral))) : null,
        ordersItem(detail.orders), unhedgedItem(detail.unhedged)),
      el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Risk limits of " + detail.name + " (scrolls sideways)" },
        el("table", { class: "data limits-table" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Limit"), el("th", { scope: "col", class: "num" }, "Set at"), el("th", { scope: "col", class: "num" }, "Now"), el("th", { scope: "col" }, "Means"))),
          el("tbody", {}, rows))));
  }

  // working orders, and BLOCKED while an order's send outcome is unknown (issue 11)
  function ordersItem(o) {
    if (!o || !(o.working || o.blocked)) return null;
    return el("div", {}, el("dt", {}, "Working orders"), el("dd", {}, String(o.working || 0),
      o.blocked ? el("span", { class: "badge-stale", title: "An order's send outcome is not known yet: no new exposure until the chain resolves it." }, " BLOCKED") : null));
  }

  // one leg filled without the other: size (BASE 1e9, display only) and notional
  function unhedgedItem(u) {
    if (!u) return null;
    const size = (u.base / 1e9).toFixed(4);
    return el("div", {}, el("dt", {}, "Unhedged"), el("dd", {}, el("span", {
      class: "badge-stale unhedged",
      title: "One leg filled without the other since " + u.since + (u.action ? "; the strategy will " + u.action + " it" : "") + ".",
    }, size + " " + u.market + " · " + F.usd(u.notional) + (u.action ? " · " + u.action : ""))));
  }

  function vaultTable(detail) {
    const rows = detail.vaults.map((v) => el("tr", {
      class: v.active ? "vault-row active-vault" : "vault-row", "data-vault-id": v.id,
    },
      el("th", { scope: "row" }, el("span", { class: "vault-name" }, v.name || v.id),
        v.active ? el("span", { class: "badge-active", title: "This vault powers " + detail.name + " now" }, "⚡ ACTIVE") : null,
        v.stale ? el("span", { class: "badge-stale", title: "Chain read failing since " + v.stale_since + ": " + (v.stale_reason || "") + ". Figures are as of the last good sync." }, "STALE") : null),
      el("td", {}, el("span", { class: "vtype " + v.type }, v.type)),
      el("td", { class: "num" }, F.usd(v.cash)),
      el("td", { class: "num" }, F.usd(v.equity)),
      el("td", { class: "num " + F.signClass(v.pnl) }, F.signedUsd(v.pnl)),
      el("td", { class: "num " + F.signClass(v.funding) }, F.signedUsd(v.funding, 4)),
      el("td", { class: "num" }, F.usd(v.fees, 4))));
    return el("table", { class: "data vault-table", "data-engine-id": detail.id, "aria-label": "Vaults of " + detail.name },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "Vault"), el("th", { scope: "col" }, "Type"), el("th", { scope: "col", class: "num" }, "Cash"),
        el("th", { scope: "col", class: "num" }, "Equity"), el("th", { scope: "col", class: "num" }, "PnL"),
        el("th", { scope: "col", class: "num" }, "Funding"), el("th", { scope: "col", class: "num" }, "Fees"))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 7, class: "empty" }, "no vault"))));
  }

  // ---- chart: equity and funding, entries/exits marked, in-market periods shaded ----
  function markerPlugin(state) {
    return {
      hooks: {
        drawClear: [(u) => {
          const t = state.timeline;
          if (!t) return;
          const { ctx } = u;
          const top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.fillStyle = "rgba(122, 162, 255, 0.12)";
          for (const span of t.in_market) {
            const x0 = u.valToPos(Date.parse(span.start) / 1000, "x", true);
            const x1 = u.valToPos(Date.parse(span.end) / 1000, "x", true);
            ctx.fillRect(Math.min(x0, x1), top, Math.max(2, Math.abs(x1 - x0)), height);
          }
          ctx.restore();
        }],
        draw: [(u) => {
          const t = state.timeline;
          if (!t) return;
          const { ctx } = u;
          ctx.save();
          for (const m of t.markers) {
            const x = u.valToPos(Date.parse(m.at) / 1000, "x", true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            const color = m.kind === "entry" ? "#2ecc71" : m.kind === "exit" ? "#f0b429" : m.kind === "halt" ? "#ff7b72" : "#a3aec4";
            ctx.strokeStyle = color;
            ctx.fillStyle = color;
            ctx.lineWidth = 1;
            ctx.setLineDash([3, 3]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.setLineDash([]);
            const y = u.bbox.top + 6;
            ctx.beginPath();
            if (m.kind === "entry") { ctx.moveTo(x, y - 6); ctx.lineTo(x - 6, y + 6); ctx.lineTo(x + 6, y + 6); }
            else { ctx.moveTo(x, y + 6); ctx.lineTo(x - 6, y - 6); ctx.lineTo(x + 6, y - 6); }
            ctx.closePath();
            ctx.fill();
          }
          ctx.restore();
        }],
      },
    };
  }

  function chartCaption(detail, series, timeline) {
    const pts = series.snapshots;
    if (!pts.length) return "No equity points yet.";
    const first = pts[0], last = pts[pts.length - 1];
    const n = (k) => timeline.markers.filter((m) => m.kind === k).length;
    const k = detail.kpis;
    return "Equity chart of " + detail.name + ": from " + F.usd(first.equity) + " on " + F.when(first.at) +
      " to " + F.usd(last.equity) + " on " + F.when(last.at) + "; funding booked " + F.signedUsd(last.funding_cumulative) +
      "; " + n("entry") + " entries, " + n("exit") + " exits" + (n("halt") ? ", " + n("halt") + " halts" : "") +
      (k && k.time_in_market_pct !== null ? "; in the market " + F.pct(k.time_in_market_pct, 1) + " of the time (shaded)" : "") + ".";
  }

  async function updateChart(state, detail) {
    const now = Date.now();
    if (now - state.chartAt < CHART_EVERY_MS || typeof uPlot === "undefined") return;
    state.chartAt = now;
    const timeline = await getJSON("/api/engines/" + encodeURIComponent(state.id) + "/timeline");
    state.timeline = timeline;
    const vaultId = timeline.vault_id;
    const slot = state.card.querySelector(".chart");
    if (!vaultId) return;
    const series = await getJSON("/api/vaults/" + encodeURIComponent(vaultId) + "/snapshots");
    const xs = [], eq = [], fund = [];
    for (const s of series.snapshots) {
      xs.push(Date.parse(s.at) / 1000);
      eq.push(Number(s.equity.usdc)); // display only
      fund.push(Number(s.funding_cumulative.usdc));
    }
    state.card.querySelector(".chart-caption").textContent = chartCaption(detail, series, timeline);
    const data = [xs, eq, fund];
    if (state.chart && state.chart.vaultId === vaultId) {
      state.chart.plot.setData(data);
      return;
    }
    if (state.chart) state.chart.plot.destroy();
    slot.replaceChildren();
    const width = Math.max(240, slot.clientWidth || 480);
    const money = (u, v) => v === null || v === undefined ? "—" : "$" + F.num(v);
    const plot = new uPlot({
      width, height: 200,
      series: [
        { value: (u, v) => v === null ? "—" : new Date(v * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC" },
        { label: "Equity", stroke: "#7aa2ff", width: 2, scale: "eq", value: money },
        { label: "Cum. funding", stroke: "#2ecc71", width: 2, scale: "fund", value: money },
      ],
      axes: [
        { stroke: "#a3aec4", grid: { stroke: "#2a3449" } },
        { scale: "eq", stroke: "#a3aec4", grid: { stroke: "#2a3449" }, size: 70 },
        { scale: "fund", side: 1, stroke: "#2ecc71", grid: { show: false }, size: 60 },
      ],
      scales: {
        x: { time: true },
        // a flat series (e.g. no funding yet) gets a small band around it, not 0..100
        fund: { range: (u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) },
      },
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      plugins: [markerPlugin(state)],
    }, data, slot);
    state.chart = { plot, vaultId };
  }

  // ---- activity and ledger ----
  async function loadActivity(state) {
    const now = Date.now();
    if (now - state.activityAt < ACTIVITY_EVERY_MS && state.activityAt) return;
    state.activityAt = now;
    const cats = Array.from(state.categories);
    const list = state.panels.activity.querySelector(".activity-list");
    if (!cats.length) { list.replaceChildren(el("li", { class: "empty" }, "no category selected")); return; }
    const qs = cats.map((c) => "category=" + encodeURIComponent(c)).join("&");
    const page_ = await getJSON("/api/engines/" + encodeURIComponent(state.id) + "/activity?limit=100&" + qs);
    list.replaceChildren(...(page_.entries.length ? page_.entries.map((a) => el("li", { class: "activity cat-" + a.category, "data-category": a.category },
      el("time", { datetime: a.at }, F.when(a.at)), " ",
      el("span", { class: "cat" }, CATEGORY_NAMES[a.category] || a.category), " ",
      el("span", { class: "text" }, a.text))) : [el("li", { class: "empty" }, "nothing yet")]));
  }

  async function loadLedger(state) {
    if (!state.ledgerVault) return;
    const before = state.ledgerBefore[state.ledgerBefore.length - 1];
    const url = "/api/vaults/" + encodeURIComponent(state.ledgerVault) + "/ledger?limit=50" + (before ? "&before=" + before : "");
    const p = await getJSON(url);
    state.nextBefore = p.next_before;
    const body = state.panels.ledger.querySelector("tbody");
    body.replaceChildren(...(p.entries.length ? p.entries.map((e) => el("tr", {},
      el("td", {}, e.id), el("td", {}, F.when(e.occurred_at)), el("td", {}, e.kind),
      el("td", { class: "num " + F.signClass(e.amount) }, F.signedUsd(e.amount, 6)),
      el("td", { class: "num" }, F.usd(e.fee, 6)),
      el("td", { class: "num " + F.signClass(e.net) }, F.signedUsd(e.net, 6)),
      el("td", {}, e.memo || ""))) : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "no entries"))]));
    state.panels.ledger.querySelector(".ledger-older").disabled = !p.next_before;
    state.panels.ledger.querySelector(".ledger-newer").disabled = !state.ledgerBefore.length;
  }

  // ---- controls ----
  async function control(state, action) {
    const engine = page.engines.find((e) => e.id === state.id);
    const name = engine ? engine.name : state.id;
    if (!page.controls) { toast(page.controlsReason, true); return; }
    let token = localStorage.getItem(TOKEN_KEY);
    if (!token) {
      toast("Enter the control token (the value of DRIFT_ENGINE_DASHBOARD_TOKEN) first, then " + action + " again.", true);
      document.getElementById("token-input").focus();
      return;
    }
    if (action === "kill" && !window.confirm("Kill " + name + "? This cancels its orders, closes its positions and halts it.")) return;
    const r = await fetch("/api/engines/" + encodeURIComponent(state.id) + "/" + action, {
      method: "POST", headers: { Authorization: "Bearer " + token, Accept: "application/json" },
    });
    const body = await r.json().catch(() => ({}));
    if (r.status === 401) localStorage.removeItem(TOKEN_KEY);
    if (!r.ok) { toast(action + " refused (HTTP " + r.status + "): " + (body.detail || "no reason given"), true); scheduleRefresh(); return; }
    toast(body.message || (action + " sent to " + name));
    scheduleRefresh();
  }

  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("token-input");
    const value = input.value.trim();
    input.value = "";
    if (!value) return;
    localStorage.setItem(TOKEN_KEY, value);
    toast("Control token saved in this browser.");
    scheduleRefresh();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    toast("Control token forgotten.");
    scheduleRefresh();
  });

  // ---- page sections ----
  async function refreshEngines() {
    const engines = await getJSON("/api/engines");
    page.engines = engines;
    page.fetchedAt = Date.now();
    const shown = engines.filter((e) => e.visible);
    const keep = new Set(shown.map((e) => e.id));
    for (const [id, st] of cards) {
      if (!keep.has(id)) {
        if (st.chart) st.chart.plot.destroy();
        st.card.remove();
        cards.delete(id);
      }
    }
    document.getElementById("no-engines").hidden = shown.length > 0;
    // stable order: the API's (by engine id); cards are moved only if out of place
    shown.forEach((engine, i) => {
      let st = cards.get(engine.id);
      if (!st) { st = makeCard(engine); cards.set(engine.id, st); }
      if (enginesEl.children[i] !== st.card) enginesEl.insertBefore(st.card, enginesEl.children[i] || null);
      updateHeader(st, engine);
    });
    const flat = engines.filter((e) => !e.visible);
    document.getElementById("stopped-panel").hidden = !flat.length;
    document.getElementById("stopped-list").replaceChildren(...flat.map((e) => el("li", { "data-engine-id": e.id },
      el("strong", {}, e.name), " (" + e.id + ") · " + e.strategy + (e.market ? " · " + e.market : "") + " · vault " + (e.booking_vault || "—"))));
    const details = await Promise.all(shown.map((e) =>
      getJSON("/api/engines/" + encodeURIComponent(e.id)).catch(() => null)));
    shown.forEach((engine, i) => {
      const st = cards.get(engine.id);
      if (!details[i]) return;
      updateDetail(st, details[i]);
      updateChart(st, details[i]).catch((err) => console.warn(err));
      if (st.tab === "activity") loadActivity(st).catch((err) => console.warn(err));
    });
  }

  async function refreshPortfolio() {
    const [p, vaults] = await Promise.all([getJSON("/api/portfolio"), getJSON("/api/vaults")]);
    const row = (r, isTotal) => el("tr", { class: isTotal ? "total-row" : "", "data-engine-id": r.engine_id || "" },
      el(isTotal ? "th" : "td", isTotal ? { scope: "row" } : {}, r.name), el("td", {}, r.state || ""),
      el("td", { class: "num" }, F.usd(r.cash)), el("td", { class: "num" }, F.usd(r.equity)),
      el("td", { class: "num " + F.signClass(r.pnl) }, F.signedUsd(r.pnl)),
      el("td", { class: "num" }, F.signedUsd(r.funding)), el("td", { class: "num" }, F.signedUsd(r.interest)),
      el("td", { class: "num" }, F.usd(r.fees)));
    const table = document.getElementById("portfolio-table");
    table.querySelector("tbody").replaceChildren(...(p.rows.length ? p.rows.map((r) => row(r, false)) : [el("tr", {}, el("td", { colspan: 8, class: "empty" }, "no engine vaults"))]));
    table.querySelector("tfoot").replaceChildren(row(p.total, true),
      el("tr", { class: "other-row" }, el("th", { scope: "row" }, "Treasury (not allocated)"), el("td", {}), el("td", { class: "num" }, F.usd(p.treasury)), el("td", { colspan: 5 })),
      el("tr", { class: "other-row" }, el("th", { scope: "row" }, "Unassigned vaults (equity)"), el("td", {}), el("td", {}), el("td", { class: "num" }, F.usd(p.unassigned)), el("td", { colspan: 4 })));
    const others = vaults.filter((v) => v.role !== "engine");
    document.querySelector("#treasury-table tbody").replaceChildren(...(others.length ? others.map((v) => el("tr", { "data-vault-id": v.id, "data-role": v.role },
      el("th", { scope: "row" }, v.name || v.id), el("td", {}, v.role), el("td", {}, v.engine_id || "—"),
      el("td", {}, el("span", { class: "vtype " + v.type }, v.type)),
      el("td", { class: "num" }, F.usd(v.cash)), el("td", { class: "num" }, F.usd(v.equity)))) : [el("tr", {}, el("td", { colspan: 6, class: "empty" }, "none"))]));
  }

  async function refreshMarkets() {
    const markets = await getJSON("/api/markets");
    const rows = markets.map((m) => el("tr", { "data-market": m.symbol },
      el("th", { scope: "row" }, m.symbol), el("td", { class: "num" }, F.price(m.oracle_price)),
      el("td", { class: "num" }, F.ratePct(m.funding_rate_hourly)),
      el("td", { class: "num " + (m.funding_apr > 0 ? "pos" : m.funding_apr < 0 ? "neg" : "") }, F.pct(m.funding_apr)),
      el("td", { class: "num" }, F.pct(m.funding_apr_24h)), el("td", { class: "num" }, F.pct(m.funding_apr_7d)),
      el("td", { class: "num" }, F.pct(m.spot_deposit_apr) + " / " + F.pct(m.spot_borrow_apr))));
    document.querySelector("#markets-table tbody").replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "no market data yet"))]));
  }

  async function refresh() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    try {
      const [h, run] = await Promise.all([getJSON("/api/health"), getJSON("/api/run")]);
      renderHealth(h);
      renderRun(run);
      await Promise.all([refreshEngines(), refreshPortfolio(), refreshMarkets()]);
      showMessage("");
      document.body.dataset.loaded = "1";
    } catch (err) {
      showMessage("Could not load: " + err.message);
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
    for (const st of cards.values()) {
      if (!st.chart) continue;
      const slot = st.card.querySelector(".chart");
      st.chart.plot.setSize({ width: Math.max(240, slot.clientWidth), height: 200 });
    }
  });
  refresh();
  connectStream();
  // keeps "N s ago" honest between heartbeats (a dead runner writes none)
  setInterval(() => {
    getJSON("/api/health").then(renderHealth).catch(() => {});
    for (const e of page.engines) {
      const st = cards.get(e.id);
      if (st && e.process !== "running") st.card.querySelector(".liveness").textContent = liveText(e);
    }
  }, 5000);
})();
