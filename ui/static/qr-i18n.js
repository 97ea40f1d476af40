// Texts of QR Code Payment on the cashier's screen, merged into the page's texts.
"use strict";
(function (I) {
  Object.assign(I.en, {
    show_qr: "Show QR",
    qr_shown: "The customer display shows the QR code",
    qr_shown_hint: "The customer scans it with WeChat and pays on the phone. Scanning is off until it ends.",
    qr_time_left: "{s} s left to pay",
    qr_checking: "QR code ended: checking it was not paid…",
    qr_creating: "Asking WeChat Pay for a QR code…",
  });
  Object.assign(I["zh-Hant"], {
    show_qr: "顯示二維碼",
    qr_shown: "顧客顯示屏正在顯示二維碼",
    qr_shown_hint: "顧客用微信掃碼並在手機上付款。二維碼結束前不能掃描付款碼。",
    qr_time_left: "尚餘 {s} 秒付款",
    qr_checking: "二維碼已結束：正在確認未有付款…",
    qr_creating: "正在向微信支付取得二維碼…",
  });
})(window.POSD_I18N);
