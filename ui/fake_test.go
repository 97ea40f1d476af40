package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"posd/queue/engine"
	"posd/wxpay"
)

// fakeTill is a small in-memory stand-in for *engine.Engine with the same error codes,
// for handler tests that need exact control of every state: a charged code stays
// "paying" until the test calls step. (The browser tests use the real engine.)
type fakeTill struct {
	mu      sync.Mutex
	now     func() time.Time
	sales   map[string]*engine.Sale
	order   []string
	used    map[string]bool
	subs    map[int]chan *engine.Sale
	nextSub int
	seq     int
	status  engine.Status
	jobs    []engine.Job
}

type fakeStep struct {
	phase   engine.Phase
	state   engine.AttemptState
	err     *engine.ErrorInfo
	wallet  string
	payer   int64
	event   string // call name for the timeline
	outcome string
}

func newFakeTill(now func() time.Time) *fakeTill {
	return &fakeTill{now: now, sales: map[string]*engine.Sale{}, used: map[string]bool{},
		subs: map[int]chan *engine.Sale{}, status: engine.Status{Ready: true, WeChatReachable: true}}
}

func clone(s *engine.Sale) *engine.Sale {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	var c engine.Sale
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// put stores and publishes; the lock is held.
func (f *fakeTill) put(s *engine.Sale) *engine.Sale {
	s.Version++
	s.UpdatedAt = f.now()
	c := clone(s)
	for _, ch := range f.subs {
		select {
		case ch <- clone(s):
		default:
		}
	}
	return c
}

func (f *fakeTill) OpenSale(ctx context.Context, r engine.OpenSaleRequest) (*engine.Sale, error) {
	f.mu.Lock()
	if r.Amount <= 0 || r.Currency != "HKD" {
		f.mu.Unlock()
		return nil, &engine.Error{Code: "bad_request", Message: "amount must be positive and currency HKD"}
	}
	f.seq++
	now := f.now()
	s := &engine.Sale{ID: fmt.Sprintf("S%04d", f.seq), Amount: r.Amount, Currency: r.Currency, Reference: r.Reference,
		Description: r.Description, State: engine.SaleAwaitingScan, Attempts: []engine.Attempt{}, CreatedAt: now,
		StoreID: "HK001", TillID: "T01"}
	f.sales[s.ID] = s
	f.order = append([]string{s.ID}, f.order...)
	out := f.put(s)
	f.mu.Unlock()
	if r.AuthCode != "" {
		return f.Pay(ctx, s.ID, r.AuthCode)
	}
	return out, nil
}

func (f *fakeTill) Scan(ctx context.Context, code string) (*engine.Sale, error) {
	f.mu.Lock()
	var id string
	for _, sid := range f.order {
		if f.sales[sid].State == engine.SaleAwaitingScan {
			id = sid
			break
		}
	}
	f.mu.Unlock()
	if id == "" {
		if err := wxpay.CheckAuthCode(code); err != nil {
			return nil, &engine.Error{Code: "invalid_code", Message: err.Error()}
		}
		return nil, &engine.Error{Code: "no_open_sale", Message: "No sale is waiting for a payment code: enter the amount first"}
	}
	return f.Pay(ctx, id, code)
}

func (f *fakeTill) Pay(_ context.Context, saleID, code string) (*engine.Sale, error) {
	if err := wxpay.CheckAuthCode(code); err != nil {
		return nil, &engine.Error{Code: "invalid_code", Message: err.Error()}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sales[saleID]
	if !ok {
		return nil, &engine.Error{Code: "not_found", Message: "no such sale"}
	}
	if s.State != engine.SaleAwaitingScan {
		return nil, &engine.Error{Code: "sale_busy", Message: "This sale is not waiting for a payment code"}
	}
	if f.used[code] {
		return nil, &engine.Error{Code: "code_used", Message: "This payment code was already used: ask the customer to refresh it"}
	}
	f.used[code] = true
	now := f.now()
	s.State = engine.SalePaying
	s.Attempts = append(s.Attempts, engine.Attempt{OutTradeNo: fmt.Sprintf("HK001T01%s%02d", s.ID, len(s.Attempts)+1),
		State: engine.AttemptPaying, Phase: "sending", Code: wxpay.MaskCode(code), CodeHash: "salted-hash-of-" + wxpay.MaskCode(code), StartedAt: now,
		Deadline: now.Add(30 * time.Second), ReverseAfter: now.Add(15 * time.Second), UpdatedAt: now,
		Events: []engine.Event{{At: now, Call: "micropay", Outcome: "sent"}}})
	return f.put(s), nil
}

// step changes the last attempt of a sale, as the engine would after a WeChat answer.
func (f *fakeTill) step(saleID string, st fakeStep) *engine.Sale {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sales[saleID]
	a := &s.Attempts[len(s.Attempts)-1]
	now := f.now()
	if st.phase != "" {
		a.Phase = st.phase
	}
	if st.event != "" {
		a.Events = append(a.Events, engine.Event{At: now, Call: st.event, Outcome: st.outcome})
	}
	if st.state != "" {
		a.State = st.state
		a.Error = st.err
		if st.state.Final() {
			a.Phase = ""
		}
		switch st.state {
		case engine.AttemptPaid:
			a.Wallet, a.PayerAmount = st.wallet, st.payer
			a.TransactionID = "4200000" + a.OutTradeNo
			if s.State != engine.SaleCancelled {
				s.State = engine.SalePaid
			}
		case engine.AttemptFailed, engine.AttemptReversed:
			if s.State == engine.SalePaying {
				s.State = engine.SaleAwaitingScan
			}
		}
	}
	a.UpdatedAt = now
	return f.put(s)
}

func (f *fakeTill) Cancel(_ context.Context, saleID string) (*engine.Sale, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sales[saleID]
	if !ok {
		return nil, &engine.Error{Code: "not_found", Message: "no such sale"}
	}
	switch s.State {
	case engine.SalePaid:
		return nil, &engine.Error{Code: "bad_request", Message: "This sale is paid: refund it instead"}
	case engine.SalePaying:
		a := &s.Attempts[len(s.Attempts)-1]
		a.State, a.Phase = engine.AttemptReversed, ""
		a.Events = append(a.Events, engine.Event{At: f.now(), Call: "reverse", Outcome: "reversed"})
	}
	s.State = engine.SaleCancelled
	return f.put(s), nil
}

func (f *fakeTill) Refund(_ context.Context, saleID string, amount int64, reason string) (*engine.Sale, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sales[saleID]
	if !ok {
		return nil, &engine.Error{Code: "not_found", Message: "no such sale"}
	}
	if s.State != engine.SalePaid {
		return nil, &engine.Error{Code: "not_paid", Message: "This sale was not paid: nothing to refund"}
	}
	var done int64
	for _, r := range s.Refunds {
		done += r.Amount
	}
	if amount > s.Amount-done {
		return nil, &engine.Error{Code: "refund_exceeds", Message: fmt.Sprintf("At most %d cents can still be refunded", s.Amount-done)}
	}
	now := f.now()
	s.Refunds = append(s.Refunds, engine.Refund{OutRefundNo: fmt.Sprintf("R%s%02d", s.ID, len(s.Refunds)+1),
		Amount: amount, Reason: reason, State: "success", CreatedAt: now, UpdatedAt: now})
	return f.put(s), nil
}

func (f *fakeTill) Sale(id string) (*engine.Sale, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sales[id]
	if !ok {
		return nil, &engine.Error{Code: "not_found", Message: "no such sale"}
	}
	return clone(s), nil
}

func (f *fakeTill) Sales(day string) ([]*engine.Sale, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []*engine.Sale{}
	for _, id := range f.order {
		s := f.sales[id]
		if day == "" || s.CreatedAt.In(hkt).Format(time.DateOnly) == day {
			out = append(out, clone(s))
		}
	}
	return out, nil
}

var hkt = time.FixedZone("HKT", 8*3600)

func (f *fakeTill) Jobs() ([]engine.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.Job(nil), f.jobs...), nil
}

func (f *fakeTill) Subscribe() (<-chan *engine.Sale, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextSub++
	id := f.nextSub
	ch := make(chan *engine.Sale, 64)
	f.subs[id] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

func (f *fakeTill) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *fakeTill) Status() engine.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeTill) setStatus(st engine.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
}
