// Package ui serves the till's local HTTP API (/api/v1, as docs/interfaces.md names it) and the
// web UI for cashiers and managers, from assets embedded in the binary (ui/static: plain
// HTML, CSS and JavaScript, no build step, nothing loaded from outside the till).
//
// # Callers
//
// Two kinds of callers reach the same handlers:
//   - POS software, with "Authorization: Bearer <token>" (compared in constant time); a
//     refund also needs the X-Manager-PIN header. Browsers never send that header by
//     themselves, so these calls need no CSRF protection.
//   - The web page, with a same-origin session cookie (HttpOnly, SameSite=Strict) from
//     POST /ui/login {"token"}, from a one-time login link (GET /ui/link?code=..., made by
//     Server.LoginLink for posd demo or by POST /api/v1/login-links with the token), or,
//     only when Options.Kiosk says the request comes from the till's own kiosk browser,
//     from GET /ui/session without a login. Nothing else on the till gets a session
//     without a secret: any local process could otherwise take cashier rights. Every
//     state-changing call with a cookie must carry the session's anti-CSRF token in
//     X-CSRF-Token, a same-origin Origin (when the browser sends one) and a JSON content
//     type. Host names other than IP literals, "localhost" and Options.AllowedHosts are
//     refused, so a DNS rebinding site cannot become same-origin with the till.
//
// The manager area is a role of the session that ends after Options.ManagerTTL (15 min)
// without use. The PIN is asked only of a caller already logged in (a session with its
// CSRF token, or the token in the same body), checked once and never kept in the page.
// Wrong PINs are counted per source (IP address, IPv6 /64): after five, that source is
// locked out for 1 min, then 5 min, 30 min, 2 h, 8 h and a day for each further wrong PIN
// (429, Retry-After, code pin_locked); a success elsewhere unlocks nobody, and the state
// is kept in Options.PINLockouts (the journal's bbolt file) across restarts. Logged-in
// sessions and kiosk sessions have pools of their own (256 and 8); a session with a live
// manager role is never evicted. Sessions live in memory; after a restart the page asks
// for a login (or the kiosk gets a new one).
//
// # Calls
//
// docs/api.md describes the API for POS developers and docs/openapi.yaml is its OpenAPI 3
// description; openapi_test.go checks both against apiRoutes, the codes and real answers.
// The calls:
//
//	POST /api/v1/sales                 {"amount","currency","description","reference","auth_code"} → 201 sale
//	GET  /api/v1/sales?date=YYYY-MM-DD the day's sales, newest first (&state= &wallet= &q=)
//	GET  /api/v1/sales/{id}            the sale
//	POST /api/v1/sales/{id}/cancel     cancel (an attempt in flight is reversed)
//	POST /api/v1/sales/{id}/refunds    {"amount","reason"}, X-Manager-PIN (or a manager session) → 201 sale
//	GET  /api/v1/events                SSE: "sale" with the whole sale on every change; "notice" for a refused scan (64 open at most, 4 per session, 16 for bearer callers, 2 kept for the till's screen)
//
// Extensions:
//
//	POST /api/v1/sales/{id}/pay        {"auth_code"}: pay this sale (the POS scanned the code itself, or
//	                                   several sales are open: a scanner's code goes to a sale only
//	                                   when exactly one waits for a code and no payment is in progress;
//	                                   otherwise the scan is refused, sale_busy or scan_ambiguous 409)
//	POST /api/v1/sales/{id}/reprint    print the sale's receipt again
//	POST /api/v1/sales/{id}/qr         QR Code Payment: show a QR code for the sale → 200 sale (501 qr_disabled
//	                                   without wxpay.notify_url; 409 sale_busy while a payment is in progress)
//	GET  /api/v1/sales/{id}/qr.svg     the shown QR code as SVG, for the customer display (404 no_qr when none)
//	POST /api/v1/scan                  {"code"}: the demo's virtual scanner (demo only)
//	GET  /api/v1/status                engine status, alerts for the till, server time
//	GET  /api/v1/demo                  demo flag and the simulator's amount table
//	POST /api/v1/demo/customer-pays    {"sale_id"}: the simulated customer pays the shown QR code (demo only;
//	                                   404 not_demo/no_qr, 409 not_payable)
//	GET  /api/v1/receipts[?n=&sale=]   recent receipts (text; PNG at /api/v1/receipts/{id}.png); manager, or anyone in demo
//	GET  /api/v1/jobs                  the durable queue, "needs attention" first (manager)
//	GET  /api/v1/logs?level=&q=&n=     log lines (manager)
//	GET  /api/v1/devices               health, devices and certificates (manager)
//	GET  /api/v1/reports/day?date=     day (Z) report by wallet currency (manager)
//	POST /api/v1/reports/day/print?date=  print it on the receipt printer (manager)
//	GET  /api/v1/reports/reconciliation?date=  stored result; POST runs it now (manager)
//	GET  /api/v1/export/journal?date=&format=csv|json  journal download (manager)
//	POST /api/v1/login-links           a one-time login link for a browser (bearer only) → 201 {"path","expires_at"}
//	GET  /ui/session, POST /ui/login, POST /ui/logout ({"scope":"manager"} keeps the cashier), GET /ui/link?code=
//	GET  /customer                     the customer display's page (a page, not in apiRoutes; its data needs a session)
//
// Manager calls accept a manager session, or a bearer token with X-Manager-PIN.
//
// # Errors
//
// Every failure is {"error":{"code","message"}}, the message a sentence a person can act
// on. Text fields (description, reference, reason) refuse control and bidi characters
// (400 bad_request naming the field). Codes lists every code (engine.Codes and the UI's own constants); the page has a
// sentence in English and 繁體中文 for each, and for every wxpay.Codes code an attempt can
// carry (i18n_test.go). Engine codes map to statuses in exactly one place (errors.go): invalid_code 422,
// code_used/no_open_sale/sale_busy/scan_ambiguous/not_paid 409, not_found 404, bad_request 400,
// refund_exceeds 422, storage/stopping 503, wechat 502. The UI's own: unauthorized 401,
// pin_required 401, wrong_pin/manager_required/csrf/no_manager_pin/bearer_required 403, pin_locked 429,
// too_many_sessions/too_many_streams 503,
// method_not_allowed 405, too_large 413 (bodies over 64 KiB), unsupported_media_type 415,
// bad_host 421, loopback_only 403 (/healthz, /metrics), no_printer/no_reconciliation 501,
// reconcile_failed 502, print_failed/too_many_streams 503, internal 500; QR Code Payment:
// qr_disabled 501, no_qr/not_demo 404, not_payable 409.
package ui
