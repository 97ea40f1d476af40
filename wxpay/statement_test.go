package wxpay

import (
	"fmt"
	"testing"
	"time"
)

func TestParseStatementCSV(t *testing.T) {
	crossBorder := "\ufeff交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,充值券币种,充值券金额,优惠券币种,优惠券金额,微信退款单号,商户退款单号,退款类型,退款状态,商品名称,商户数据包,手续费,费率,标价币种,订单金额（标价币种）,用户支付币种,用户支付金额,结算币种,应结订单金额,支付汇率,退款汇率,申请退款金额,用户退款币种,用户退款金额,退款结算币种,退款应结订单金额,充值券退款金额,优惠券退款金额\n" +
		"`2027-02-28 23:59:59,`wx1,`1900000100,`1900000109,`TILL01,`4200000009,`T9,`o9,`MICROPAY,`REFUND,`OTHERS,`,`0.00,`,`0.00,`50009,`R9,`ORIGINAL,`PROCESSING,`Tea,`,`0.01,`0.60%,`HKD,`38.00,`CNY,`33.44,`HKD,`38.00,`88000000,`88000000,`10.00,`CNY,`8.80,`HKD,`10.00,`0.00,`0.00\n"
	rows, err := parseStatementCSV([]byte(crossBorder))
	if err != nil {
		t.Fatal(err)
	}
	want := StatementRow{
		TradeTime: time.Date(2027, 2, 28, 23, 59, 59, 0, hongKong), TransactionID: "4200000009", OutTradeNo: "T9", DeviceID: "TILL01",
		TradeState: "REFUND", Amount: 3800, Currency: "HKD", PayerAmount: 3344, PayerCurrency: "CNY",
		RefundID: "50009", OutRefundNo: "R9", RefundAmount: 1000, RefundState: "PROCESSING",
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	got := rows[0]
	if got.Raw["商品名称"] != "Tea" || got.Raw["支付汇率"] != "88000000" {
		t.Fatalf("raw %v", got.Raw)
	}
	got.Raw = nil
	if !got.TradeTime.Equal(want.TradeTime) {
		t.Fatalf("time %v", got.TradeTime)
	}
	got.TradeTime = want.TradeTime
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}

	english := "Transaction time,Official account ID,Vendor ID,Sub vendor ID,Device ID,Wechat order number,Vendor order number,User tag,Transaction type,Transaction status,Payment bank,Currency type,Total amount\r\n" +
		"`2027-02-28 10:00:00,`wx1,`1,`2,`T1,`42,`A-1,`o,`MICROPAY,`SUCCESS,`OTHERS,`JPY,`500\r\n"
	rows, err = parseStatementCSV([]byte(english))
	if err != nil || len(rows) != 1 || rows[0].OutTradeNo != "A-1" || rows[0].Amount != 500 || rows[0].Currency != "JPY" {
		t.Fatalf("%v %+v", err, rows)
	}

	if rows, err := parseStatementCSV([]byte("交易时间,商户订单号\r\n")); err != nil || len(rows) != 0 {
		t.Fatalf("header only: %v %v", err, rows)
	}
	bad := map[string]string{
		"DataFirst":    "`1,`2\n",
		"NoOrderCol":   "交易时间,设备号\n`2027-02-28 10:00:00,`T1\n",
		"BadAmount":    "商户订单号,总金额\n`A,`1.234\n",
		"BadTime":      "交易时间,商户订单号\n`yesterday,`A\n",
		"TooManyCells": "商户订单号\n`A,`B\n",
		"Empty":        "",
	}
	for name, in := range bad {
		if _, err := parseStatementCSV([]byte(in)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
