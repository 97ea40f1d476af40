// posd's customer display (/customer): the second screen facing the customer. It shows
// the open sale's amount, the QR code of a QR Code Payment with its countdown, then paid
// or not paid, in English and Traditional Chinese at once (the chosen language first).
// Plain DOM; every text from the server goes in through textContent.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const T = {
    en: {
      welcome: "Welcome",
      to_pay: "Amount to pay",
      show_code: "Show your WeChat Pay payment code to the cashier",
      processing: "Processing your payment…",
      confirm_phone: "Please confirm the payment on your phone",
      scan_qr: "Scan with WeChat to pay",
      scan_hint: "WeChat › Scan, then pay on your phone",
      time_left: "{t} left",
      expired: "This QR code has expired",
      checking: "Checking the payment…",
      paid: "Paid — thank you",
      not_paid: "Not paid",
      not_paid_hint: "No money was taken. Please ask the cashier.",
      login: "Open this page on the till, or log in on the till's screen first",
      offline: "Reconnecting to the till…",
      demo_pay: "Demo: the customer scans and pays",
      demo_paid: "The simulated customer paid",
      lang: "中文",
    },
    zh: {
      welcome: "歡迎光臨",
      to_pay: "應付金額",
      show_code: "請向收銀員出示微信支付付款碼",
      processing: "正在處理付款…",
      confirm_phone: "請在手機上確認付款",
      scan_qr: "請用微信掃碼支付",
      scan_hint: "微信 › 掃一掃，然後在手機上付款",
      time_left: "尚餘 {t}",
      expired: "此二維碼已過期",
      checking: "正在確認付款…",
      paid: "付款成功，多謝惠顧",
      not_paid: "未付款",
      not_paid_hint: "沒有扣款，請向收銀員查詢。",
      login: "請在收銀機上打開此頁，或先在收銀機畫面登入",
      offline: "正在重新連接收銀機…",
      demo_pay: "示範：顧客掃碼並付款",
      demo_paid: "模擬顧客已付款",
      lang: "English",
    },
  };
  const params = new URLSearchParams(location.search);
  const S = {
    lang: params.get("lang") === "zh" || params.get("lang") === "zh-Hant" ? "zh" : localStorage.getItem("posd.customer.lang") || "en",
    session: null,
    offset: 0,
    sale: null,
    endedAt: 0, // when the current sale ended (paid / not paid is shown for a while)
    es: null,
    online: true,
  };
  const SHOW_RESULT_MS = 15000;
  const other = () => (S.lang === "en" ? "zh" : "en");
  function t(key, lang, vars) {
    let s = T[lang || S.lang][key] || key;
    if (vars) for (const k in vars) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  }
  const now = () => Date.now() + S.offset;
  function money(cents, cur) {
    const sym = { HKD: "HK$", CNY: "¥", USD: "US$" }[cur] || (cur || "") + " ";
    const v = Math.abs(cents);
    return (cents < 0 ? "-" : "") + sym + " " + Math.floor(v / 100).toLocaleString("en-US") + "." + String(v % 100).padStart(2, "0");
  }
  const open = (s) => s && (s.state === "awaiting_scan" || s.state === "paying");
  const lastAttempt = (s) => (s && s.attempts && s.attempts.length ? s.attempts[s.attempts.length - 1] : null);
  function qrAttempt(s) {
    const a = lastAttempt(s);
    return a && a.kind === "qr" ? a : null;
  }

  async function getJSON(path, opt) {
    const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opt || {}));
    const data = await r.json().catch(() => null);
    if (!r.ok) {
      const e = new Error((data && data.message) || r.statusText);
      e.status = r.status;
      throw e;
    }
    return data;
  }

  // view decides what the screen shows from the sale alone.
  function view() {
    const s = S.sale;
    if (!S.session || S.session.role === "none") return { state: "login" };
    if (!s) return { state: "idle" };
    const a = lastAttempt(s);
    const qa = qrAttempt(s);
    if (s.state === "paid") return now() - S.endedAt < SHOW_RESULT_MS ? { state: "paid", s } : { state: "idle" };
    if (s.state === "cancelled") return now() - S.endedAt < SHOW_RESULT_MS ? { state: "notpaid", s } : { state: "idle" };
    if (qa && qa.code_url && !["paid", "failed", "reversed"].includes(qa.state)) {
      const left = qa.expires_at ? new Date(qa.expires_at).getTime() - now() : 0;
      if (left > 0 && qa.phase !== "reversing") return { state: "qr", s, a: qa, left };
      return { state: "checking", s, a: qa };
    }
    if (s.state === "paying") return { state: a && a.phase === "waiting_customer" ? "confirm" : "processing", s };
    if (a && (a.state === "failed" || a.state === "reversed") && now() - S.endedAt < SHOW_RESULT_MS) return { state: "notpaid", s };
    return { state: "amount", s };
  }

  function fmtLeft(ms) {
    const sec = Math.max(0, Math.ceil(ms / 1000));
    return Math.floor(sec / 60) + ":" + String(sec % 60).padStart(2, "0");
  }

  let shownQR = "";
  function render() {
    const v = view();
    document.body.dataset.state = v.state;
    document.documentElement.lang = S.lang === "zh" ? "zh-Hant" : "en";
    $("merchant").textContent = (S.session && S.session.merchant) || "";
    const lines = {
      login: ["login", null],
      idle: ["welcome", null],
      amount: ["to_pay", "show_code"],
      processing: ["processing", null],
      confirm: ["confirm_phone", null],
      qr: ["scan_qr", "scan_hint"],
      checking: ["checking", null],
      paid: ["paid", null],
      notpaid: ["not_paid", "not_paid_hint"],
    }[v.state] || ["welcome", null];
    if (!S.online && v.state !== "login") lines[1] = "offline";
    $("headline").textContent = t(lines[0]);
    $("headline2").textContent = t(lines[0], other());
    $("hint").textContent = lines[1] ? t(lines[1]) : "";
    $("hint2").textContent = lines[1] ? t(lines[1], other()) : "";
    $("amount").textContent = v.s && v.state !== "idle" ? money(v.s.amount, v.s.currency) : "";
    const qr = $("qr");
    qr.hidden = v.state !== "qr";
    if (v.state === "qr") {
      const src = "/api/v1/sales/" + encodeURIComponent(v.s.id) + "/qr.svg?o=" + encodeURIComponent(v.a.out_trade_no);
      if (shownQR !== src) {
        $("qr-img").src = src;
        shownQR = src;
      }
      const cd = $("countdown");
      cd.textContent = t("time_left", null, { t: fmtLeft(v.left) }) + " · " + t("time_left", other(), { t: fmtLeft(v.left) });
      cd.classList.toggle("low", v.left < 30000);
    }
    $("demo").hidden = !(v.state === "qr" && S.session && S.session.demo_customer);
    $("demo-pay").textContent = t("demo_pay");
    $("btn-lang").textContent = t("lang");
  }

  function onSale(sale) {
    const cur = S.sale;
    if (cur && sale.id === cur.id) {
      if ((sale.version || 0) < (cur.version || 0)) return;
      const before = lastAttempt(cur);
      const after = lastAttempt(sale);
      const attemptEnded = after && ["failed", "reversed"].includes(after.state) && (!before || before.state !== after.state || before.out_trade_no !== after.out_trade_no);
      if ((open(cur) && !open(sale)) || attemptEnded) S.endedAt = now();
      S.sale = sale;
    } else if (open(sale)) {
      S.sale = sale;
      S.endedAt = 0;
    } else {
      return;
    }
    render();
  }

  function openEvents() {
    if (S.es) S.es.close();
    const es = new EventSource("/api/v1/events");
    S.es = es;
    es.addEventListener("sale", (ev) => {
      try {
        onSale(JSON.parse(ev.data));
      } catch (_) {}
    });
    es.onopen = () => {
      S.online = true;
      findCurrent();
    };
    es.onerror = () => {
      S.online = false;
      render();
    };
  }

  async function findCurrent() {
    try {
      const sales = await getJSON("/api/v1/sales");
      const cur = sales.find(open) || null;
      if (cur && S.sale && S.sale.id === cur.id) {
        onSale(cur); // keeps whichever of the two is newer
      } else if (cur) {
        S.sale = cur;
        S.endedAt = 0;
      } else if (S.sale && open(S.sale)) {
        // The sale ended while this page was away: show its latest state.
        const s = sales.find((x) => x.id === S.sale.id);
        if (s) onSale(s);
      }
    } catch (_) {}
    render();
  }

  async function start() {
    try {
      S.session = await getJSON("/ui/session");
      S.offset = new Date(S.session.server_time).getTime() - Date.now();
    } catch (_) {
      S.session = null;
    }
    render();
    if (S.session && S.session.role !== "none") {
      openEvents();
      await findCurrent();
    }
  }

  $("btn-lang").addEventListener("click", () => {
    S.lang = other();
    localStorage.setItem("posd.customer.lang", S.lang);
    render();
  });
  $("demo-pay").addEventListener("click", async () => {
    const msg = $("demo-msg");
    msg.textContent = "";
    try {
      await getJSON("/api/v1/demo/customer-pays", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": (S.session && S.session.csrf) || "" },
        body: JSON.stringify({ sale_id: S.sale.id }),
      });
      msg.textContent = t("demo_paid");
    } catch (e) {
      msg.textContent = e.message;
    }
  });
  setInterval(render, 250); // countdown, and the paid / not paid screens time out
  start();
})();
