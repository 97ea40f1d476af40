package report

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"posd/queue/engine"
	"posd/wxpay"
)

type localRefund struct {
	sale *engine.Sale
	r    *engine.Refund
}

// refundSet matches the statement's REFUND rows with the journal's refunds.
type refundSet struct {
	groups [][]*engine.Sale
	byNo   map[string]localRefund
	byID   map[string]string // WeChat refund id → out_refund_no
	rows   []wxpay.StatementRow
}

// newRefunds indexes the refunds of the sales; a later group wins a duplicate number
// (this day's records over context).
func newRefunds(groups ...[]*engine.Sale) *refundSet {
	rs := &refundSet{groups: groups, byNo: map[string]localRefund{}, byID: map[string]string{}}
	for _, g := range groups {
		for _, s := range g {
			for j := range s.Refunds {
				r := &s.Refunds[j]
				rs.byNo[r.OutRefundNo] = localRefund{s, r}
				if r.RefundID != "" {
					rs.byID[r.RefundID] = r.OutRefundNo
				}
			}
		}
	}
	return rs
}

func (rs *refundSet) lookup(row wxpay.StatementRow) (localRefund, bool) {
	if row.OutRefundNo != "" {
		if lr, ok := rs.byNo[row.OutRefundNo]; ok {
			return lr, true
		}
	}
	if row.RefundID != "" {
		if no, ok := rs.byID[row.RefundID]; ok {
			return rs.byNo[no], true
		}
	}
	return localRefund{}, false
}

func (rs *refundSet) known(row wxpay.StatementRow) bool {
	_, ok := rs.lookup(row)
	return ok
}

func (rs *refundSet) row(row wxpay.StatementRow) { rs.rows = append(rs.rows, row) }

// closedRefund: WeChat lists the refund, but no money went back.
func closedRefund(state string) bool {
	switch strings.ToUpper(state) {
	case "REFUNDCLOSE", "CLOSED", "FAIL", "FAILED":
		return true
	}
	return false
}

// classify adds an item per statement refund, then one per refund the journal holds as
// succeeded on date that the statement does not list.
func (rs *refundSet) classify(date string, loc *time.Location, add func(Item)) {
	seen := make(map[string]bool, len(rs.rows))
	for _, row := range rs.rows {
		lr, ok := rs.lookup(row)
		it := Item{OutTradeNo: row.OutTradeNo, TransactionID: row.TransactionID, OutRefundNo: row.OutRefundNo, RefundID: row.RefundID,
			WeChatState: strings.ToUpper(row.RefundState), WeChatAmount: row.RefundAmount, WeChatCurr: row.Currency}
		if ok {
			seen[lr.r.OutRefundNo] = true
			it.SaleID, it.LocalState = lr.sale.ID, string(lr.r.State)
			it.LocalAmount, it.LocalCurrency = lr.r.Amount, lr.sale.Currency
			if it.OutRefundNo == "" {
				it.OutRefundNo = lr.r.OutRefundNo
			}
			if it.RefundID == "" {
				it.RefundID = lr.r.RefundID
			}
		}
		switch {
		case closedRefund(row.RefundState):
			if !ok || lr.r.State != engine.RefundSucceeded {
				continue // no money moved, and the till does not say it did
			}
			it.Class = RefundMissingAtWeChat
			it.Action = fmt.Sprintf("WeChat closed refund %s, which the till holds as succeeded: query it; the customer may not have the money back", it.OutRefundNo)
		case !ok:
			it.Class = RefundNotLocal
			it.Action = fmt.Sprintf("WeChat refunded money the till has no record of (refund %s): check it in the WeChat Pay merchant platform", or2(row.OutRefundNo, row.RefundID))
		case lr.r.State == engine.RefundFailed:
			it.Class = RefundNotLocal
			it.Action = fmt.Sprintf("the till holds refund %s as failed, but WeChat refunded it: check the customer was not refunded twice", it.OutRefundNo)
		case lr.r.Amount != row.RefundAmount:
			it.Class = RefundAmountMismatch
			it.Action = fmt.Sprintf("compare refund %s with WeChat's record; refund or collect the difference", it.OutRefundNo)
		default:
			it.Class = RefundMatched
		}
		add(it)
	}
	for _, g := range rs.groups {
		for _, s := range g {
			for j := range s.Refunds {
				r := &s.Refunds[j]
				if rs.byNo[r.OutRefundNo].r != r || r.State != engine.RefundSucceeded || seen[r.OutRefundNo] {
					continue // a duplicate number, not succeeded, or listed
				}
				end := dayEnd(date, or(loc, r.CreatedAt.Location()))
				if r.CreatedAt.Before(end.AddDate(0, 0, -1)) || !r.CreatedAt.Before(end) {
					continue // another day's refund: that day's statement lists it
				}
				seen[r.OutRefundNo] = true
				action := fmt.Sprintf("WeChat has no record of refund %s: query it, then contact WeChat Pay support", r.OutRefundNo)
				if !r.CreatedAt.Before(end.Add(-midnightMargin)) {
					action = fmt.Sprintf("refund %s made around midnight: check the next day's statement before contacting WeChat Pay support", r.OutRefundNo)
				}
				add(Item{Class: RefundMissingAtWeChat, OutTradeNo: paidOutTradeNo(s), OutRefundNo: r.OutRefundNo, RefundID: r.RefundID,
					SaleID: s.ID, LocalState: string(r.State), LocalAmount: r.Amount, LocalCurrency: s.Currency, Action: action})
			}
		}
	}
}

func or2(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func paidOutTradeNo(s *engine.Sale) string {
	for i := len(s.Attempts) - 1; i >= 0; i-- {
		if s.Attempts[i].State == engine.AttemptPaid {
			return s.Attempts[i].OutTradeNo
		}
	}
	if len(s.Attempts) > 0 {
		return s.Attempts[len(s.Attempts)-1].OutTradeNo
	}
	return ""
}

// refundContext reads the sales of the RefundDays days before the previous day that
// hold refunds (a refund on this day of an older sale is on this day's statement), and
// looks up, by out_trade_no, the sales of statement refunds still unknown.
func (r *Reconciler) refundContext(day time.Time, sales, previous []*engine.Sale, st wxpay.Statement) ([]*engine.Sale, error) {
	var earlier []*engine.Sale
	n := r.RefundDays
	if n == 0 {
		n = 14
	}
	for d := 2; d <= n; d++ {
		ss, err := r.Sales(day.AddDate(0, 0, -d).Format("2006-01-02"))
		if err != nil {
			return nil, fmt.Errorf("refund context: %w", err)
		}
		for _, s := range ss {
			if len(s.Refunds) > 0 { // only these are kept: a busy till's days are large
				earlier = append(earlier, s)
			}
		}
	}
	if r.SaleByOutTradeNo == nil {
		return earlier, nil
	}
	rs := newRefunds(earlier, previous, sales)
	looked := map[string]bool{}
	for _, row := range st.Rows {
		if !strings.EqualFold(row.TradeState, "REFUND") || row.OutTradeNo == "" || looked[row.OutTradeNo] || rs.known(row) {
			continue
		}
		looked[row.OutTradeNo] = true
		s, err := r.SaleByOutTradeNo(row.OutTradeNo)
		if errors.Is(err, engine.ErrNotFound) || s == nil && err == nil {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("refund context: sale of %s: %w", row.OutTradeNo, err)
		}
		earlier = append(earlier, s)
	}
	return earlier, nil
}
