package report

import (
	"strconv"
	"strings"
	"testing"

	"posd/queue/engine"
	"posd/wxpay"
)

// FuzzReconcile feeds statement rows built from arbitrary text (one row a line:
// out_trade_no,state,amount,currency,transaction_id,device,out_refund_no,refund_amount) against a fixed journal and
// checks what must hold whatever WeChat sends: no panic, one item per order, counts and
// alerts that add up, matched items that really match, every unlisted payment missing.
func FuzzReconcile(f *testing.F) {
	f.Add("HK001_T01_1,SUCCESS,1000,HKD,tx1,T01\nHK001_T01_3,SUCCESS,999,HKD,tx3,T01")
	f.Add("HK001_T01_2,REVOKED,1000,HKD,,T01\nHK001_T01_2,REFUND,1000,HKD,tx2,\nX,SUCCESS,5,CNY,tx1,T02")
	f.Add("HK001_T02_9,SUCCESS,1,HKD,tx9,T02\nHK001_T01_5,success,1000,hkd,,T01\n,,,,,")
	f.Add("HK001_T01_4,SUCCESS,-1,,tx4,\nHK001_T01_4,SUCCESS,1000,HKD,tx4,T01\nHK001_T01_6,REVOKED,0,USD,,")
	f.Add("HK001_T01_1,REFUND,1000,HKD,tx1,T01,HK001_T01_1R1,100\nHK001_T01_1,REFUND,1000,HKD,tx1,T01,HK001_T01_1R2,50\nHK001_T01_6,REFUND,1000,HKD,tx6,,X,7")
	journal := func() []*engine.Sale {
		a := sale("a", 1000, engine.SalePaid, att("HK001_T01_1", engine.AttemptPaid, "tx1", "HKD", 1000))
		a.Refunds = []engine.Refund{
			{OutRefundNo: "HK001_T01_1R1", Amount: 100, State: engine.RefundSucceeded, CreatedAt: a.CreatedAt},
			{OutRefundNo: "HK001_T01_1R2", Amount: 50, State: engine.RefundFailed, CreatedAt: a.CreatedAt},
		}
		return []*engine.Sale{
			a,
			sale("b", 1000, engine.SaleCancelled, att("HK001_T01_2", engine.AttemptReversed, "", "", 0)),
			sale("c", 1000, engine.SalePaid, att("HK001_T01_3", engine.AttemptFailed, "", "", 0), att("HK001_T01_4", engine.AttemptPaid, "tx4", "CNY", 920)),
			sale("d", 1000, engine.SalePaying, att("HK001_T01_5", engine.AttemptUnresolved, "", "", 0)),
			sale("e", 1000, engine.SalePaid, att("HK001_T01_6", engine.AttemptPaid, "tx6", "HKD", 1000)),
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		var rows []wxpay.StatementRow
		for _, line := range strings.Split(text, "\n") {
			p := strings.Split(line, ",")
			for len(p) < 8 {
				p = append(p, "")
			}
			amount, _ := strconv.ParseInt(p[2], 10, 64)
			refund, _ := strconv.ParseInt(p[7], 10, 64)
			rows = append(rows, wxpay.StatementRow{OutTradeNo: p[0], TradeState: p[1], Amount: amount, Currency: p[3], TransactionID: p[4], DeviceID: p[5],
				OutRefundNo: p[6], RefundAmount: refund})
		}
		sales := journal()
		res := Reconcile("2026-11-25", sales, wxpay.Statement{Date: "20261125", Rows: rows}, Filter{DeviceID: "T01", Prefix: "HK001_T01_"})
		total, alerts := 0, 0
		for _, n := range res.Counts {
			total += n
		}
		seen, refunds := map[string]bool{}, map[string]bool{}
		for _, it := range res.Items {
			if it.Alert != it.Class.Alert(it.LocalState) {
				t.Fatalf("alert flag of %+v", it)
			}
			if it.Class.IsRefund() {
				if it.Alert {
					alerts++
				}
				refunds[it.OutRefundNo] = true
				if it.Class == RefundMatched && (it.LocalAmount != it.WeChatAmount || it.LocalState == string(engine.RefundFailed)) {
					t.Fatalf("refund matched but different: %+v", it)
				}
				continue
			}
			if seen[it.OutTradeNo] {
				t.Fatalf("%q listed twice: %+v", it.OutTradeNo, res.Items)
			}
			seen[it.OutTradeNo] = true
			if it.Alert {
				alerts++
			}
			if it.Alert != it.Class.Alert(it.LocalState) {
				t.Fatalf("alert flag of %+v", it)
			}
			if it.Class == Matched && (it.LocalAmount != it.WeChatAmount || !strings.EqualFold(it.LocalCurrency, it.WeChatCurr) && it.WeChatCurr != "") {
				t.Fatalf("matched but different: %+v", it)
			}
			if it.Class == PaidNotLocal && it.LocalState == string(engine.AttemptPaid) {
				t.Fatalf("paid locally but reported not local: %+v", it)
			}
		}
		if total != len(res.Items) || alerts != res.Alerts {
			t.Fatalf("counts %v (%d) and alerts %d for %d items, %d alerts", res.Counts, total, res.Alerts, len(res.Items), alerts)
		}
		for _, s := range sales {
			for _, r := range s.Refunds {
				if r.State == engine.RefundSucceeded && !refunds[r.OutRefundNo] {
					t.Fatalf("succeeded refund %s neither matched nor reported: %+v", r.OutRefundNo, res.Items)
				}
			}
			for _, a := range s.Attempts {
				if a.State == engine.AttemptPaid && !seen[a.OutTradeNo] {
					t.Fatalf("paid attempt %s neither matched nor reported: %+v", a.OutTradeNo, res.Items)
				}
			}
		}
	})
}
