package receipts

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/bbolt"

	"posd/printer"
	"posd/queue/engine"
)

// newPolicy is a policy over a real spool in a temp bbolt file, printing to a virtual
// printer, with the given sales as its journal.
func newPolicy(t *testing.T, sales ...*engine.Sale) *Policy {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "spool.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	sp, err := printer.NewSpool(db, printer.NewVirtual(50), printer.SpoolOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	byID := map[string]*engine.Sale{}
	for _, s := range sales {
		byID[s.ID] = s
	}
	return &Policy{
		Spool:   sp,
		Till:    Till{MerchantName: "Test Store", StoreID: "HK001", TillID: "T01"},
		Format:  printer.Config{Kind: "none", Encoding: "big5", Columns: 42}.Format(),
		Enabled: true,
		Sale: func(id string) (*engine.Sale, error) {
			if s, ok := byID[id]; ok {
				return s, nil
			}
			return nil, engine.ErrNotFound
		},
		Sales: func(string) ([]*engine.Sale, error) { return sales, nil },
		Log:   quiet.WithField("component", "printer"),
	}
}

// jobs lists the spool's job ids, sorted.
func jobs(t *testing.T, p *Policy) []string {
	t.Helper()
	js, err := p.Spool.Jobs()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	sort.Strings(ids)
	return ids
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func sale(id string, st engine.SaleState, attempts []engine.Attempt, refunds ...engine.Refund) *engine.Sale {
	return &engine.Sale{ID: id, Amount: 1000, Currency: "HKD", State: st, CreatedAt: t0, UpdatedAt: t0,
		Attempts: attempts, Refunds: refunds}
}

// TestPolicy_PrintFor: what each sale change puts on the spool.
func TestPolicy_PrintFor(t *testing.T) {
	cases := []struct {
		name string
		sale *engine.Sale
		want []string
	}{
		{"paid", sale("s1", engine.SalePaid, []engine.Attempt{{OutTradeNo: "A1", State: engine.AttemptPaid, TransactionID: "W1"}}),
			[]string{"sale:s1:A1"}},
		{"failed then paid", sale("s2", engine.SalePaid, []engine.Attempt{
			{OutTradeNo: "A1", State: engine.AttemptFailed}, {OutTradeNo: "A2", State: engine.AttemptPaid, TransactionID: "W2"}}),
			[]string{"sale:s2:A2"}},
		{"still paying", sale("s3", engine.SalePaying, []engine.Attempt{{OutTradeNo: "A1", State: engine.AttemptPaying}}), nil},
		{"reversed after cancel, money had moved", sale("s4", engine.SaleCancelled, []engine.Attempt{
			{OutTradeNo: "A1", State: engine.AttemptReversed, TransactionID: "W4"}}),
			[]string{"reversal:s4:A1"}},
		{"reversed after cancel, no money moved", sale("s5", engine.SaleCancelled, []engine.Attempt{
			{OutTradeNo: "A1", State: engine.AttemptReversed}}), nil},
		{"refunded", sale("s6", engine.SalePaid, []engine.Attempt{{OutTradeNo: "A1", State: engine.AttemptPaid, TransactionID: "W6"}},
			engine.Refund{OutRefundNo: "R1", Amount: 500, State: "success"}, engine.Refund{OutRefundNo: "R2", Amount: 100, State: "processing"}),
			[]string{"refund:s6:R1", "sale:s6:A1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPolicy(t, c.sale)
			p.PrintFor(c.sale)
			p.PrintFor(c.sale) // the same change seen twice prints once
			if got := jobs(t, p); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("jobs %q, want %q", got, c.want)
			}
		})
	}
	t.Run("no printer", func(t *testing.T) {
		s := cases[0].sale
		p := newPolicy(t, s)
		p.Enabled = false
		p.PrintFor(s)
		if got := jobs(t, p); len(got) != 0 {
			t.Fatalf("printed without a printer: %q", got)
		}
	})
}

// TestPolicy_Reprint: a reprint is a new job marked COPY, also when the first receipt was
// never queued; a sale that was never paid has nothing to reprint.
func TestPolicy_Reprint(t *testing.T) {
	paid := sale("s1", engine.SalePaid, []engine.Attempt{{OutTradeNo: "A1", State: engine.AttemptPaid, TransactionID: "W1"}})
	open := sale("s2", engine.SaleAwaitingScan, nil)
	p := newPolicy(t, paid, open)
	ctx := context.Background()
	if err := p.Reprint(ctx, "s1"); err != nil { // never queued: printed now, as a copy
		t.Fatal(err)
	}
	p.PrintFor(paid)
	if err := p.Reprint(ctx, "s1"); err != nil { // queued: a copy of that job
		t.Fatal(err)
	}
	js, err := p.Spool.Jobs()
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, j := range js {
		if j.Receipt != nil && j.Receipt.Copy {
			copies++
		}
	}
	if len(js) != 3 || copies != 2 {
		t.Fatalf("%d jobs, %d copies; want 3 jobs (the original and two copies)", len(js), copies)
	}
	if err := p.Reprint(ctx, "s2"); !errors.Is(err, ErrNothingToPrint) {
		t.Fatalf("reprint of an unpaid sale: %v", err)
	}
	if err := p.Reprint(ctx, "nope"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("reprint of an unknown sale: %v", err)
	}
}

// TestPolicy_CatchUp: after a restart, sales that changed in the last minutes get the
// receipts a crash may have lost; older ones are not printed again.
func TestPolicy_CatchUp(t *testing.T) {
	recent := sale("s1", engine.SalePaid, []engine.Attempt{{OutTradeNo: "A1", State: engine.AttemptPaid, TransactionID: "W1"}})
	recent.UpdatedAt = t0.Add(-CatchUpWindow + time.Minute)
	old := sale("s2", engine.SalePaid, []engine.Attempt{{OutTradeNo: "A1", State: engine.AttemptPaid, TransactionID: "W2"}})
	old.UpdatedAt = t0.Add(-CatchUpWindow - time.Minute)
	p := newPolicy(t, recent, old)
	p.Now = func() time.Time { return t0 }
	p.CatchUp()
	if got := jobs(t, p); strings.Join(got, " ") != "sale:s1:A1" {
		t.Fatalf("caught up %q, want only the recent sale", got)
	}
}

// TestPolicy_Recent: the newest jobs first, with a text preview rendered once.
func TestPolicy_Recent(t *testing.T) {
	s1 := sale("s1", engine.SalePaid, []engine.Attempt{{OutTradeNo: "A1", State: engine.AttemptPaid, TransactionID: "W1"}})
	s2 := sale("s2", engine.SalePaid, []engine.Attempt{{OutTradeNo: "A2", State: engine.AttemptPaid, TransactionID: "W2"}})
	p := newPolicy(t, s1, s2)
	p.PrintFor(s1)
	p.PrintFor(s2)
	got, err := p.Recent(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].SaleID != "s2" || !strings.Contains(got[0].Text, "Test Store") {
		t.Fatalf("recent: %+v", got)
	}
	again, _ := p.Recent(1)
	if again[0].Text != got[0].Text || len(p.cache.byID) != 1 {
		t.Fatalf("rendered twice or cache wrong: %d entries", len(p.cache.byID))
	}
}
