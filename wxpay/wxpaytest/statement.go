package wxpaytest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// StatementHeader is the 38-column cross-border statement header (docs/wxpay-v3.md §7), used for
// both v3 statements and v2 downloadbill.
var StatementHeader = []string{
	"交易时间", "公众账号ID", "商户号", "子商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型", "交易状态",
	"付款银行", "充值券币种", "充值券金额", "优惠券币种", "优惠券金额", "微信退款单号", "商户退款单号", "退款类型", "退款状态", "商品名称",
	"商户数据包", "手续费", "费率", "标价币种", "订单金额(标价币种)", "用户支付币种", "用户支付金额", "结算币种", "应结订单金额", "支付汇率",
	"退款汇率", "申请退款金额", "用户退款币种", "用户退款金额", "退款结算币种", "退款应结订单金额", "充值券退款金额", "优惠券退款金额",
}

// v2SummaryHeader is the summary header of a v2 bill (docs/wxpay-v2.md §8).
var v2SummaryHeader = []string{"总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额"}

// money formats minor units as main units with two decimals (statements use "38.00").
func money(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

func rate(r int64) string { return fmt.Sprintf("%d.%08d", r/100000000, r%100000000) }

// statementReady is when the statement of date becomes available. Caller holds s.mu.
func (s *Server) statementReady(date string, day time.Time) time.Time {
	if t, ok := s.stmtReady[date]; ok {
		return t
	}
	return day.Add(24 * time.Hour).Add(s.opts.StatementDelay)
}

// statementRows builds a day's rows from the ledger. billType: ALL, SUCCESS, REFUND.
// Caller holds s.mu.
func (s *Server) statementRows(day time.Time, billType string, now time.Time) (rows [][]string, count int, settled, refunded, total, requested int64) {
	end := day.Add(24 * time.Hour)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(day) && t.Before(end) }
	for _, no := range s.order {
		o := s.orders[no]
		s.advance(o, now)
		if s.stmtDrop[no] {
			continue
		}
		sub := ""
		if o.Institutional {
			sub = s.creds.SubMchID
		}
		base := func(t time.Time, state string) []string {
			r := make([]string, len(StatementHeader))
			r[0] = t.In(hkt).Format("2006-01-02 15:04:05")
			r[1], r[2], r[3], r[4] = s.creds.AppID, s.creds.MchID, sub, o.DeviceID
			r[5], r[6], r[7], r[8], r[9] = o.TransactionID, o.OutTradeNo, openID(o.payerKey()), o.tradeType(), state
			r[10], r[11], r[12], r[13], r[14] = "OTHERS", "", "0.00", "", "0.00"
			r[19], r[20], r[21], r[22] = o.Description, o.Attach, "0.00", "0.00%"
			amt := o.Amount + s.stmtDelta[no]
			r[23], r[24], r[25], r[26] = o.Currency, money(amt), o.PayerCurrency, money(o.PayerAmount)
			r[27], r[28], r[29], r[30] = o.Currency, money(amt), rate(o.ExchangeRate), ""
			if c, ok := s.stmtCurr[no]; ok {
				r[23], r[27] = c, c
			}
			r[31], r[32], r[33], r[34], r[35], r[36], r[37] = "0.00", "", "0.00", "", "0.00", "0.00", "0.00"
			return r
		}
		// A reverse of a paid order on the day of payment turns the payment row REVOKED
		// (docs/wxpay-v2.md §8); a reverse on a later day shows as a REVOKED row on that day, so a
		// day's statement does not change once that day is over.
		revokedSameDay := o.State == StateRevoked && o.WasPaid && in(o.PaidAt) && in(o.ReversedAt)
		revokedLater := o.State == StateRevoked && o.WasPaid && !in(o.PaidAt) && in(o.ReversedAt)
		showRevoke := func(r []string) {
			r[17], r[18], r[28] = "REVOKED", StateSuccess, "0.00"
			r[30], r[31], r[32], r[33], r[34], r[35] = rate(o.ExchangeRate), money(o.Amount), o.PayerCurrency, money(o.PayerAmount), o.Currency, money(o.Amount)
			refunded += o.Amount
			requested += o.Amount
		}
		if o.WasPaid && in(o.PaidAt) && (billType == "ALL" || billType == "SUCCESS" && !revokedSameDay || billType == "REFUND" && revokedSameDay) {
			state := StateSuccess
			r := base(o.PaidAt, state)
			if revokedSameDay {
				r[9] = StateRevoked
				showRevoke(r)
			}
			rows = append(rows, r)
			count++
			amt := o.Amount + s.stmtDelta[no]
			total += amt
			settled += amt
		}
		if billType == "SUCCESS" {
			continue
		}
		if revokedLater {
			r := base(o.ReversedAt, StateRevoked)
			showRevoke(r)
			rows = append(rows, r)
			count++
		}
		for _, rf := range o.rfs {
			if !in(rf.Created) {
				continue
			}
			r := base(rf.Created, StateRefund)
			r[15], r[16], r[17], r[18], r[28] = rf.RefundID, rf.OutRefundNo, "ORIGINAL", rf.State(now), "0.00"
			r[30], r[31], r[32], r[33], r[34], r[35] = rate(o.ExchangeRate), money(rf.Amount), rf.PayerCurrency, money(rf.PayerAmount), rf.Currency, money(rf.Amount)
			rows = append(rows, r)
			count++
			refunded += rf.Amount
			requested += rf.Amount
		}
	}
	return
}

func csvLine(b *strings.Builder, vals []string, tick bool) {
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if tick {
			b.WriteByte('`')
		}
		b.WriteString(v)
	}
	b.WriteString("\r\n")
}

// statementCSV renders the file; v2 bills add the summary lines.
func statementCSV(rows [][]string, v2 bool, count int, settled, refunded, total, requested int64) []byte {
	var b strings.Builder
	csvLine(&b, StatementHeader, false)
	for _, r := range rows {
		csvLine(&b, r, true)
	}
	if v2 {
		csvLine(&b, v2SummaryHeader, false)
		csvLine(&b, []string{fmt.Sprint(count), money(settled), money(refunded), "0.00", "0.00", money(total), money(requested)}, true)
	}
	return []byte(b.String())
}

func gzipBytes(p []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(p)
	zw.Close()
	return buf.Bytes()
}

// parseDate parses YYYYMMDD as the start of that day in Hong Kong time.
func parseDate(d string) (time.Time, bool) {
	if len(d) != 8 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("20060102", d, hkt)
	return t, err == nil
}

// statement serves GET /v3/global/statements and /hk/v3/statements.
func (c *v3Call) statement() (answer, *Fault) {
	s := c.s
	c.rec.Endpoint = EPStatement
	q := c.r.URL.Query()
	if _, problem := s.checkIDs(queryIDs(q), false); problem != "" {
		return c.errorAnswer("PARAM_ERROR", problem), nil
	}
	day, ok := parseDate(q.Get("date"))
	if !ok {
		return c.errorAnswer("PARAM_ERROR", "date must be YYYYMMDD"), nil
	}
	s.mu.Lock()
	f := s.takeFault(EPStatement, "")
	ready := !c.now.Before(s.statementReady(q.Get("date"), day))
	var csv []byte
	if ready {
		rows, _, _, _, _, _ := s.statementRows(day, "ALL", c.now)
		csv = statementCSV(rows, false, 0, 0, 0, 0, 0)
	}
	s.mu.Unlock()
	if !processes(f) && f.Kind != FaultForged {
		return c.transportAnswer(f), f
	}
	if !ready {
		return c.errorAnswer("NO_STATEMENT_EXIST", "账单文件不存在"), f
	}
	sum := sha1.Sum(csv)
	sha := hex.EncodeToString(sum[:])
	hdr := http.Header{}
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Wechatpay-Statement-Sha1", sha)
	body := csv
	if strings.Contains(c.r.Header.Get("Accept-Encoding"), "gzip") {
		body = gzipBytes(csv)
		hdr.Set("Content-Encoding", "gzip")
	}
	c.rec.Outcome = "SUCCESS"
	forged := f != nil && f.Kind == FaultForged
	return c.applyProcessed(f, c.sign(200, body, []byte(`{"sha1":"`+sha+`"}`), forged, hdr)), f
}
