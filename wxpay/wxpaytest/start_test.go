package wxpaytest

import (
	"math/rand"
	"net"
	"strings"
	"testing"
)

func TestStartOnAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := Start(Options{Addr: addr, Hosts: []string{"till.local"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasSuffix(s.URL(), addr) {
		t.Fatalf("URL %s not on %s", s.URL(), addr)
	}
	c := newV3(t, s, "/v3/global", false)
	if r := c.pay("T-addr", newCode(), 100); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if _, err := Start(Options{Addr: addr}); err == nil {
		t.Fatal("second server on a taken address")
	}
	if _, err := Start(Options{Credentials: &Credentials{APIv3Key: "short"}}); err == nil {
		t.Fatal("bad APIv3 key accepted")
	}
}

func TestRandomFaultsRun(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	seen := map[FaultKind]bool{}
	s, clk := newSim(t, Options{})
	c := newV2(t, s, signHMAC, true)
	c.hc.Timeout = 2e9
	for i := 0; i < 60; i++ {
		f := RandomFault(r.Intn)
		seen[f.Kind] = true
		if f.Kind == FaultHang {
			continue // covered by TestFaultHang; would cost the client timeout here
		}
		code := newCode()
		s.Script(Match{AuthCode: code}, f)
		no := "T-rand-" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		c.pay(no, code, 100)
		clk.Advance(70e9)
		c.query(no)
		c.reverse(no)
		c.refund(no, "R"+no, 50, 100)
	}
	if len(seen) < len(FaultKinds())-2 {
		t.Fatalf("60 draws saw only %d kinds", len(seen))
	}
	for _, o := range s.Orders() {
		if o.Kept() < 0 || o.Kept() > o.Amount {
			t.Fatalf("ledger invariant broken: %+v", o)
		}
	}
}

func TestOnRequest(t *testing.T) {
	got := make(chan Request, 4)
	s, _ := newSim(t, Options{OnRequest: func(r Request) { got <- r }})
	c := newV2(t, s, signMD5, false)
	c.pay("T-on", newCode(), 100)
	if r := <-got; r.Endpoint != EPMicroPay || r.OutTradeNo != "T-on" || r.Outcome != StateSuccess {
		t.Fatalf("%+v", r)
	}
}
