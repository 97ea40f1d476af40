package wxpaytest

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Every amount-driven case does what its description says, in both dialects.
func TestAmountDriven(t *testing.T) {
	// micropay outcome (v2 spelling), order state after 70 s, captured.
	want := map[string]struct {
		pay      string
		state    string // "" = no order
		captured bool
	}{
		"paid":                        {"SUCCESS", StateSuccess, true},
		"userpaying-5s":               {"USERPAYING", StateSuccess, true},
		"notenough":                   {"NOTENOUGH", StatePayError, false},
		"systemerror-paid":            {"SYSTEMERROR", StateSuccess, true},
		"lost-paid":                   {"<transport error>", StateSuccess, true},
		"userpaying-forever":          {"USERPAYING", StateUserPaying, false},
		"mainland-wallet":             {"SUCCESS", StateSuccess, true},
		"userpaying-cancel":           {"USERPAYING", StatePayError, false},
		"authcodeexpire":              {"AUTHCODEEXPIRE", StatePayError, false},
		"authcode-invalid":            {"AUTH_CODE_INVALID", StatePayError, false},
		"systemerror-unpaid":          {"SYSTEMERROR", "", false},
		"bankerror-paid":              {"BANKERROR", StateSuccess, true},
		"hang-paid":                   {"<transport error>", StateSuccess, true},
		"reverse-retry":               {"USERPAYING", StateUserPaying, false},
		"forged-success":              {"SUCCESS(forged)", "", false},
		"http-503":                    {"<503>", "", false},
		"userpaying-20s":              {"USERPAYING", StateSuccess, true},
		"userpaying-60s":              {"USERPAYING", StateSuccess, true},
		"drop-unpaid":                 {"<transport error>", "", false},
		"notsuportcard":               {"NOTSUPORTCARD", StatePayError, false},
		"userpaying-then-systemerror": {"USERPAYING", StateSuccess, true},
		"statement-missing":           {"SUCCESS", StateSuccess, true},
		"statement-mismatch":          {"SUCCESS", StateSuccess, true},
	}
	if len(want) != len(AmountTable()) {
		t.Fatalf("table has %d cases, test knows %d", len(AmountTable()), len(want))
	}
	forDialects(t, Options{AmountDriven: true}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		hc := func() *http.Client {
			if v3, ok := d.(v3driver); ok {
				return v3.c.hc
			}
			return d.(v2driver).c.hc
		}()
		for i, c := range AmountTable() {
			w, ok := want[c.Name]
			if !ok {
				t.Fatalf("case %q not known to the test", c.Name)
			}
			// hang-paid holds the request until the client gives up, so its timeout only
			// bounds the test (any value gives the transport error it expects). Every
			// other case gets a timeout no busy machine reaches: a spurious timeout
			// there would be the test failing, not the simulator.
			hc.Timeout = 60 * time.Second
			if c.Name == "hang-paid" {
				hc.Timeout = 2 * time.Second
			}
			no := fmt.Sprintf("T-amt-%02d", c.Cents)
			r := d.pay(no, newCode(), int64(1000*(i+1)+c.Cents))
			got := r.outcome
			switch {
			case r.err != nil:
				got = "<transport error>"
			case r.status >= 500 && r.outcome != d.code("SYSTEMERROR") && r.outcome != d.code("BANKERROR"):
				got = fmt.Sprintf("<%d>", r.status)
			case !r.signOK && r.outcome == "SUCCESS":
				got = "SUCCESS(forged)"
			}
			exp := w.pay
			if exp != "USERPAYING" && exp != "SUCCESS" && exp[0] != '<' && exp != "SUCCESS(forged)" {
				exp = d.code(exp)
			}
			if got != exp {
				t.Errorf("%s: micropay %q, want %q (%+v)", c.Name, got, exp, r)
			}
		}
		clk.Advance(70 * time.Second)
		var captured int64
		for i, c := range AmountTable() {
			w := want[c.Name]
			no := fmt.Sprintf("T-amt-%02d", c.Cents)
			o, ok := s.Order(no)
			if w.state == "" {
				if ok {
					t.Errorf("%s: order exists: %+v", c.Name, o)
				}
				continue
			}
			if !ok || o.State != w.state {
				t.Errorf("%s: order %+v, want state %s", c.Name, o, w.state)
			}
			if w.captured {
				captured += int64(1000*(i+1) + c.Cents)
			}
		}
		if s.Captured() != captured {
			t.Errorf("captured %d, want %d", s.Captured(), captured)
		}
		if o := mustOrder(t, s, "T-amt-07"); o.PayerCurrency != "CNY" {
			t.Errorf("mainland wallet: %+v", o)
		}
		// reverse-retry: the reverse must be retried twice.
		for i := 0; i < 2; i++ {
			if r := d.reverse("T-amt-14"); r.outcome == "REVOKED" {
				t.Fatalf("reverse %d succeeded early", i)
			}
		}
		if r := d.reverse("T-amt-14"); r.outcome != "REVOKED" {
			t.Fatalf("third reverse: %+v", r)
		}
	})
}

func TestAmountTableIsData(t *testing.T) {
	seen := map[int]bool{}
	for _, c := range AmountTable() {
		if c.Cents < 0 || c.Cents > 99 || seen[c.Cents] || c.Name == "" || c.Description == "" {
			t.Fatalf("bad case %+v", c)
		}
		seen[c.Cents] = true
	}
	tb := AmountTable()
	tb[0].Name = "changed"
	if AmountTable()[0].Name == "changed" {
		t.Fatal("AmountTable returns shared data")
	}
}
