package ui

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"posd/queue/engine"
	"posd/queue/report"
	"posd/wxpay"
)

// i18nTable is ui/static/i18n.js: everything after "window.POSD_I18N =" is JSON.
type i18nTable struct {
	En          map[string]string `json:"en"`
	Zh          map[string]string `json:"zh-Hant"`
	Codes       map[string]string `json:"codes"`
	RefundCodes map[string]string `json:"refund_codes"`
	Rescan      []string          `json:"rescan"`
}

func loadI18N(t *testing.T) i18nTable {
	t.Helper()
	b, err := staticFS.ReadFile("static/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	_, js, ok := strings.Cut(string(b), "\nwindow.POSD_I18N =")
	if !ok {
		t.Fatal(`i18n.js: no "window.POSD_I18N ="`)
	}
	js = strings.TrimSuffix(strings.TrimSpace(js), ";")
	var tb i18nTable
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tb); err != nil {
		t.Fatalf("i18n.js is not the JSON table its comment promises: %v", err)
	}
	return tb
}

// has reports whether both languages have a non-empty text for key.
func (tb i18nTable) check(t *testing.T, what, key string) {
	t.Helper()
	if strings.TrimSpace(tb.En[key]) == "" {
		t.Errorf("%s: i18n.js has no English text %q", what, key)
	}
	if strings.TrimSpace(tb.Zh[key]) == "" {
		t.Errorf("%s: i18n.js has no 繁體中文 text %q", what, key)
	}
}

// TestI18N_EveryCode walks every code a person can be shown (the engine's refusals, the
// engine's own attempt codes, every WeChat/wxpay code, the API's own codes, alerts) and
// fails if the page lacks English or Traditional Chinese for it.
func TestI18N_EveryCode(t *testing.T) {
	tb := loadI18N(t)
	for _, c := range engine.Codes() {
		tb.check(t, "engine code", "err."+c)
	}
	for _, c := range engine.InfoCodes() {
		tb.check(t, "engine attempt code", "err."+c)
	}
	for _, c := range Codes() {
		tb.check(t, "API code", "err."+c)
	}
	for _, c := range wxpay.Codes() {
		g, ok := tb.Codes[c]
		if !ok {
			t.Errorf("wxpay code %s: not in i18n.js codes", c)
			continue
		}
		tb.check(t, "wxpay code "+c, "err."+g)
	}
	for _, c := range wxpay.RefundCodes() {
		g, ok := tb.RefundCodes[c]
		if !ok {
			g, ok = tb.Codes[c]
		}
		if !ok {
			t.Errorf("wxpay refund code %s: not in i18n.js refund_codes or codes", c)
			continue
		}
		tb.check(t, "wxpay refund code "+c, "err."+g)
	}
	for _, g := range tb.Rescan {
		tb.check(t, "rescan", "err."+g)
	}
	// The codes the issue found untranslated, by name.
	for _, c := range []string{"NOT_ENOUGH", "AUTHCODE_EXPIRE"} {
		if tb.Codes[c] == "" {
			t.Errorf("%s has no sentence", c)
		}
	}
	for _, c := range []string{"REVERSED", "CANCELLED"} {
		tb.check(t, "engine attempt code", "err."+c)
	}
	for _, c := range AlertCodes() {
		tb.check(t, "alert", "alert_"+c)
	}
	for _, s := range []engine.SaleState{engine.SaleAwaitingScan, engine.SalePaying, engine.SalePaid, engine.SaleCancelled} {
		tb.check(t, "sale state", "state_"+string(s))
	}
	for _, s := range []engine.AttemptState{engine.AttemptPaying, engine.AttemptPaid, engine.AttemptFailed, engine.AttemptReversed, engine.AttemptUnresolved} {
		tb.check(t, "attempt state", "state_"+string(s))
	}
	for _, p := range []engine.Phase{engine.PhaseSending, engine.PhaseWaitingCustomer, engine.PhaseQuerying, engine.PhaseReversing, engine.PhaseWaitingNetwork, engine.PhaseRefunding} {
		tb.check(t, "attempt phase", string(p))
	}
	for _, s := range []string{"pending", "processing", "success", "failed", "unresolved"} {
		tb.check(t, "refund state", "refund_state_"+s)
	}
	for _, c := range []report.Class{report.Matched, report.PaidNotLocal, report.MissingAtWeChat, report.AmountMismatch,
		report.CurrencyMismatch, report.ReversedAfterPayment, report.RefundMatched, report.RefundNotLocal,
		report.RefundMissingAtWeChat, report.RefundAmountMismatch} {
		tb.check(t, "reconciliation class", "recon_class_"+string(c))
		if c != report.Matched && c != report.RefundMatched {
			tb.check(t, "reconciliation advice", "recon_action_"+string(c))
		}
	}
	for _, k := range []string{"resolve", "refund"} {
		tb.check(t, "job kind", "job_kind_"+k)
		tb.check(t, "job advice", "advice_"+k)
	}
}

// TestI18N_EveryLabel checks every key the page names (data-i18n attributes in the HTML,
// t("...") in the script) and that both languages have the same keys.
func TestI18N_EveryLabel(t *testing.T) {
	tb := loadI18N(t)
	html, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`data-i18n(?:-ph|-title)?="([^"]+)"`).FindAllSubmatch(html, -1) {
		keys[string(m[1])] = true
	}
	for _, m := range regexp.MustCompile(`data-i18n(?:-ph|-title)?":\s*"([^"]+)"`).FindAllSubmatch(js, -1) {
		keys[string(m[1])] = true
	}
	for _, m := range regexp.MustCompile(`\bt\(\s*"([^"]+)"\s*[,)]`).FindAllSubmatch(js, -1) {
		keys[string(m[1])] = true
	}
	if len(keys) < 100 {
		t.Fatalf("found only %d label keys: the patterns no longer match the page", len(keys))
	}
	for k := range keys {
		tb.check(t, "label", k)
	}
	for k := range tb.En {
		if _, ok := tb.Zh[k]; !ok {
			t.Errorf("%q has English but no 繁體中文", k)
		}
	}
	for k := range tb.Zh {
		if _, ok := tb.En[k]; !ok {
			t.Errorf("%q has 繁體中文 but no English", k)
		}
	}
}

// TestEngineCodesHaveStatus: every engine code answers with its own status, never the
// 500 of a code someone forgot to map.
func TestEngineCodesHaveStatus(t *testing.T) {
	for _, c := range engine.Codes() {
		ae := toAPIError(&engine.Error{Code: c, Message: "x"})
		if ae.Code != c || ae.Status == http.StatusInternalServerError || ae.Status == 0 {
			t.Errorf("engine code %s answers %d %s", c, ae.Status, ae.Code)
		}
		if StatusOf(c) != ae.Status {
			t.Errorf("StatusOf(%s) = %d, answer %d", c, StatusOf(c), ae.Status)
		}
	}
	// A code missing from the map says so rather than a bare "internal" 500.
	ae := toAPIError(&engine.Error{Code: "new_code", Message: "x"})
	if !strings.Contains(ae.Message, "new_code") {
		t.Errorf("unmapped engine code: %+v", ae)
	}
}
