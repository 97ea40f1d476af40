package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"posd/queue/engine"
	"posd/queue/engine/enginetest"
	"posd/wxpay"
)

// journaled reads the sale as the engine's store holds it.
func (h *harness) journaled(id string) *engine.Sale {
	h.t.Helper()
	var s *engine.Sale
	if err := h.st.View(func(tx engine.ReadTx) (err error) { s, err = tx.Sale(id); return err }); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// TestWeChatTextIsMaskedWhereItEntersTheEngine: WeChat's free text may echo the auth_code
// sent (security review). The engine masks it once, as it stores the answer, so the
// journaled sale — and everything built from it — never holds the 18-digit code.
func TestWeChatTextIsMaskedWhereItEntersTheEngine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(code string) wxpay.Order
		state  engine.AttemptState
	}{
		{"refused (ErrorInfo)", func(code string) wxpay.Order {
			return enginetest.Failed("AUTH_CODE_INVALID", "auth_code "+code+" is invalid")
		}, engine.AttemptFailed},
		{"system error (event detail)", func(code string) wxpay.Order {
			return wxpay.Order{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "SYSTEMERROR", Message: "busy with " + code + ", try later", HTTP: 500}}
		}, engine.AttemptPaying},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			code := newCode()
			h.wx.OnMicroPay = func(wxpay.PayRequest) wxpay.Order { return tc.answer(code) }
			h.wx.OnQuery = func(string, int) wxpay.Order { return enginetest.Pending() }
			s := h.open(100)
			if _, err := h.e.Pay(t.Context(), s.ID, code); err != nil {
				t.Fatal(err)
			}
			h.settle(1, nil)
			s = h.journaled(s.ID)
			a := lastAttempt(s)
			if a.State != tc.state {
				t.Fatalf("attempt %s, want %s", a.State, tc.state)
			}
			js, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(js), code) {
				t.Errorf("the journaled sale holds the payment code %s:\n%s", code, js)
			}
			if !strings.Contains(string(js), wxpay.MaskCode(code)) {
				t.Errorf("the journaled sale lacks WeChat's text with the code masked (%s):\n%s", wxpay.MaskCode(code), js)
			}
			if tc.state == engine.AttemptFailed && (a.Error == nil || !strings.Contains(a.Error.Message, wxpay.MaskCode(code))) {
				t.Errorf("ErrorInfo %+v: want WeChat's message, masked", a.Error)
			}
		})
	}
}
