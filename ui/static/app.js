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
  // t translates key with {name} values; with a number n it takes "key.one" for 1
  // ("1 try left"), the plain key otherwise. Missing in the current language: English.
  function t(key, vars) {
    const dict = I18N[S.lang] || I18N.en;
    let k = key;
    if (vars && vars.n === 1 && (dict[key + ".one"] || I18N.en[key + ".one"])) k = key + ".one";
    let s = dict[k] || I18N.en[k] || key;
    if (vars) for (const v in vars) s = s.split("{" + v + "}").join(String(vars[v]));
    return s;
  }
  const has = (key) => !!(I18N.en[key] && I18N[S.lang] && I18N[S.lang][key]);
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
  // Times are shown on the till's clock (tz_offset from the server: Hong Kong), whatever
  // the browser's zone is, as YYYY-MM-DD HH:MM:SS: never 12/04/2026, never nanoseconds.
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
  function fmtDate(ts) {
    return tillISO(ts).slice(0, 10);
  }
  function fmtDateTime(ts) {
    const s = tillISO(ts);
    return s ? s.slice(0, 10) + " " + s.slice(11, 19) : "";
  }
  // A time of today shows as 10:15:02, another day's with its date.
  function fmtWhen(ts) {
    const d = fmtDate(ts);
    return d && S.session && d === S.session.today ? fmtTime(ts) : fmtDateTime(ts);
  }
  // errKey is the i18n key of an error's sentence: its code, or the group WeChat's
  // spellings of one meaning share (in a refund, some codes mean something else).
  function errKey(e, ctx) {
    if (!e || !e.code) return "";
    const g = (ctx === "refund" && I18N.refund_codes[e.code]) || I18N.codes[e.code] || e.code;
    return "err." + g;
  }
  function errVars(e) {
    if (e.tries_left) return { n: e.tries_left };
    if (e.retry_after) return { n: Math.ceil(e.retry_after / 60) };
    return undefined;
  }
  // errText is the sentence for an error: in English the server's own sentence (often
  // more precise, e.g. which kind of barcode), in Chinese the translation by code.
  function errText(e, ctx) {
    if (!e) return "";
    const k = errKey(e, ctx);
    if (S.lang === "en" && e.message) return e.message;
    if (k && has(k)) return t(k, errVars(e));
    if (S.lang !== "en" && e.code && !I18N.codes[e.code]) return t("err.wx_other");
    return e.message || String(e.code || e);
  }
  // rescan says whether scanning again can help after this refusal.
  function rescan(e) {
    const g = (e && (I18N.codes[e.code] || e.code)) || "";
    return I18N.rescan.includes(g);
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
      e.tries_left = er.tries_left;
      e.retry_after = er.retry_after;
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
    document.querySelectorAll("[data-i18n-title]").forEach((el) => el.setAttribute("title", t(el.dataset.i18nTitle)));
    $("btn-lang").textContent = t("lang_switch");
    $("toast").className = ""; // a message in the other language is gone
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
    return I18N.en[key] ? t(key, { n: a.count || 0 }) : a.message;
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

  function progressOf(from, to) {
    const start = new Date(from).getTime();
    const end = new Date(to).getTime();
    return end > start ? Math.min(1, Math.max(0, (now() - start) / (end - start))) : null;
  }

  // CASHIER_STATES: what the cashier's screen shows for each state of the sale on it. Each
  // entry returns {cls, title, detail, time, progress, err, extra}; renderCashier draws it.
  // A new way to pay (a QR code the customer scans, say) adds its state here.
  const CASHIER_STATES = {
    idle: () => ({ cls: "idle", title: t("enter_amount"), detail: t("enter_amount_hint") }),
    awaiting_scan: (sale, a) => {
      const v = { cls: "scan", title: t("scan_prompt"), detail: t("scan_hint") };
      const err = S.notice || (a && (a.state === "failed" || a.state === "reversed") && a.error) || null;
      if (err) {
        // After a refusal the cashier either scans again (the code expired, the order was
        // reversed) or asks for another way to pay (not enough balance): the heading says which.
        v.cls = "failed";
        v.title = rescan(err) ? t("scan_again") : t("pay_another_way");
        v.err = err;
      }
      return v;
    },
    paying: (sale, a) => {
      if (a && a.kind === "qr" && a.state !== "unresolved") return qrPaying(a);
      const phase = (a && a.phase) || "sending";
      const v = { cls: "paying", title: has(phase) ? t(phase) : phase, detail: phase === "waiting_customer" ? t("waiting_customer_hint") : "" };
      if (a && a.state === "unresolved") Object.assign(v, { cls: "unresolved", title: t("unresolved"), detail: t("unresolved_hint") });
      if (a && a.deadline && a.started_at) {
        const end = new Date(a.deadline).getTime();
        if (phase === "reversing" && a.reverse_after && new Date(a.reverse_after).getTime() > now()) {
          v.time = t("reverse_in", { n: secondsLeft(a.reverse_after) });
        } else if (phase !== "reversing" && end > now()) {
          v.time = t("time_left", { n: secondsLeft(a.deadline) });
        }
        v.progress = progressOf(a.started_at, a.deadline);
      }
      return v;
    },
    paid: (sale) => {
      const v = { cls: "paid", title: t("paid"), extra: [] };
      const p = (sale.attempts || []).find((x) => x.state === "paid");
      if (p) {
        if (p.wallet) {
          const pa = p.payer_amount ? money(p.payer_amount, p.wallet) : money(sale.amount, sale.currency);
          v.extra.push(h("div", { class: "wallet", text: t("paid_wallet", { amount: pa, wallet: p.wallet }) }));
        }
        if (p.transaction_id) v.extra.push(h("div", { class: "small", text: t("paid_tx", { id: p.transaction_id }) }));
      }
      const refunded = refundedOf(sale);
      if (refunded) v.extra.push(h("div", { class: "small", text: t("refunded", { amount: money(refunded, sale.currency) }) }));
      return v;
    },
    cancelled: (sale, a) => {
      const v = { cls: "cancelled", title: t("cancelled"), detail: t("cancelled_hint") };
      if (a && !["failed", "reversed", "paid"].includes(a.state)) {
        // The attempt in flight is being reversed; WeChat allows it only from t0 + 15 s.
        v.cls = "reversing";
        v.detail = t(a.phase === "refunding" ? "refunding" : "reversing");
        if (a.reverse_after && new Date(a.reverse_after).getTime() > now()) {
          v.time = t("reverse_in", { n: secondsLeft(a.reverse_after) });
          v.progress = progressOf(a.started_at, a.reverse_after);
        }
      } else if (a && a.state === "paid") {
        v.detail = t("refunding");
      }
      return v;
    },
  };

  // qrPaying: a QR Code Payment in flight. The customer display shows the code until it
  // expires; after that (or after a cancel) posd checks it was not paid and closes it.
  function qrPaying(a) {
    const v = { cls: "scan", title: t("qr_creating"), detail: "" };
    if (!a.code_url) return v;
    const left = a.expires_at ? new Date(a.expires_at).getTime() - now() : 0;
    if (left > 0 && a.phase !== "reversing") {
      v.title = t("qr_shown");
      v.detail = t("qr_shown_hint");
      v.time = t("qr_time_left", { n: secondsLeft(a.expires_at) });
      v.progress = progressOf(a.started_at, a.expires_at);
    } else v.title = t("qr_checking");
    return v;
  }

  function refundedOf(sale) {
    return (sale.refunds || []).filter((r) => r.state !== "failed").reduce((n, r) => n + r.amount, 0);
  }

  function renderCashier() {
    const sale = S.sale;
    let amount = parseInt(S.digits || "0", 10);
    let cur = (S.session && S.session.currency) || "HKD";
    const active = sale && (sale.state === "awaiting_scan" || sale.state === "paying");
    const done = sale && (sale.state === "paid" || sale.state === "cancelled");
    let v = CASHIER_STATES.idle();
    if (sale && (active || (done && S.digits === "")) && CASHIER_STATES[sale.state]) {
      amount = sale.amount;
      cur = sale.currency;
      v = CASHIER_STATES[sale.state](sale, lastAttempt(sale));
    }
    $("state").className = "state state-" + v.cls;
    $("state-title").textContent = v.title;
    const detail = clear($("state-detail"));
    if (v.err) {
      const k = errKey(v.err);
      detail.append(h("div", { class: "error-msg", "data-code": v.err.code, "data-key": k, title: v.err.message || "", text: errText(v.err) }));
    } else if (v.detail) detail.append(h("div", { text: v.detail }));
    (v.extra || []).forEach((x) => detail.append(x));
    $("state-time").textContent = v.time || "";
    const progress = v.progress === undefined ? null : v.progress;
    $("progress").hidden = progress === null;
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
      toast(t("reprint_done"));
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

  // A receipt is shown as the printer would print it: the image rendered from the same
  // bytes the printer gets; without an image, as clean text (the decoder's alignment
  // and emphasis marks taken out).
  function receiptText(text) {
    return (text || "")
      .split("\n")
      .filter((l) => l !== "--- cut ---" && l !== "[DRAWER]")
      .map((l) => l.replace(/^[LCR]\|/, "").replace(/\*\*|__|\^\^/g, ""))
      .join("\n")
      .replace(/\n+$/, "");
  }
  function renderReceipts(box, rs) {
    clear(box);
    if (!rs || !rs.length) {
      box.append(h("p", { class: "muted", text: t("no_receipts") }));
      return;
    }
    for (const r of rs) {
      const kind = has("receipt_kind_" + r.kind) ? t("receipt_kind_" + r.kind) : r.kind;
      const state = has("receipt_state_" + r.state) ? t("receipt_state_" + r.state) : r.state;
      box.append(
        h(
          "figure",
          { class: "receipt", "data-id": r.id },
          r.has_png
            ? h("img", { src: "/api/v1/receipts/" + encodeURIComponent(r.id) + ".png", alt: receiptText(r.text) })
            : h("pre", { text: receiptText(r.text) }),
          h("figcaption", { text: [fmtWhen(r.at), kind, state].filter(Boolean).join(" · ") })
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

  // The date is typed or stepped as YYYY-MM-DD (a browser's date picker writes it the
  // way the browser's locale does: 12/04/2026 is ambiguous in Hong Kong).
  function dateValue() {
    const v = $("f-date").value.trim();
    return /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : (S.session && S.session.today) || "";
  }
  function stepDate(days) {
    const d = new Date(dateValue() + "T12:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    $("f-date").value = d.toISOString().slice(0, 10);
    dateChanged();
  }
  function dateChanged() {
    const v = $("f-date").value.trim();
    const ok = /^\d{4}-\d{2}-\d{2}$/.test(v) && !isNaN(new Date(v + "T12:00:00Z"));
    $("f-date").classList.toggle("invalid", !ok);
    $("f-date").title = ok ? "" : t("date_bad");
    if (ok) loadTab();
  }

  // saleNo is the sale's number of the day: HK001-T01-261126-7 → 7.
  function saleNo(id) {
    const m = /-(\d+)$/.exec(id || "");
    return m ? m[1] : id;
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
    // The running total is the net taken so far in the day (paid − refunded), oldest first.
    const running = {};
    let net = 0,
      paidSum = 0,
      refundSum = 0;
    for (const s of sales.slice().reverse()) {
      const paid = s.state === "paid" ? s.amount : 0;
      const ref = refundedOf(s);
      paidSum += paid;
      refundSum += ref;
      net += paid - ref;
      running[s.id] = net;
    }
    for (const s of sales) {
      const p = (s.attempts || []).find((a) => a.state === "paid");
      const ref = refundedOf(s);
      body.append(
        h(
          "tr",
          { class: "clickable" + (s.id === S.detailID ? " selected" : ""), "data-state": s.state, "data-id": s.id, title: s.id, onclick: () => openDetail(s.id) },
          h("td", { class: "num", text: saleNo(s.id) }),
          h("td", { text: fmtTime(s.created_at) }),
          h("td", { class: "num", text: money(s.amount, s.currency) }),
          h("td", null, h("span", { class: "pill " + s.state, text: t("state_" + s.state) })),
          h("td", { text: p ? p.wallet || "" : "" }),
          h("td", { class: "num refunded", text: ref ? "−" + money(ref, s.currency) : "" }),
          h("td", { class: "num", text: money(running[s.id], s.currency) }),
          h("td", { text: s.reference || "" })
        )
      );
    }
    const cur = (sales[0] && sales[0].currency) || undefined;
    $("sales-total").textContent = sales.length ? t("sales_total", { paid: money(paidSum, cur), refunded: money(refundSum, cur), net: money(net, cur) }) : "";
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
    return Math.max(0, sale.amount - refundedOf(sale));
  }

  function renderDetail(sale) {
    const box = clear($("detail"));
    box.hidden = false;
    document.querySelectorAll("#sales-body tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === sale.id));
    box.append(
      h("h3", null, t("sale") + " " + saleNo(sale.id) + " ", h("span", { class: "mono small muted", text: sale.id })),
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
    if ((sale.refunds || []).length) {
      box.append(h("h4", { text: t("refunds") }));
      box.append(
        h(
          "table",
          { class: "grid", id: "refunds" },
          h(
            "tbody",
            null,
            sale.refunds.map((r) =>
              h(
                "tr",
                null,
                h("td", { text: fmtTime(r.created_at) }),
                h("td", { class: "num", text: money(r.amount, sale.currency) }),
                h("td", null, h("span", { class: "pill " + r.state, text: has("refund_state_" + r.state) ? t("refund_state_" + r.state) : r.state })),
                h("td", { text: r.reason || "" }),
                h("td", { text: r.error ? errText(r.error, "refund") : "" })
              )
            )
          )
        )
      );
    }
    const left = refundable(sale);
    box.append(h("div", { class: "actions-row" }, h("button", { onclick: () => reprint(sale.id), text: t("reprint") })));
    if (left > 0) box.append(refundForm(sale, left));
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
          a.error ? h("p", { class: "error-msg", title: a.error.code || "", text: errText(a.error) }) : null,
          h(
            "details",
            null,
            h("summary", { text: t("timeline") }),
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
        )
      );
    }
  }

  // refundForm asks for an amount, then shows the amount back with a confirmation before
  // any money moves: a refund cannot be taken back.
  function refundForm(sale, left) {
    const amt = h("input", { id: "refund-amount", type: "text", inputmode: "decimal", value: (left / 100).toFixed(2), size: 8 });
    const reason = h("input", { id: "refund-reason", type: "text", maxlength: 80, placeholder: t("refund_reason") });
    const msg = h("p", { id: "refund-msg", class: "msg" });
    const ask = h("div", { class: "refund-ask" });
    const confirmBox = h("div", { id: "refund-confirm", class: "refund-confirm", hidden: true });
    const confirm = (cents) => {
      msg.textContent = "";
      msg.className = "msg";
      if (!(cents > 0) || cents > left) {
        msg.textContent = t("refund_bad_amount", { amount: money(left, sale.currency) });
        msg.className = "msg error";
        return;
      }
      const m = money(cents, sale.currency);
      clear(confirmBox).append(
        h("p", { class: "confirm-q", text: t("refund_confirm", { amount: m }) }),
        h("p", { class: "muted small", text: t("refund_confirm_hint") }),
        h(
          "div",
          { class: "actions-row" },
          h("button", { type: "button", id: "btn-refund-back", text: t("back"), onclick: () => ((confirmBox.hidden = true), (ask.hidden = false)) }),
          h("button", { type: "button", id: "btn-refund-yes", class: "danger-solid", text: t("refund_confirm_button", { amount: m }), onclick: () => send(cents) })
        )
      );
      ask.hidden = true;
      confirmBox.hidden = false;
    };
    const send = async (cents) => {
      try {
        const s = await api("POST", "/api/v1/sales/" + encodeURIComponent(sale.id) + "/refunds", { amount: cents, reason: reason.value });
        toast(t("refund_done"));
        renderDetail(s);
        if (S.tab === "sales") loadSales();
      } catch (e) {
        confirmBox.hidden = true;
        ask.hidden = false;
        msg.textContent = errText(e, "refund");
        msg.className = "msg error";
      }
    };
    ask.append(
      h("label", null, t("refund_amount") + " ", amt),
      " ",
      reason,
      " ",
      h("button", { type: "submit", id: "btn-refund", text: t("refund") }),
      " ",
      h("button", { type: "button", id: "btn-refund-full", class: "danger", text: t("refund_full"), onclick: () => confirm(left) })
    );
    return h(
      "form",
      {
        class: "refund",
        id: "refund-form",
        onsubmit: (ev) => {
          ev.preventDefault();
          confirm(Math.round(parseFloat(amt.value) * 100));
        },
      },
      h("h4", { text: t("refund") + " — " + t("refundable", { amount: money(left, sale.currency) }) }),
      ask,
      confirmBox,
      msg
    );
  }

  // Needs attention lists what a manager must act on, each with what to do; the jobs posd
  // is still working on by itself (a refund waiting for WeChat's answer) are listed apart
  // as nothing to do.
  async function loadJobs() {
    const box = clear($("jobs"));
    let js;
    try {
      js = await api("GET", "/api/v1/jobs");
    } catch (e) {
      box.append(h("p", { class: "error-msg", text: errText(e) }));
      return;
    }
    const att = js.filter((j) => j.attention);
    const waiting = js.filter((j) => !j.attention);
    const kind = (j) => (has("job_kind_" + j.kind) ? t("job_kind_" + j.kind) : j.kind);
    const saleLink = (j) =>
      h("a", { href: "#", text: t("sale") + " " + saleNo(j.sale_id), title: j.sale_id, onclick: (ev) => (ev.preventDefault(), selectTab("sales"), openDetail(j.sale_id)) });
    if (!att.length) box.append(h("p", { class: "muted", id: "jobs-none", text: t("jobs_none") }));
    for (const j of att) {
      // posd's advice is English; in Chinese, the advice for the kind of job.
      const advice = S.lang === "en" && j.advice ? j.advice : t(has("advice_" + j.kind) ? "advice_" + j.kind : "advice_other");
      box.append(
        h(
          "div",
          { class: "card attention-item", "data-kind": j.kind },
          h("h4", null, kind(j), " · ", saleLink(j)),
          h("p", { class: "advice" }, h("strong", { text: t("advice") + ": " }), advice),
          h("p", { class: "small muted", text: [t("tries") + " " + j.tries, j.last_error ? t("last_error") + ": " + j.last_error : ""].filter(Boolean).join(" · ") })
        )
      );
    }
    if (waiting.length) {
      box.append(
        h("h4", { class: "muted", text: t("jobs_waiting") }),
        h(
          "table",
          { class: "grid", id: "jobs-waiting" },
          h("thead", null, h("tr", null, ["kind", "sale", "tries", "due"].map((c) => h("th", { text: t(c) })))),
          h("tbody", null, waiting.map((j) => h("tr", null, h("td", { text: kind(j) }), h("td", null, saleLink(j)), h("td", { class: "num", text: j.tries }), h("td", { text: fmtWhen(j.due) }))))
        )
      );
    }
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
    const card = (label, value, small) =>
      h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: "value", text: value }), small ? h("div", { class: "small", text: small }) : null);
    const hours = Object.keys(r.by_hour || {})
      .map(Number)
      .sort((a, b) => a - b);
    box.append(
      h("h3", null, t("tab_day") + " " + r.date + " ", S.session.print_report ? h("button", { id: "btn-print-report", type: "button", text: t("print_report"), onclick: () => printReport(date) }) : null),
      h(
        "div",
        { class: "cards" },
        card(t("day_paid"), money(r.paid.amount, r.currency), t("count") + " " + r.paid.count),
        card(t("day_refunds"), money(r.refunds.amount, r.currency), t("count") + " " + r.refunds.count + (r.refunds_open && r.refunds_open.count ? " · " + t("day_refunds_open", { amount: money(r.refunds_open.amount, r.currency) }) : "")),
        card(t("day_net"), money(r.net, r.currency)),
        card(t("day_unresolved"), String(r.unresolved))
      ),
      h("div", { class: "day-grid" },
        h("div", null,
          h("h4", { text: t("day_by_wallet") }),
          h(
            "table",
            { class: "grid", id: "wallets" },
            h("thead", null, h("tr", null, ["wallet", "count", "amount", "payer_amount"].map((c) => h("th", { text: t(c) })))),
            h("tbody", null, (r.wallets || []).map((w) => h("tr", null, h("td", { text: w.wallet || "?" }), h("td", { class: "num", text: w.count }), h("td", { class: "num", text: money(w.amount, r.currency) }), h("td", { class: "num", text: money(w.payer_amount, w.wallet) }))))
          ),
          h("h4", { text: t("day_sales") }),
          kvTable(Object.fromEntries(Object.entries(r.sales || {}).map(([k, v]) => [t("state_" + k), v])))
        ),
        h("div", null,
          h("h4", { text: t("day_by_hour") }),
          h(
            "table",
            { class: "grid", id: "by-hour" },
            h("thead", null, h("tr", null, ["time", "count", "amount"].map((c) => h("th", { text: t(c) })))),
            h("tbody", null, hours.map((hr) => h("tr", { "data-hour": hr }, h("td", { text: String(hr).padStart(2, "0") + ":00–" + String(hr).padStart(2, "0") + ":59" }), h("td", { class: "num", text: r.by_hour[hr].count }), h("td", { class: "num", text: money(r.by_hour[hr].amount, r.currency) }))))
          )
        )
      )
    );
    if ((r.problems || []).length) {
      box.append(h("h4", { text: t("day_problems") }), h("ul", null, r.problems.map((p) => h("li", { text: p }))));
    }
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
      toast(t("print_report_done"));
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
    const res = rec.result;
    if (!res) {
      // Not an error: WeChat makes the statement the next morning.
      box.append(h("p", { id: "recon-none", class: "muted", text: t("recon_none") + (rec.next_try ? " " + t("recon_next", { time: fmtDateTime(rec.next_try) }) : "") }));
    } else {
      const st = has("recon_state_" + res.state) ? t("recon_state_" + res.state) : res.state;
      box.append(
        h("p", { id: "recon-state", class: res.state === "done" ? "" : "muted" },
          h("strong", { text: st }),
          " · " + t("recon_checked", { time: fmtDateTime(res.checked_at) }),
          res.alerts ? " · " + t("recon_differences", { n: res.alerts }) : "",
          res.state !== "done" && rec.next_try ? " · " + t("recon_next", { time: fmtDateTime(rec.next_try) }) : ""
        )
      );
      if (res.error) box.append(h("p", { class: "small muted", text: res.error }));
    }
    if (rec.can_run) {
      box.append(
        h("button", {
          id: "btn-recon",
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
    if (!res) return;
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

  // Devices: one card per device in words (is it working, since when, what to do), the
  // raw documents behind "details" for support.
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
    if (al.length) box.append(h("ul", { class: "alert-list" }, al.map((a) => h("li", { class: "alert-line " + a.severity, text: alertText(a) }))));
    const dev = d.devices || {};
    const cards = h("div", { class: "device-cards" });
    const devCard = (id, title, ok, lines) =>
      h("div", { class: "card device " + (ok ? "ok" : "bad"), "data-device": id },
        h("div", { class: "device-head" }, h("span", { class: "dot" }), h("strong", { text: title }), h("span", { class: "device-state", text: ok ? t("dev_ok") : t("dev_problem") })),
        lines.filter(Boolean).map((l) => h("div", { class: "device-line", text: l }))
      );
    for (const sc of dev.scanners || []) {
      const since = sc.since ? fmtWhen(sc.since) : "";
      cards.append(
        devCard("scanner", t("dev_scanner", { name: sc.name }), sc.connected, [
          sc.connected ? (since ? t("dev_connected_since", { time: since }) : t("dev_connected")) : since ? t("dev_disconnected_since", { time: since }) : t("dev_disconnected"),
          sc.last_scan ? t("dev_last_scan", { time: fmtWhen(sc.last_scan) }) : t("dev_no_scan"),
          t("dev_scans", { n: sc.scans || 0 }),
        ])
      );
    }
    const p = dev.printer;
    if (p) {
      const ok = p.state === "ready" || p.state === "printing" || p.state === "paper_near_end";
      cards.append(
        devCard("printer", t("dev_printer"), ok, [
          (has("dev_printer_" + p.state) ? t("dev_printer_" + p.state) : p.state) + (p.since ? " · " + t("dev_since", { time: fmtWhen(p.since) }) : ""),
          p.pending ? t("dev_pending", { n: p.pending }) : "",
        ])
      );
    } else cards.append(devCard("printer", t("dev_printer"), true, [t("dev_no_printer")]));
    if (dev.wechat) {
      cards.append(devCard("wechat", t("dev_wechat"), dev.wechat.reachable, [dev.wechat.reachable ? t("dev_wechat_ok") : t("dev_wechat_down"), dev.wechat.last_ok ? t("dev_wechat_last", { time: fmtWhen(dev.wechat.last_ok) }) : ""]));
    }
    if (dev.storage) cards.append(devCard("storage", t("dev_storage"), dev.storage.ok, [dev.storage.ok ? t("dev_storage_ok") : t("dev_storage_bad")]));
    const certs = dev.certificates || [];
    if (certs.length) {
      cards.append(
        devCard("certs", t("dev_certs"), certs.every((c) => c.days_left > 30), certs.map((c) => {
          const name = has("cert_" + c.kind) ? t("cert_" + c.kind) : c.name;
          return c.days_left < 0 ? t("dev_cert_expired", { name, date: fmtDate(c.not_after) }) : t("dev_cert_days", { name, n: c.days_left, date: fmtDate(c.not_after) });
        }))
      );
    }
    box.append(cards);
    if (dev.version) box.append(h("p", { class: "muted small", id: "version", text: t("dev_version", { v: dev.version }) }));
    box.append(h("details", { class: "raw" }, h("summary", { text: t("details") }), h("pre", { class: "small", text: JSON.stringify({ devices: dev, health: d.health }, null, 2) })));
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
    $("f-date").addEventListener("change", dateChanged);
    $("date-prev").addEventListener("click", () => stepDate(-1));
    $("date-next").addEventListener("click", () => stepDate(1));
    $("date-today").addEventListener("click", () => {
      $("f-date").value = S.session.today;
      dateChanged();
    });
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
