package engine

import (
	"context"
	"time"

	"posd/wxpay"
)

// QR Code Payment: the till shows a code from WeChat (a native order) on the customer
// display and the customer scans it and pays in WeChat. A QR attempt is an Attempt of
// kind AttemptKindQR and runs on the same runner and the same decision function (next)
// as Quick Pay, with three differences:
//
//   - it starts with a native order instead of a micropay; re-sending it with the same
//     parameters is safe and gives the same code_url (a lost answer, a restart);
//   - its deadline is the order's time_expire (QRLifetime after t0) and its "reverse" is
//     a close, which WeChat takes only 5 minutes after the order was created: until then
//     it is queried (≤ 1 a second), so a payment is seen whenever it comes;
//   - a payment that arrives after the sale was cancelled is refunded (a QR order cannot
//     be reversed).
//
// One open payment per till: while a QR code is shown the sale is paying, so a scanned
// payment code is refused (sale_busy) until the QR attempt ends. To take a scan instead,
// the cashier cancels the sale (the QR code is closed in the background; a late payment
// is refunded) and rings it up again. docs/qr-payment.md has the whole story.

const (
	// QRLifetime is the order's time_expire after t0: how long the customer has to scan
	// and pay. It equals WeChat's close floor, so the code stops being payable when the
	// order can first be closed.
	QRLifetime = 5 * time.Minute
	// qrCloseAfter is when a close is first sent: WeChat counts 5 minutes from when it
	// created the order, which is after t0 by the request's travel time and any clock
	// difference; the margin keeps a close from being refused as too early.
	qrCloseAfter = wxpay.CloseMinAge + 30*time.Second
	// qrMinLeft: the native order is not re-sent with less time than this left on it.
	qrMinLeft = wxpay.NativeMinLifetime + 5*time.Second
)

// QREnabled reports whether the till takes QR Code Payments: the client speaks them and
// Config.QRCodePayment is set (posd sets it when wxpay.notify_url is configured).
func (e *Engine) QREnabled() bool {
	_, ok := e.gw.(wxpay.NativeClient)
	return ok && e.cfg.QRCodePayment
}

// ShowQR starts a QR Code Payment for an open sale: the attempt is journaled, then the
// native order leaves. It returns as soon as the attempt is in flight; the code_url
// arrives on the sale (Attempt.CodeURL) by the usual events.
func (e *Engine) ShowQR(ctx context.Context, saleID string) (*Sale, error) {
	if !e.QREnabled() {
		return nil, errorf(CodeQRDisabled, "QR Code Payment is not set up on this till (wxpay.notify_url)")
	}
	if err := e.refuseNew(); err != nil {
		return nil, err
	}
	now := e.now()
	var out *Sale
	var otn string
	err := e.update(func(tx *wtx) error {
		s, err := tx.Sale(saleID)
		if err != nil {
			return err
		}
		if otn, err = e.newQRAttempt(tx, s, now); err != nil {
			return err
		}
		out = s
		return tx.put(s)
	})
	if err != nil {
		return nil, e.refusal(err)
	}
	a := findAttempt(out, otn)
	r := e.newRunner(out, a, false)
	r.create = true
	e.launch(r, nil)
	return out, nil
}

// newQRAttempt adds a journaled QR attempt (the intent) to s.
func (e *Engine) newQRAttempt(tx *wtx, s *Sale, now time.Time) (string, error) {
	switch s.State {
	case SalePaid:
		return "", errorf("bad_request", "This sale is already paid")
	case SaleCancelled:
		return "", errorf("bad_request", "This sale was cancelled: open a new sale")
	}
	for _, a := range s.Attempts {
		if !a.State.Final() {
			return "", errorf("sale_busy", "A payment for this sale is already in progress: wait for it to finish")
		}
	}
	seq, err := tx.NextSeq()
	if err != nil {
		return "", err
	}
	otn, err := OutTradeNo(e.cfg.StoreID, e.cfg.TillID, now.In(e.cfg.Location), seq)
	if err != nil {
		return "", err
	}
	// time_expire is sent in whole seconds: journal exactly what is sent, so a re-sent
	// order carries the same value.
	expires := now.Add(QRLifetime).Truncate(time.Second)
	boot, mono := e.monoReading()
	s.Attempts = append(s.Attempts, Attempt{
		OutTradeNo: otn, Kind: AttemptKindQR, State: AttemptPaying,
		Phase: PhaseCreatingQR, StartedAt: now, Boot: boot, MonoStarted: mono, ExpiresAt: expires,
		Deadline: expires, ReverseAfter: now.Add(qrCloseAfter),
		Events:    []Event{{At: now, Call: "state", Outcome: string(AttemptPaying), Detail: "QR code"}},
		UpdatedAt: now,
	})
	s.State = SalePaying
	s.UpdatedAt = now
	return otn, nil
}

// native sends (or sends again) the QR attempt's native order; it reports whether the
// attempt is finished (or the runner must stop).
func (r *runner) native() bool {
	first := r.create
	r.create = false
	nc, ok := r.e.gw.(wxpay.NativeClient)
	if !ok {
		// Only a client change between restarts gets here: nothing is sent; queries and the
		// close settle whatever an earlier run created.
		r.t.needCode, r.t.mustQuery = false, true
		return false
	}
	req := wxpay.NativeRequest{
		OutTradeNo: r.otn, Amount: r.amount, Currency: r.currency, TimeExpire: r.expiresAt,
		Description: r.e.cfg.Description, DeviceID: r.e.cfg.TillID, StoreID: r.e.cfg.StoreID,
		StoreName: r.e.cfg.Description,
	}
	// WeChat counts its 5 minutes from when it created the order, and any send may be the
	// one that creates it: the close waits for the last one.
	r.t.reverseAfter = later(r.t.reverseAfter, r.e.mono().Add(qrCloseAfter))
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	n, err := nc.NativeOrder(ctx, req)
	cancel()
	now := r.e.mono()
	if err != nil {
		if r.ctx.Err() != nil {
			return true // closing: recovery queries
		}
		r.callErr("native", err)
		if first {
			// Nothing ever left for this number: no order, no money.
			return r.finish(AttemptFailed, &ErrorInfo{Code: InfoNotSent, Message: "The QR code could not be requested from WeChat Pay: scan the customer's code or take another payment method"})
		}
		// Too late to send again (time_expire near): queries and the close settle it.
		r.t.needCode, r.t.mustQuery = false, true
		return false
	}
	r.event("native", n.Outcome, n.Error, "")
	r.t.nextNative = now.Add(backoff(reverseBackoff, maxReverseBackoff, 0))
	switch n.Outcome {
	case wxpay.NotPaid:
		r.t.needCode, r.t.silent = false, false
		r.t.nextQuery = later(r.t.nextQuery, now.Add(pollEvery))
		code := n.CodeURL
		if err := r.save(func(s *Sale, a *Attempt) {
			a.CodeURL = code
			if !r.t.cancelled {
				a.Phase = PhaseShowingQR
			}
		}); err != nil {
			return true
		}
	case wxpay.Paid, wxpay.Reversed:
		// Already paid or closed (an earlier send got through): a query says which, with
		// the amount and transaction.
		r.t.needCode, r.t.mustQuery = false, true
		r.t.nextQuery = later(r.t.nextQuery, now.Add(pollEvery))
	case wxpay.Failed:
		if first {
			return r.finish(AttemptFailed, errInfo(n.Error, "WeChat Pay refused the QR code: scan the customer's code or take another payment method"))
		}
		// An earlier send may have created the order: stop sending, settle it by query
		// and close.
		r.t.needCode, r.t.mustQuery = false, true
	default:
		// No answer or an unclear one: only a query can tell whether the order exists.
		r.t.mustQuery = true
		r.t.silent = silent(n.Outcome, n.Error)
		r.t.nextQuery = now.Add(afterSystemError)
		r.lastErr = describe(n.Error)
	}
	return false
}

// close closes the QR attempt's order at WeChat once it allows it (the "reverse" of a QR
// attempt); a query confirms every close.
func (r *runner) close() bool {
	r.reverses++
	r.t.reverseTries++
	var res wxpay.CloseResult
	nc, ok := r.e.gw.(wxpay.NativeClient)
	if !ok {
		res = wxpay.CloseResult{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "NOT_SENT", Message: "the WeChat Pay client does not close orders"}}
	} else {
		ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
		var err error
		res, err = nc.CloseOrder(ctx, r.otn)
		cancel()
		if err != nil {
			if r.ctx.Err() != nil {
				return true
			}
			r.callErr("close", err)
			res = wxpay.CloseResult{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: "NOT_SENT", Message: err.Error()}}
		}
	}
	now := r.e.mono()
	r.event("close", res.Outcome, res.Error, "")
	switch res.Outcome {
	case wxpay.Reversed, wxpay.NotFound:
		r.t.reverseClaimed = true
		r.t.mustQuery = true
	case wxpay.Paid:
		// The customer paid before the close: a query confirms it; a cancelled sale gets
		// the money back by refund.
		r.t.mustQuery = true
		r.t.paidClaimed = true
		if r.t.cancelled {
			r.t.undo, r.t.nextRefund = undoRefund, now
		}
	default:
		// Unknown, or a refusal such as "too early": keep querying, close again later.
		r.lastErr = describe(res.Error)
		if r.t.reverseTries >= reverseTries {
			r.unresolve()
			return true
		}
		r.t.nextReverse = now.Add(backoff(reverseBackoff, maxReverseBackoff, r.t.reverseTries-1))
	}
	return false
}
