// posd's till screen: the cashier view (keypad, live payment states over SSE) and the
// manager area. Plain DOM, no external resources; every text from the server goes in
// through textContent, never as HTML.
"use strict";
(function () {
  const I18N = window.POSD_I18N;
  const $ = (id) => document.getElementById(id);

  // ---- state ----
  const S = {
    lang: localStorage.getItem("posd.lang") || "en",
    session: null, // {role, csrf, demo, currency, ...}
    offset: 0, // server time - browser time, ms
    digits: "", // amount being typed, in cents
    sale: null, // the sale on the cashier screen
    notice: null, // a refused scan: {code, message}
    busy: false,
    view: "cashier",
    tab: "sales",
    detailID: null,
    status: null,
    es: null,
    online: true,
  };

  // ---- helpers ----
  function t(key, vars) {
    let s = (I18N[S.lang] && I18N[S.lang][key]) || I18N.en[key] || key;
    if (vars) for (const k in vars) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  }
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const k in attrs) {
        const v = attrs[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : v);
      }
    }
    for (const c of kids.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }
  const now = () => Date.now() + S.offset;
  function money(cents, cur) {
    cur = cur || (S.session && S.session.currency) || "HKD";
    const sym = { HKD: "HK$", CNY: "¥", USD: "US$" }[cur] || cur + " ";
    const neg = cents < 0;
    const v = Math.abs(cents);
    const s = Math.floor(v / 100).toLocaleString("en-US") + "." + String(v % 100).padStart(2, "0");
    return (neg ? "-" : "") + sym + " " + s;
  }
  // Times are shown in the till's time zone (tz_offset from the server), whatever the
  // browser's zone is.
  function tillISO(ts) {
    if (!ts) return "";
    const d = new Date(ts);
    if (isNaN(d) || d.getUTCFullYear() < 2000) return "";
    const off = (S.session && S.session.tz_offset) || 0;
    return new Date(d.getTime() + off * 1000).toISOString();
  }
  function fmtTime(ts) {
    return tillISO(ts).slice(11, 19);
  }
  function fmtDateTime(ts) {
    const s = tillISO(ts);
    return s ? s.slice(0, 10) + " " + s.slice(11, 19) : "";
  }
  function errText(e) {
    if (!e) return "";
    const k = "err." + e.code;
    if (S.lang !== "en" && I18N[S.lang][k]) return I18N[S.lang][k];
    return e.message || String(e.code || e);
  }
  function toast(msg, kind) {
    const el = $("toast");
    el.textContent = msg;
    el.className = "show " + (kind || "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (el.className = ""), 4000);
  }

  // api calls the server; after a restart of posd the session is gone (sessions live in
  // memory), so a 401 fetches a new one once (the till's own screen gets it without a
  // login) and retries.
  async function api(method, path, body, extraHeaders, retried) {
    const opt = { method, headers: Object.assign({}, extraHeaders || {}), credentials: "same-origin" };
    if (method !== "GET" && S.session && S.session.csrf) opt.headers["X-CSRF-Token"] = S.session.csrf;
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, opt);
    } catch (_) {
      const e = new Error(t("err_network"));
      e.code = "network";
      throw e;
    }
    let data = null;
    try {
      data = await r.json();
    } catch (_) {}
    if (r.status === 401 && !retried && path.startsWith("/api/") && S.session && S.session.role !== "none") {
      try {
        await loadSession();
      } catch (_) {}
      if (S.session.role !== "none") {
        openEvents();
        return api(method, path, body, extraHeaders, true);
      }
      show("login");
    }
    if (!r.ok) {
      const er = (data && data.error) || {};
      const e = new Error(er.message || r.statusText);
      e.code = er.code || "http_" + r.status;
      e.status = r.status;
      if (e.code === "manager_required" && S.view === "manager") {
        S.session.role = "cashier";
        showPIN(t("session_expired"));
      }
      throw e;
    }
    return data;
  }

  // ---- language ----
  function applyLang() {
    document.documentElement.lang = S.lang === "en" ? "en" : "zh-Hant-HK";
    document.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n)));
    document.querySelectorAll("[data-i18n-ph]").forEach((el) => el.setAttribute("placeholder", t(el.dataset.i18nPh)));
    $("btn-lang").textContent = t("lang_switch");
    renderCashier();
    renderAlerts();
    if (S.view === "manager") loadTab();
  }

  // ---- views ----
  function show(view) {
    S.view = view;
    for (const v of ["login", "cashier", "pin", "manager"]) $("view-" + v).hidden = v !== view;
    $("btn-cashier").classList.toggle("active", view === "cashier");
    $("btn-manager").classList.toggle("active", view === "manager" || view === "pin");
    document.body.dataset.view = view;
  }

  function showPIN(msg) {
    $("pin-input").value = "";
    $("pin-msg").textContent = msg || "";
    $("pin-msg").className = msg ? "msg error" : "msg";
    show("pin");
    $("pin-input").focus();
  }

  async function loadSession() {
    S.session = await api("GET", "/ui/session");
    S.offset = new Date(S.session.server_time).getTime() - Date.now();
    $("merchant").textContent = S.session.merchant || "";
    $("till").textContent = [S.session.store_id, S.session.till_id].filter(Boolean).join(" · ");
    $("demo").hidden = !S.session.demo;
    return S.session;
  }

  async function start() {
    try {
      await loadSession();
    } catch (e) {
      toast(errText(e), "error");
      return;
    }
    if (S.session.role === "none") {
      $("login-token-row").hidden = !S.session.token_login;
      $("login-pin-row").hidden = !S.session.pin_login;
      show("login");
      return;
    }
    afterLogin();
  }

  async function afterLogin() {
    show("cashier");
    openEvents();
    pollStatus();
    await findCurrentSale();
    if (S.session.demo) {
      loadDemo();
      loadReceipts();
    }
    renderCashier();
  }

  // ---- events ----
  function openEvents() {
    if (S.es) S.es.close();
    const es = new EventSource("/api/v1/events");
    S.es = es;
    es.addEventListener("open", () => {
      S.online = true;
      renderAlerts();
      // Catch up on anything missed while disconnected.
      if (S.sale) refreshSale(S.sale.id);
      else findCurrentSale().then(renderCashier);
    });
    es.addEventListener("error", () => {
      S.online = false;
      renderAlerts();
      // EventSource gives up on an HTTP error (the session is gone after a restart of
      // posd): get a session again and reconnect.
      if (es.readyState === EventSource.CLOSED) {
        setTimeout(async () => {
          if (S.es !== es) return;
          try {
            await loadSession();
          } catch (_) {}
          if (S.session && S.session.role !== "none") openEvents();
          else show("login");
        }, 3000);
      }
    });
    es.addEventListener("sale", (ev) => {
      let sale;
      try {
        sale = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      onSale(sale);
    });
    es.addEventListener("notice", (ev) => {
      let n;
      try {
        n = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      // A refused scan belongs on the sale waiting for a code; with none, a toast says it.
      if (S.sale && S.sale.state === "awaiting_scan") S.notice = n;
      else toast(errText(n), "error");
      renderCashier();
    });
  }

  function newer(a, b) {
    return !b || (a.version || 0) >= (b.version || 0);
  }

  function onSale(sale) {
    if (S.sale && sale.id === S.sale.id) {
      if (newer(sale, S.sale)) S.sale = sale;
    } else if (sale.state === "awaiting_scan" || sale.state === "paying") {
      S.sale = sale; // a sale opened by the POS software, or by another screen
      S.digits = "";
    }
    if (S.sale && S.sale.id === sale.id && sale.state !== "awaiting_scan") S.notice = null;
    renderCashier();
    if (sale.state === "paid" && S.session.demo) setTimeout(loadReceipts, 400);
    if (S.view === "manager") {
      if (S.tab === "sales") {
        clearTimeout(onSale.timer);
        onSale.timer = setTimeout(loadSales, 300);
      }
      if (S.detailID === sale.id) renderDetail(sale);
    }
  }

  async function findCurrentSale() {
    try {
      const sales = await api("GET", "/api/v1/sales");
      const open = sales.find((s) => s.state === "awaiting_scan" || s.state === "paying");
      if (open) S.sale = open;
    } catch (_) {}
  }

  async function refreshSale(id) {
    try {
      onSale(await api("GET", "/api/v1/sales/" + encodeURIComponent(id)));
    } catch (_) {}
  }

  // ---- alerts ----
  async function pollStatus() {
    clearTimeout(pollStatus.timer);
    try {
      S.status = await api("GET", "/api/v1/status");
      S.offset = new Date(S.status.server_time).getTime() - Date.now();
      S.online = true;
    } catch (e) {
      if (e.code === "network") S.online = false;
    }
    renderAlerts();
    pollStatus.timer = setTimeout(pollStatus, 5000);
  }

  function renderAlerts() {
    const box = clear($("alerts"));
    if (!S.online) box.append(h("span", { class: "alert error", text: t("alert_offline") }));
    const alerts = (S.status && S.status.alerts) || [];
    for (const a of alerts) {
      box.append(h("span", { class: "alert " + (a.severity || "warning"), title: a.message, "data-code": a.code, text: alertText(a) }));
    }
  }
  function alertText(a) {
    const key = "alert_" + a.code;
    return I18N.en[key] ? t(key, { n: a.count || "" }) : a.message;
  }

  // ---- cashier ----
  function lastAttempt(sale) {
    return sale && sale.attempts && sale.attempts.length ? sale.attempts[sale.attempts.length - 1] : null;
  }

  function secondsLeft(ts) {
    if (!ts) return null;
    const ms = new Date(ts).getTime() - now();
    return Math.max(0, Math.ceil(ms / 1000));
  }

  function renderCashier() {
    const sale = S.sale;
    const st = $("state");
    const title = $("state-title"),
      detail = $("state-detail"),
      timeEl = $("state-time"),
      bar = $("progress");
    let cls = "idle",
      ttl = t("enter_amount"),
      det = t("enter_amount_hint"),
      tm = "",
      progress = null;
    let amount = parseInt(S.digits || "0", 10);
    let cur = (S.session && S.session.currency) || "HKD";
    const active = sale && (sale.state === "awaiting_scan" || sale.state === "paying");
    const done = sale && (sale.state === "paid" || sale.state === "cancelled");
    let err = null;
    const extra = [];
    if (sale && (active || (done && S.digits === ""))) {
      amount = sale.amount;
      cur = sale.currency;
      const a = lastAttempt(sale);
      if (sale.state === "awaiting_scan") {
        cls = "scan";
        ttl = t("scan_prompt");
        det = t("scan_hint");
        if (a && (a.state === "failed" || a.state === "reversed") && a.error) {
          cls = "failed";
          ttl = t("scan_again");
          err = a.error;
        }
        if (S.notice) {
          cls = "failed";
          ttl = t("scan_again");
          err = S.notice;
        }
      } else if (sale.state === "paying") {
        cls = "paying";
        const phase = (a && a.phase) || "sending";
        if (a && a.kind === "qr" && a.state !== "unresolved") {
          // QR Code Payment: the customer display shows the code until it expires.
          const left = a.expires_at ? new Date(a.expires_at).getTime() - now() : 0;
          cls = "scan";
          det = "";
          if (!a.code_url) ttl = t("qr_creating");
          else if (left > 0 && phase !== "reversing") {
            ttl = t("qr_shown");
            det = t("qr_shown_hint");
            tm = t("qr_time_left", { s: secondsLeft(a.expires_at) });
            const start = new Date(a.started_at).getTime();
            const end = new Date(a.expires_at).getTime();
            if (end > start) progress = Math.min(1, Math.max(0, (now() - start) / (end - start)));
          } else ttl = t("qr_checking");
        } else if (a && a.state === "unresolved") {
          ttl = t("unresolved");
          det = t("unresolved_hint");
          cls = "unresolved";
        } else {
          ttl = t(phase) || phase;
          det = phase === "waiting_customer" ? t("waiting_customer_hint") : "";
        }
        if (a && a.kind !== "qr" && a.deadline && a.started_at) {
          const start = new Date(a.started_at).getTime();
          const end = new Date(a.deadline).getTime();
          if (phase === "reversing" && a.reverse_after && new Date(a.reverse_after).getTime() > now()) {
            tm = t("reverse_in", { s: secondsLeft(a.reverse_after) });
          } else if (phase !== "reversing" && end > now()) {
            tm = t("time_left", { s: secondsLeft(a.deadline) });
          }
          if (end > start) progress = Math.min(1, Math.max(0, (now() - start) / (end - start)));
        }
      } else if (sale.state === "paid") {
        cls = "paid";
        ttl = t("paid");
        const p = (sale.attempts || []).find((x) => x.state === "paid");
        det = "";
        if (p) {
          if (p.wallet) {
            const pa = p.payer_amount ? money(p.payer_amount, p.wallet) : money(sale.amount, sale.currency);
            extra.push(h("div", { class: "wallet", text: t("paid_wallet", { amount: pa, wallet: p.wallet }) }));
          }
          if (p.transaction_id) extra.push(h("div", { class: "small", text: t("paid_tx", { id: p.transaction_id }) }));
        }
        const refunded = (sale.refunds || []).filter((r) => r.state !== "failed").reduce((n, r) => n + r.amount, 0);
        if (refunded) extra.push(h("div", { class: "small", text: t("refunded", { amount: money(refunded, sale.currency) }) }));
      } else if (sale.state === "cancelled") {
        cls = "cancelled";
        ttl = t("cancelled");
        det = t("cancelled_hint");
        if (a && !["failed", "reversed", "paid"].includes(a.state)) {
          // The attempt in flight is being reversed; WeChat allows it only from t0 + 15 s.
          cls = "reversing";
          det = t(a.phase === "refunding" ? "refunding" : "reversing");
          if (a.reverse_after && new Date(a.reverse_after).getTime() > now()) {
            tm = t("reverse_in", { s: secondsLeft(a.reverse_after) });
            const start = new Date(a.started_at).getTime();
            const end = new Date(a.reverse_after).getTime();
            if (end > start) progress = Math.min(1, Math.max(0, (now() - start) / (end - start)));
          }
        } else if (a && a.state === "paid") {
          det = t("refunding");
        }
      }
    }
    st.className = "state state-" + cls;
    title.textContent = ttl;
    clear(detail);
    if (err) {
      detail.append(h("div", { class: "error-msg", "data-code": err.code, text: errText(err) }));
      if (S.lang !== "en" && I18N[S.lang]["err." + err.code] && err.message) detail.append(h("div", { class: "small", text: err.message }));
    } else if (det) detail.append(h("div", { text: det }));
    extra.forEach((x) => detail.append(x));
    timeEl.textContent = tm;
    bar.hidden = progress === null;
    if (progress !== null) $("progress-bar").style.width = Math.round(progress * 100) + "%";
    $("amount").textContent = money(amount, cur);
    $("amount").classList.toggle("empty", amount === 0);
    $("btn-charge").hidden = !!active || (done && S.digits === "");
    $("btn-charge").disabled = S.busy || amount <= 0;
    $("btn-cancel").hidden = !active;
    $("btn-qr").hidden = !(sale && sale.state === "awaiting_scan" && S.session && S.session.qr);
    $("btn-qr").disabled = S.busy;
    $("btn-new").hidden = !(done && S.digits === "");
    $("btn-reprint").hidden = !(sale && sale.state === "paid" && S.digits === "");
    document.querySelectorAll("#keypad button").forEach((b) => (b.disabled = !!active));
    document.body.dataset.sale = sale ? sale.state : "none";
  }

  function keypad(k) {
    const sale = S.sale;
    if (sale && (sale.state === "awaiting_scan" || sale.state === "paying")) return;
    if (k === "C") S.digits = "";
    else if (k === "back") S.digits = S.digits.slice(0, -1);
    else if (/^\d+$/.test(k)) {
      if ((S.digits + k).replace(/^0+/, "").length > 8) return;
      S.digits = (S.digits + k).replace(/^0+/, "");
    }
    renderCashier();
  }

  async function charge() {
    const amount = parseInt(S.digits || "0", 10);
    if (!amount || S.busy) return;
    S.busy = true;
    S.notice = null;
    renderCashier();
    try {
      const sale = await api("POST", "/api/v1/sales", { amount, currency: S.session.currency });
      S.sale = sale;
      S.digits = "";
    } catch (e) {
      toast(errText(e), "error");
    } finally {
      S.busy = false;
      renderCashier();
    }
  }

  // showQR starts a QR Code Payment: the customer display shows the code to scan.
  async function showQR() {
    if (!S.sale || S.busy) return;
    S.busy = true;
    renderCashier();
    try {
      const s = await api("POST", "/api/v1/sales/" + encodeURIComponent(S.sale.id) + "/qr");
      // The event stream may already have brought a newer state (the code itself).
      if (!S.sale || S.sale.id !== s.id || newer(s, S.sale)) S.sale = s;
      S.notice = null;
    } catch (e) {
      toast(errText(e), "error");
    } finally {
      S.busy = false;
      renderCashier();
    }
  }

  async function cancelSale() {
    if (!S.sale) return;
    try {
      S.sale = await api("POST", "/api/v1/sales/" + encodeURIComponent(S.sale.id) + "/cancel");
      S.notice = null;
    } catch (e) {
      toast(errText(e), "error");
    }
    renderCashier();
  }

  function newSale() {
    S.sale = null;
    S.digits = "";
    S.notice = null;
    renderCashier();
  }

  async function reprint(id) {
    try {
      await api("POST", "/api/v1/sales/" + encodeURIComponent(id) + "/reprint");
      toast(t("reprint") + " ✓");
      if (S.session.demo) setTimeout(loadReceipts, 400);
    } catch (e) {
      toast(errText(e), "error");
    }
  }

  // ---- demo ----
  async function virtualScan(code) {
    S.notice = null;
    try {
      const r = await api("POST", "/api/v1/scan", { code });
      if (r && r.id) onSale(r);
      $("scan-input").value = "";
    } catch (e) {
      S.notice = { code: e.code, message: e.message };
      if (!S.sale || S.sale.state !== "awaiting_scan") toast(errText(e), "error");
    }
    renderCashier();
  }

  async function loadDemo() {
    try {
      const d = await api("GET", "/api/v1/demo");
      renderAnyTable($("amount-table"), d.amount_table);
    } catch (_) {}
  }

  async function loadReceipts() {
    try {
      const rs = await api("GET", "/api/v1/receipts?n=3");
      renderReceipts($("receipts"), rs);
    } catch (_) {}
  }

  function renderReceipts(box, rs) {
    clear(box);
    if (!rs || !rs.length) {
      box.append(h("p", { class: "muted", text: t("no_receipts") }));
      return;
    }
    for (const r of rs) {
      box.append(
        h(
          "figure",
          { class: "receipt", "data-id": r.id },
          h("pre", { text: r.text }),
          r.has_png
            ? h("details", null, h("summary", { text: t("receipt_image") }), h("img", { src: "/api/v1/receipts/" + encodeURIComponent(r.id) + ".png", alt: r.kind || "receipt" }))
            : null,
          h("figcaption", { text: [fmtDateTime(r.at), r.kind, r.state].filter(Boolean).join(" · ") })
        )
      );
    }
  }

  // Renders whatever shape the simulator's amount table has: a list of objects, a map, or text.
  function renderAnyTable(box, v) {
    clear(box);
    if (v === null || v === undefined) return;
    if (Array.isArray(v) && v.length && typeof v[0] === "object" && ("Cents" in v[0] || "cents" in v[0])) {
      // The simulator's amount table: the last two digits of the amount pick a behaviour.
      const g = (r, k) => (k in r ? r[k] : r[k.toLowerCase()]);
      box.append(
        h(
          "table",
          { class: "grid amounts" },
          h("tbody", null,
            v.map((r) => {
              const cents = g(r, "Cents");
              return h(
                "tr",
                { class: "clickable", "data-cents": cents, title: t("pick_amount"), onclick: () => pickAmount({ amount: 1000 + cents }) },
                h("td", { class: "num mono", text: "x." + String(cents).padStart(2, "0") }),
                h("td", { class: "mono small", text: g(r, "Name") || "" }),
                h("td", { text: g(r, "Description") || "" })
              );
            })
          )
        )
      );
      return;
    }
    if (Array.isArray(v) && v.length && typeof v[0] === "object") {
      const cols = Object.keys(v[0]);
      box.append(
        h(
          "table",
          { class: "grid" },
          h("thead", null, h("tr", null, cols.map((c) => h("th", { text: c })))),
          h(
            "tbody",
            null,
            v.map((row) =>
              h(
                "tr",
                { class: "clickable", onclick: () => pickAmount(row) },
                cols.map((c) => h("td", { text: cell(row[c], c) }))
              )
            )
          )
        )
      );
    } else if (typeof v === "object") {
      box.append(kvTable(v));
    } else box.append(h("pre", { text: String(v) }));
  }
  function cell(v, col) {
    if (v !== null && typeof v === "object") return JSON.stringify(v);
    if (typeof v === "number" && /amount/i.test(col || "")) return money(v);
    return v === undefined || v === null ? "" : String(v);
  }
  function pickAmount(row) {
    const a = row.amount || row.Amount;
    if (typeof a === "number" && (!S.sale || S.sale.state === "paid" || S.sale.state === "cancelled")) {
      S.sale = null;
      S.digits = String(a);
      renderCashier();
    }
  }

  function gridTable(rows) {
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return h(
      "table",
      { class: "grid" },
      h("thead", null, h("tr", null, cols.map((c) => h("th", { text: c })))),
      h("tbody", null, rows.map((r) => h("tr", null, cols.map((c) => h("td", null, r[c] !== null && typeof r[c] === "object" ? kvTable(r[c]) : cell(r[c], c))))))
    );
  }

  function kvTable(obj) {
    return h(
      "table",
      { class: "kv" },
      h(
        "tbody",
        null,
        Object.keys(obj).map((k) => {
          const v = obj[k];
          const isObj = v !== null && typeof v === "object";
          let td;
          if (!isObj) td = cell(v);
          else if (Array.isArray(v) && !v.length) td = "—";
          else if (Array.isArray(v) && v.every((x) => x !== null && typeof x === "object" && !Array.isArray(x))) td = gridTable(v);
          else td = kvTable(v);
          return h("tr", null, h("th", { text: k }), h("td", null, td));
        })
      )
    );
  }

  // ---- manager ----
  async function openManager() {
    if (!S.session || S.session.role !== "manager") {
      showPIN("");
      return;
    }
    showManager();
  }

  function showManager() {
    if (!$("f-date").value && S.session) $("f-date").value = S.session.today;
    show("manager");
    loadTab();
  }

  async function submitPIN(ev) {
    ev.preventDefault();
    const input = $("pin-input");
    const pin = input.value;
    input.value = ""; // the PIN does not stay in the page
    if (!pin) return;
    try {
      S.session = await api("POST", "/ui/login", { pin });
      openEvents(); // the session id changed
      showManager();
    } catch (e) {
      $("pin-msg").textContent = errText(e) + (S.lang !== "en" && e.code === "wrong_pin" ? " (" + e.message + ")" : "");
      $("pin-msg").className = "msg error";
      $("pin-msg").dataset.code = e.code;
      input.focus();
    }
  }

  async function submitLogin(ev) {
    ev.preventDefault();
    const tok = $("login-token").value,
      pin = $("login-pin").value;
    $("login-token").value = "";
    $("login-pin").value = "";
    try {
      S.session = await api("POST", "/ui/login", pin ? { pin } : { token: tok });
      $("login-msg").textContent = "";
      afterLogin();
    } catch (e) {
      $("login-msg").textContent = errText(e);
    }
  }

  async function lockManager() {
    try {
      S.session = await api("POST", "/ui/logout", { scope: "manager" });
    } catch (_) {}
    show("cashier");
    renderCashier();
  }

  function selectTab(tab) {
    S.tab = tab;
    document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
    document.querySelectorAll(".tab").forEach((p) => (p.hidden = p.id !== "tab-" + tab));
    loadTab();
  }

  function loadTab() {
    ({ sales: loadSales, attention: loadJobs, day: loadDay, devices: loadDevices, logs: loadLogs, receipts: loadMgrReceipts })[S.tab]();
  }

  function dateValue() {
    return $("f-date").value || (S.session && S.session.today) || "";
  }

  async function loadSales() {
    const q = new URLSearchParams({ date: dateValue() });
    if ($("f-state").value) q.set("state", $("f-state").value);
    if ($("f-wallet").value) q.set("wallet", $("f-wallet").value);
    if ($("f-q").value) q.set("q", $("f-q").value);
    $("export-csv").href = "/api/v1/export/journal?" + new URLSearchParams({ date: dateValue(), format: "csv" });
    $("export-json").href = "/api/v1/export/journal?" + new URLSearchParams({ date: dateValue(), format: "json" });
    let sales;
    try {
      sales = await api("GET", "/api/v1/sales?" + q);
    } catch (e) {
      toast(errText(e), "error");
      return;
    }
    const body = clear($("sales-body"));
    $("sales-empty").hidden = sales.length > 0;
    for (const s of sales) {
      const p = (s.attempts || []).find((a) => a.state === "paid");
      body.append(
        h(
          "tr",
          { class: "clickable" + (s.id === S.detailID ? " selected" : ""), "data-state": s.state, "data-id": s.id, onclick: () => openDetail(s.id) },
          h("td", { text: fmtTime(s.created_at) }),
          h("td", { class: "num", text: money(s.amount, s.currency) }),
          h("td", null, h("span", { class: "pill " + s.state, text: t("state_" + s.state) })),
          h("td", { text: p ? p.wallet || "" : "" }),
          h("td", { text: s.reference || "" }),
          h("td", { class: "mono small", text: s.id })
        )
      );
    }
  }

  async function openDetail(id) {
    S.detailID = id;
    try {
      renderDetail(await api("GET", "/api/v1/sales/" + encodeURIComponent(id)));
    } catch (e) {
      toast(errText(e), "error");
    }
  }

  function refundable(sale) {
    if (sale.state !== "paid") return 0;
    const used = (sale.refunds || []).filter((r) => r.state !== "failed").reduce((n, r) => n + r.amount, 0);
    return Math.max(0, sale.amount - used);
  }

  function renderDetail(sale) {
    const box = clear($("detail"));
    box.hidden = false;
    document.querySelectorAll("#sales-body tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === sale.id));
    box.append(
      h("h3", null, t("sale") + " ", h("span", { class: "mono", text: sale.id })),
      h(
        "p",
        null,
        h("strong", { class: "big-amount", text: money(sale.amount, sale.currency) }),
        " ",
        h("span", { class: "pill " + sale.state, text: t("state_" + sale.state) }),
        sale.reference ? " · " + sale.reference : "",
        sale.description ? " · " + sale.description : "",
        " · " + fmtDateTime(sale.created_at)
      )
    );
    box.append(h("h4", { text: t("attempts") }));
    for (const a of sale.attempts || []) {
      box.append(
        h(
          "div",
          { class: "attempt" },
          h(
            "p",
            null,
            h("span", { class: "pill " + a.state, text: t("state_" + a.state) }),
            " ",
            h("span", { class: "mono", text: a.out_trade_no }),
            " · " + (a.code || ""),
            a.wallet ? " · " + a.wallet + (a.payer_amount ? " " + money(a.payer_amount, a.wallet) : "") : "",
            a.transaction_id ? " · " + a.transaction_id : ""
          ),
          a.error ? h("p", { class: "error-msg", text: (a.error.code || "") + ": " + errText(a.error) }) : null,
          h(
            "table",
            { class: "grid timeline" },
            h("thead", null, h("tr", null, ["time", "call", "outcome", "code", "detail"].map((c) => h("th", { text: t(c) })))),
            h(
              "tbody",
              null,
              (a.events || []).map((ev) =>
                h("tr", null, h("td", { text: fmtTime(ev.at) }), h("td", { text: ev.call }), h("td", { text: ev.outcome || "" }), h("td", { text: ev.code || "" }), h("td", { text: ev.detail || "" }))
              )
            )
          )
        )
      );
    }
    if ((sale.refunds || []).length) {
      box.append(h("h4", { text: t("refunds") }));
      box.append(
        h(
          "table",
          { class: "grid" },
          h(
            "tbody",
            null,
            sale.refunds.map((r) =>
              h(
                "tr",
                null,
                h("td", { text: fmtTime(r.created_at) }),
                h("td", { class: "num", text: money(r.amount, sale.currency) }),
                h("td", null, h("span", { class: "pill " + r.state, text: r.state })),
                h("td", { text: r.reason || "" }),
                h("td", { class: "mono small", text: r.out_refund_no }),
                h("td", { text: r.error ? errText(r.error) : "" })
              )
            )
          )
        )
      );
    }
    const left = refundable(sale);
    const actions = h("div", { class: "actions-row" }, h("button", { onclick: () => reprint(sale.id), text: t("reprint") }));
    box.append(actions);
    if (left > 0) {
      const amt = h("input", { id: "refund-amount", type: "text", inputmode: "decimal", value: (left / 100).toFixed(2), size: 8 });
      const reason = h("input", { id: "refund-reason", type: "text", maxlength: 80, placeholder: t("refund_reason") });
      const msg = h("span", { id: "refund-msg", class: "msg" });
      const doRefund = async (cents) => {
        if (!(cents > 0)) return;
        try {
          const s = await api("POST", "/api/v1/sales/" + encodeURIComponent(sale.id) + "/refunds", { amount: cents, reason: reason.value });
          toast(t("refund_done"));
          renderDetail(s);
        } catch (e) {
          msg.textContent = errText(e);
          msg.className = "msg error";
        }
      };
      box.append(
        h(
          "form",
          {
            class: "refund",
            id: "refund-form",
            onsubmit: (ev) => {
              ev.preventDefault();
              doRefund(Math.round(parseFloat(amt.value) * 100));
            },
          },
          h("h4", { text: t("refund") + " — " + t("refundable", { amount: money(left, sale.currency) }) }),
          h("label", null, t("refund_amount") + " ", amt),
          " ",
          reason,
          " ",
          h("button", { type: "submit", id: "btn-refund", text: t("refund") }),
          " ",
          h("button", { type: "button", id: "btn-refund-full", class: "danger", text: t("refund_full"), onclick: () => doRefund(left) }),
          " ",
          msg
        )
      );
    }
  }

  async function loadJobs() {
    const box = clear($("jobs"));
    let js;
    try {
      js = await api("GET", "/api/v1/jobs");
    } catch (e) {
      box.append(h("p", { class: "error-msg", text: errText(e) }));
      return;
    }
    if (!js.length) {
      box.append(h("p", { class: "muted", text: t("jobs_none") }));
      return;
    }
    box.append(
      h(
        "table",
        { class: "grid" },
        h("thead", null, h("tr", null, ["kind", "sale", "tries", "due", "last_error", "advice"].map((c) => h("th", { text: t(c) })))),
        h(
          "tbody",
          null,
          js.map((j) =>
            h(
              "tr",
              { class: j.attention ? "attention" : "" },
              h("td", { text: j.kind }),
              h("td", null, h("a", { href: "#", class: "mono small", text: j.sale_id, onclick: (ev) => (ev.preventDefault(), selectTab("sales"), openDetail(j.sale_id)) })),
              h("td", { class: "num", text: j.tries }),
              h("td", { text: fmtDateTime(j.due) }),
              h("td", { text: j.last_error || "" }),
              h("td", { class: j.attention ? "advice" : "", text: j.advice || "" })
            )
          )
        )
      )
    );
  }

  async function loadDay() {
    const box = clear($("day"));
    const date = dateValue();
    let r;
    try {
      r = await api("GET", "/api/v1/reports/day?" + new URLSearchParams({ date }));
    } catch (e) {
      box.append(h("p", { class: "error-msg", text: errText(e) }));
      return;
    }
    box.append(
      h("h3", null, t("tab_day") + " " + r.date + " ",
        S.session.print_report ? h("button", { id: "btn-print-report", type: "button", text: t("print_report"), onclick: () => printReport(date) }) : null),
      h(
        "div",
        { class: "cards" },
        h("div", { class: "card" }, h("div", { class: "label", text: t("day_paid") }), h("div", { class: "value", text: money(r.paid.amount, r.currency) }), h("div", { class: "small", text: t("count") + " " + r.paid.count })),
        h("div", { class: "card" }, h("div", { class: "label", text: t("day_refunds") }), h("div", { class: "value", text: money(r.refunds.amount, r.currency) }), h("div", { class: "small", text: t("count") + " " + r.refunds.count })),
        h("div", { class: "card" }, h("div", { class: "label", text: t("day_net") }), h("div", { class: "value", text: money(r.net, r.currency) })),
        h("div", { class: "card" }, h("div", { class: "label", text: t("day_unresolved") }), h("div", { class: "value", text: String(r.unresolved) }))
      ),
      h("h4", { text: t("day_by_wallet") }),
      h(
        "table",
        { class: "grid", id: "wallets" },
        h("thead", null, h("tr", null, ["wallet", "count", "amount", "payer_amount"].map((c) => h("th", { text: t(c) })))),
        h(
          "tbody",
          null,
          (r.wallets || []).map((w) => h("tr", null, h("td", { text: w.wallet || "?" }), h("td", { class: "num", text: w.count }), h("td", { class: "num", text: money(w.amount, r.currency) }), h("td", { class: "num", text: money(w.payer_amount, w.wallet) })))
        )
      ),
      h("h4", { text: t("day_sales") }),
      kvTable(Object.fromEntries(Object.entries(r.sales || {}).map(([k, v]) => [t("state_" + k), v])))
    );
    if ((r.problems || []).length) {
      box.append(h("h4", { text: t("day_problems") }), h("ul", null, r.problems.map((p) => h("li", { text: p }))));
    }
    // Reconciliation
    box.append(h("h3", { text: t("recon") }));
    const rbox = h("div", { id: "recon" });
    box.append(rbox);
    try {
      renderRecon(rbox, await api("GET", "/api/v1/reports/reconciliation?" + new URLSearchParams({ date })), date);
    } catch (e) {
      rbox.append(h("p", { class: "error-msg", text: errText(e) }));
    }
  }

  async function printReport(date) {
    try {
      await api("POST", "/api/v1/reports/day/print?" + new URLSearchParams({ date }));
      toast(t("print_report") + " ✓");
    } catch (e) {
      toast(errText(e), "error");
    }
  }

  function renderRecon(box, rec, date) {
    clear(box);
    if (!rec.available) {
      box.append(h("p", { class: "muted", text: t("recon_off") }));
      return;
    }
    if (rec.can_run) {
      box.append(
        h("button", {
          text: t("recon_run"),
          onclick: async () => {
            try {
              renderRecon(box, await api("POST", "/api/v1/reports/reconciliation?" + new URLSearchParams({ date })), date);
            } catch (e) {
              toast(errText(e), "error");
            }
          },
        })
      );
    }
    const res = rec.result;
    if (!res) {
      box.append(h("p", { class: "muted", text: t("recon_none") }));
      return;
    }
    box.append(h("p", { text: [res.state, fmtDateTime(res.checked_at), res.error || "", "alerts " + res.alerts].filter(Boolean).join(" · ") }));
    if (res.counts) box.append(kvTable(res.counts));
    const items = (res.items || []).filter((i) => i.alert).concat((res.items || []).filter((i) => !i.alert));
    if (items.length) {
      box.append(
        h(
          "table",
          { class: "grid" },
          h("thead", null, h("tr", null, ["class", "sale", "state", "amount", "action"].map((c) => h("th", { text: t(c) })))),
          h(
            "tbody",
            null,
            items.map((i) =>
              h(
                "tr",
                { class: i.alert ? "attention" : "" },
                h("td", { text: i.class }),
                h("td", { class: "mono small", text: i.out_trade_no }),
                h("td", { text: (i.local_state || "—") + " / " + (i.wechat_state || "—") }),
                h("td", { class: "num", text: money(i.local_amount, i.local_currency) + " / " + money(i.wechat_amount, i.wechat_currency || i.local_currency) }),
                h("td", { text: i.action || "" })
              )
            )
          )
        )
      );
    }
  }

  async function loadDevices() {
    const box = clear($("devices"));
    let d;
    try {
      d = await api("GET", "/api/v1/devices");
    } catch (e) {
      box.append(h("p", { class: "error-msg", text: errText(e) }));
      return;
    }
    const al = d.alerts || [];
    box.append(h("h4", { text: t("alerts") }));
    if (!al.length) box.append(h("p", { class: "muted", text: t("alerts_none") }));
    else box.append(h("ul", null, al.map((a) => h("li", { class: "alert-line " + a.severity, text: alertText(a) + (alertText(a) !== a.message ? " — " + a.message : "") }))));
    if (d.health !== undefined) box.append(h("h4", { text: t("health") }), renderValue(d.health));
    if (d.devices !== undefined) box.append(h("h4", { text: t("devices") }), renderValue(d.devices));
  }
  function renderValue(v) {
    if (v !== null && typeof v === "object") {
      const box = h("div");
      renderAnyTable(box, v);
      return box;
    }
    return h("p", { text: String(v) });
  }

  async function loadLogs() {
    const q = new URLSearchParams({ n: "300" });
    if ($("log-level").value) q.set("level", $("log-level").value);
    if ($("log-q").value) q.set("q", $("log-q").value);
    const body = clear($("logs-body"));
    let es;
    try {
      es = await api("GET", "/api/v1/logs?" + q);
    } catch (e) {
      toast(errText(e), "error");
      return;
    }
    $("logs-empty").hidden = es.length > 0;
    for (const e of es) {
      const f = e.fields ? Object.keys(e.fields).map((k) => k + "=" + e.fields[k]).join(" ") : "";
      body.append(h("tr", { class: "lvl-" + e.level }, h("td", { class: "mono small", text: fmtDateTime(e.time) }), h("td", null, h("span", { class: "pill lvl-" + e.level, text: e.level })), h("td", { text: e.msg }), h("td", { class: "mono small", text: f })));
    }
  }

  async function loadMgrReceipts() {
    try {
      renderReceipts($("mgr-receipts"), await api("GET", "/api/v1/receipts?n=30"));
    } catch (e) {
      toast(errText(e), "error");
    }
  }

  // ---- wiring ----
  function wire() {
    $("btn-lang").addEventListener("click", () => {
      S.lang = S.lang === "en" ? "zh-Hant" : "en";
      localStorage.setItem("posd.lang", S.lang);
      applyLang();
    });
    $("btn-cashier").addEventListener("click", () => {
      if (S.session && S.session.role !== "none") {
        show("cashier");
        renderCashier();
      }
    });
    $("btn-manager").addEventListener("click", () => S.session && S.session.role !== "none" && openManager());
    document.querySelectorAll("#keypad button").forEach((b) => b.addEventListener("click", () => keypad(b.dataset.key)));
    $("btn-charge").addEventListener("click", charge);
    $("btn-cancel").addEventListener("click", cancelSale);
    $("btn-qr").addEventListener("click", showQR);
    $("btn-new").addEventListener("click", newSale);
    $("btn-reprint").addEventListener("click", () => S.sale && reprint(S.sale.id));
    $("scan-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("scan-input").value.trim();
      if (v) virtualScan(v);
    });
    $("pin-form").addEventListener("submit", submitPIN);
    $("pin-back").addEventListener("click", () => show("cashier"));
    document.querySelectorAll("#pinpad button").forEach((b) =>
      b.addEventListener("click", () => {
        const i = $("pin-input");
        if (b.dataset.key === "C") i.value = "";
        else if (b.dataset.key === "back") i.value = i.value.slice(0, -1);
        else i.value += b.dataset.key;
        i.focus();
      })
    );
    $("login-form").addEventListener("submit", submitLogin);
    $("btn-lock").addEventListener("click", lockManager);
    document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => selectTab(b.dataset.tab)));
    $("f-date").addEventListener("change", loadTab);
    for (const id of ["f-state", "f-wallet"]) $(id).addEventListener("change", loadSales);
    $("f-q").addEventListener("input", () => {
      clearTimeout(wire.qt);
      wire.qt = setTimeout(loadSales, 250);
    });
    $("log-level").addEventListener("change", loadLogs);
    $("log-q").addEventListener("input", () => {
      clearTimeout(wire.lt);
      wire.lt = setTimeout(loadLogs, 250);
    });
    $("logs-refresh").addEventListener("click", loadLogs);
    document.addEventListener("keydown", (ev) => {
      if (S.view !== "cashier") return;
      const tag = ev.target && ev.target.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const active = S.sale && (S.sale.state === "awaiting_scan" || S.sale.state === "paying");
      if (/^[0-9]$/.test(ev.key)) keypad(ev.key);
      else if (ev.key === "Backspace") keypad("back");
      else if (ev.key === "Delete") keypad("C");
      else if (ev.key === "Enter") {
        if (active) return;
        if (S.digits) charge();
        else if (S.sale) newSale();
      } else if (ev.key === "Escape" && active) cancelSale();
      else return;
      ev.preventDefault();
    });
    // The manager role ends on the server after 15 idle minutes: leave the manager view
    // then, rather than at the next click.
    setInterval(async () => {
      if (S.view !== "manager") return;
      try {
        const in_ = await api("GET", "/ui/session");
        if (in_.role !== "manager") {
          S.session = in_;
          showPIN(t("session_expired"));
        }
      } catch (_) {}
    }, 30000);
    // Countdowns move without server events.
    setInterval(() => {
      const a = lastAttempt(S.sale);
      if (S.view === "cashier" && S.sale && (S.sale.state === "paying" || (a && !["failed", "reversed", "paid"].includes(a.state)))) renderCashier();
    }, 250);
  }

  wire();
  applyLang();
  start();
})();
