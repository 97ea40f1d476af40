package receipts

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"posd/printer"
	"posd/queue/engine"
	"posd/ui"
)

// Policy decides which receipts a sale change calls for and puts them on the print spool.
// Enqueueing is idempotent (a receipt's job id is stable), so seeing the same change twice
// prints once.
type Policy struct {
	Spool *printer.Spool
	Till  Till
	// Format and Encoding are the printer's: previews are rendered as the paper would be.
	Format   printer.Format
	Encoding string
	Font     string // printer.font: the CJK font file for raster lines ("" finds a system one)
	// Enabled is false when no printer (real or virtual) is configured: nothing is queued.
	Enabled bool
	// Sale and Sales read the journal: a reprint looks its sale up, the catch-up after a
	// restart reads today's sales.
	Sale  func(id string) (*engine.Sale, error)
	Sales func(day string) ([]*engine.Sale, error)
	// Failed counts a receipt that could not be queued (metrics).
	Failed func()
	Log    *logrus.Entry
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	cache renderCache
}

// CatchUpWindow is how far back a start looks for sales whose receipts a crash may have
// lost between the sale's durable outcome and its print job.
const CatchUpWindow = 10 * time.Minute

func (p *Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// CatchUp queues receipts for sales that changed in the last minutes before this start:
// a crash between a sale's durable outcome and its print job must not leave the customer
// without proof of payment. Older sales are not printed again on a restart.
func (p *Policy) CatchUp() {
	sales, err := p.Sales("")
	if err != nil {
		p.Log.WithError(err).Warn("cannot read today's sales for missed receipts")
		return
	}
	cutoff := p.now().Add(-CatchUpWindow)
	for _, s := range sales {
		if s.UpdatedAt.After(cutoff) {
			p.PrintFor(s)
		}
	}
}

// PrintFor enqueues the receipts a sale change calls for: a sale slip per paid attempt, a
// reversal slip when money moved and was given back after a cancel, a refund slip per
// successful refund.
func (p *Policy) PrintFor(s *engine.Sale) {
	if !p.Enabled {
		return
	}
	enqueue := func(kind printer.Kind, ref string) {
		r, err := FromSale(s, p.Till, kind, ref)
		if err != nil {
			if !errors.Is(err, ErrNothingToPrint) {
				p.Log.WithError(err).WithField("sale", s.ID).Warn("no receipt")
			}
			return
		}
		if _, err := p.Spool.Job(r.JobID()); err == nil {
			return // already queued or printed: no write transaction for nothing
		}
		if _, err := p.Spool.Enqueue(r); err != nil {
			if p.Failed != nil {
				p.Failed()
			}
			p.Log.WithError(err).WithField("sale", s.ID).Error("cannot queue receipt")
		}
	}
	for _, a := range s.Attempts {
		switch {
		case a.State == engine.AttemptPaid:
			enqueue(printer.KindSale, a.OutTradeNo)
		case a.State == engine.AttemptReversed && s.State == engine.SaleCancelled && a.TransactionID != "":
			// Money had moved and was given back after a cancel: the customer gets a slip.
			enqueue(printer.KindReversal, a.OutTradeNo)
		}
	}
	for _, r := range s.Refunds {
		if r.State == engine.RefundSucceeded {
			enqueue(printer.KindRefund, r.OutRefundNo)
		}
	}
}

// Reprint prints a sale's receipt again, marked COPY (also when the first one was never
// queued, e.g. the printer was configured later).
func (p *Policy) Reprint(_ context.Context, saleID string) error {
	s, err := p.Sale(saleID)
	if err != nil {
		return err
	}
	r, err := FromSale(s, p.Till, printer.KindSale)
	if err != nil {
		return err
	}
	if _, err = p.Spool.Reprint(r.JobID()); errors.Is(err, printer.ErrJobNotFound) {
		r.Copy = true
		_, err = p.Spool.Enqueue(r)
	}
	return err
}

// Recent lists the newest print jobs with their text and PNG preview. A job's receipt
// never changes, so its renderings are cached (the UI asks for the list, then for each
// image).
func (p *Policy) Recent(n int) ([]ui.Receipt, error) {
	jobs, err := p.Spool.Jobs()
	if err != nil {
		return nil, err
	}
	var out []ui.Receipt
	for i := len(jobs) - 1; i >= 0 && len(out) < n; i-- {
		j := jobs[i]
		r := ui.Receipt{ID: j.ID, Kind: string(j.Kind), State: string(j.State), At: j.CreatedAt, Detail: j.LastError}
		switch {
		case j.Receipt != nil:
			r.SaleID = j.Receipt.SaleID
			rc := *j.Receipt
			rr := p.cache.get(j.ID, func() rendered { return p.render(func() ([]byte, error) { return printer.Render(rc, p.Format) }) })
			r.Text, r.PNG = rr.text, rr.png
		case j.Report != nil:
			// The Z report too: on the demo's virtual printer this is the only way to see it.
			rep := *j.Report
			rr := p.cache.get(j.ID, func() rendered {
				return p.render(func() ([]byte, error) { return printer.RenderReport(rep, p.Format) })
			})
			r.Text, r.PNG = rr.text, rr.png
		}
		out = append(out, r)
	}
	return out, nil
}

// render turns a printout's ESC/POS bytes into the text and PNG the UI previews; the PNG
// is drawn by the printer's own raster renderer with its font, so it shows what the paper does.
func (p *Policy) render(escpos func() ([]byte, error)) rendered {
	var rr rendered
	if b, err := escpos(); err == nil {
		rr.text, _ = printer.DecodeText(b, p.Encoding)
		if png, err := printer.RenderPNGFont(b, p.Encoding, p.Font); err == nil {
			rr.png = png
		}
	}
	return rr
}

type rendered struct {
	text string
	png  []byte
}

// renderCacheSize bounds the preview cache: the UI lists a few dozen receipts at most.
const renderCacheSize = 256

// renderCache keeps the renderings of the newest jobs, first in first out.
type renderCache struct {
	mu    sync.Mutex
	byID  map[string]rendered // job id → text and PNG
	order []string            // FIFO bound on byID
}

// get returns the cached rendering of id, calling render once when there is none.
func (c *renderCache) get(id string, render func() rendered) rendered {
	c.mu.Lock()
	if rr, ok := c.byID[id]; ok {
		c.mu.Unlock()
		return rr
	}
	c.mu.Unlock()
	rr := render() // outside the lock: a PNG takes milliseconds
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]rendered{}
	}
	if _, ok := c.byID[id]; !ok {
		c.order = append(c.order, id)
		if len(c.order) > renderCacheSize {
			delete(c.byID, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.byID[id] = rr
	return rr
}
