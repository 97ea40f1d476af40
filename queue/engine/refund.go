package engine

import (
	"context"
	"fmt"

	"posd/wxpay"
)

// Refund states (Refund.State).
const (
	RefundPending    RefundState = "pending"    // journaled; WeChat's answer not known yet
	RefundProcessing RefundState = "processing" // accepted by WeChat, money on its way
	RefundSucceeded  RefundState = "success"
	RefundFailed     RefundState = "failed"
)

// maxRefunds is WeChat's limit of partial refunds per order.
const maxRefunds = 50

// Refund gives back amount of a paid sale. The refund (with its stable out_refund_no:
// the paid out_trade_no + "R" + n) and a job that will confirm it are journaled before
// WeChat is called, so a crash or no answer is finished by the durable queue with the
// same number (WeChat refunds a number at most once). The manager PIN is checked by the
// caller.
func (e *Engine) Refund(ctx context.Context, saleID string, amount int64, reason string) (*Sale, error) {
	if amount <= 0 {
		return nil, errorf(CodeBadRequest, "The refund amount must be more than zero")
	}
	if len(reason) > 80 {
		reason = reason[:80]
	}
	now := e.now()
	var no, otn, txID string
	var total int64
	var currency string
	err := e.update(func(tx *wtx) error {
		s, err := tx.Sale(saleID)
		if err != nil {
			return err
		}
		if s.State != SalePaid {
			return errorf(CodeNotPaid, "This sale is not paid: nothing to refund")
		}
		var pa *Attempt
		for i := range s.Attempts {
			if s.Attempts[i].State == AttemptPaid {
				pa = &s.Attempts[i]
			}
		}
		if pa == nil {
			return errorf(CodeNotPaid, "This sale has no paid payment")
		}
		var sum int64
		for _, r := range s.Refunds {
			if r.State != RefundFailed {
				sum += r.Amount
			}
		}
		if sum+amount > s.Amount {
			return errorf(CodeRefundExceeds, "Refunds would exceed the sale: at most %s %s can still be refunded", s.Currency, formatAmount(s.Amount-sum))
		}
		if len(s.Refunds) >= maxRefunds {
			return errorf(CodeRefundExceeds, "WeChat Pay allows at most %d refunds of one payment", maxRefunds)
		}
		no = fmt.Sprintf("%sR%d", pa.OutTradeNo, len(s.Refunds)+1)
		otn, txID, total, currency = pa.OutTradeNo, pa.TransactionID, s.Amount, s.Currency
		s.Refunds = append(s.Refunds, Refund{OutRefundNo: no, Amount: amount, Reason: reason,
			State: RefundPending, CreatedAt: now, UpdatedAt: now})
		s.UpdatedAt = now
		// The job is due only after the call below has had its time: if posd dies
		// meanwhile, the queue finishes the refund.
		if err := tx.putJob(Job{ID: refundJobID(no), Kind: JobRefund, SaleID: s.ID, OutTradeNo: otn,
			Due: now.Add(3 * callTimeout), CreatedAt: now}); err != nil {
			return err
		}
		return tx.put(s)
	})
	if err != nil {
		return nil, e.refusal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	res, err := e.gw.Refund(cctx, wxpay.RefundRequest{OutTradeNo: otn, TransactionID: txID, OutRefundNo: no,
		Amount: amount, Total: total, Currency: currency, Reason: reason})
	cancel()
	if err != nil {
		res = wxpay.Refund{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: InfoNotSent, Message: err.Error()}}
	}
	e.observe(!silent(res.Outcome, res.Error), verified(res.Outcome, res.Error))
	s, ferr := e.refundResult(saleID, no, res, nil)
	if ferr != nil {
		return s, ferr
	}
	if s != nil {
		for _, r := range s.Refunds {
			if r.OutRefundNo == no && r.State == RefundFailed {
				return s, &Error{Code: CodeWeChat, Message: r.Error.Message} // masked by errInfo
			}
		}
	}
	return s, nil
}

func refundJobID(no string) string { return "refund:" + no }

// refundResult journals what WeChat said about a refund and schedules what is left.
// job is the durable-queue job being worked on (nil from Refund).
func (e *Engine) refundResult(saleID, no string, res wxpay.Refund, job *Job) (*Sale, error) {
	now := e.now()
	var out *Sale
	err := e.update(func(tx *wtx) error {
		s, err := tx.Sale(saleID)
		if err != nil {
			return err
		}
		var rf *Refund
		for i := range s.Refunds {
			if s.Refunds[i].OutRefundNo == no {
				rf = &s.Refunds[i]
			}
		}
		if rf == nil {
			return fmt.Errorf("refund %s not in sale %s: %w", no, saleID, ErrNotFound)
		}
		if rf.State == RefundSucceeded || rf.State == RefundFailed {
			out = s
			return tx.dropJob(refundJobID(no))
		}
		if res.RefundID != "" {
			rf.RefundID = res.RefundID
		}
		paidOTN := ""
		for _, a := range s.Attempts {
			if a.State == AttemptPaid {
				paidOTN = a.OutTradeNo
			}
		}
		j := Job{ID: refundJobID(no), Kind: JobRefund, SaleID: saleID, OutTradeNo: paidOTN, CreatedAt: now}
		if job != nil {
			j = *job
		} else if old, err := tx.job(j.ID); err != nil {
			return err
		} else if old != nil {
			j = *old
		}
		drop := false
		switch {
		case res.State == wxpay.RefundSuccess:
			rf.State, rf.Error, drop = RefundSucceeded, nil, true
		case res.State == wxpay.RefundClosed || res.State == wxpay.RefundAbnormal || res.Outcome == wxpay.Failed:
			rf.State, drop = RefundFailed, true
			rf.Error = errInfo(res.Error, "WeChat Pay did not complete the refund ("+string(res.State)+"): refund the customer another way")
		case res.Outcome == wxpay.Paid || res.Outcome == wxpay.Refunded || res.State == wxpay.RefundProcessing:
			rf.State = RefundProcessing
			j.Due = now.Add(backoff(jobBackoff, maxJobBackoff, j.Tries))
		default:
			// Unknown (or not found yet): the queue asks again with the same number.
			j.Tries++
			j.LastError = describe(res.Error)
			j.Due = now.Add(backoff(jobBackoff, maxJobBackoff, j.Tries-1))
			if j.Tries >= e.cfg.AttentionTries || now.Sub(j.CreatedAt) >= e.cfg.AttentionAfter {
				j.Attention = true
				j.Advice = fmt.Sprintf("The refund %s (%s %s) of sale %s has no answer from WeChat Pay after %d tries; posd keeps trying with the same refund number. Check the network, or look it up in the WeChat Pay merchant platform.",
					no, s.Currency, formatAmount(rf.Amount), saleID, j.Tries)
				j.Due = now.Add(backoff(attentionRetry, attentionRetry, 0))
			}
		}
		rf.UpdatedAt, s.UpdatedAt = now, now
		if drop {
			if err := tx.dropJob(j.ID); err != nil {
				return err
			}
		} else if err := tx.putJob(j); err != nil {
			return err
		}
		out = s
		return tx.put(s)
	})
	if err != nil {
		return nil, e.refusal(err)
	}
	return out, nil
}

// workRefund confirms a refund from the durable queue: a refund query, and if WeChat
// never got the refund, the refund again with the same out_refund_no.
func (e *Engine) workRefund(ctx context.Context, j Job) {
	no := j.ID[len("refund:"):]
	if !e.limiter.wait(ctx, e) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	res, err := e.gw.QueryRefund(cctx, no)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		res = wxpay.Refund{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: InfoNotSent, Message: err.Error()}}
	}
	e.observe(!silent(res.Outcome, res.Error), verified(res.Outcome, res.Error))
	if res.Outcome == wxpay.Failed && res.State == "" {
		// WeChat refused the query itself (signature, permission, parameters): that says
		// nothing about the refund, which may be paying out. Marking it failed would free
		// its amount for a second refund, so it stays open and the queue asks again
		// (a person is asked to look after the usual tries).
		res.Outcome = wxpay.Unknown
	}
	if res.Outcome == wxpay.NotFound {
		// WeChat never got it: send it again (same number, so never twice).
		s, err := e.Sale(j.SaleID)
		if err != nil {
			return
		}
		var rf *Refund
		var txID string
		for i := range s.Refunds {
			if s.Refunds[i].OutRefundNo == no {
				rf = &s.Refunds[i]
			}
		}
		for _, a := range s.Attempts {
			if a.State == AttemptPaid {
				txID = a.TransactionID
			}
		}
		if rf == nil || !e.limiter.wait(ctx, e) {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		res, err = e.gw.Refund(cctx, wxpay.RefundRequest{OutTradeNo: j.OutTradeNo, TransactionID: txID, OutRefundNo: no,
			Amount: rf.Amount, Total: s.Amount, Currency: s.Currency, Reason: rf.Reason})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			res = wxpay.Refund{Outcome: wxpay.Unknown, Error: &wxpay.Error{Code: InfoNotSent, Message: err.Error()}}
		}
	}
	if _, err := e.refundResult(j.SaleID, no, res, &j); err != nil {
		e.log.WithError(err).WithField("job", j.ID).Error("durable queue: refund result not journaled")
	}
}
