package wxpaytest_test

import (
	"context"
	"fmt"
	"time"

	"posd/wxpay"
	"posd/wxpay/wxpaytest"
)

// A payment that waits for the customer's password, seen through the real client.
func Example() {
	clk := &safeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	s := wxpaytest.New(wxpaytest.Options{Now: clk.Now})
	defer s.Close()
	c, err := wxpay.New(s.ClientConfig(wxpay.APIv3Global))
	if err != nil {
		panic(err)
	}
	code := "134567890123456789"
	s.Script(wxpaytest.Match{AuthCode: code}, wxpaytest.Fault{Kind: wxpaytest.FaultUserPaying, For: 5 * time.Second})
	ctx := context.Background()
	o, _ := c.MicroPay(ctx, wxpay.PayRequest{OutTradeNo: "HK001-T01-1", AuthCode: code, Amount: 1050, Currency: "HKD", Description: "Shop-Goods"})
	fmt.Println(o.Outcome)
	clk.Advance(6 * time.Second)
	o, _ = c.QueryOrder(ctx, "HK001-T01-1")
	fmt.Println(o.Outcome, s.Captured(), len(s.Violations()))
	// Output:
	// pending
	// paid 1050 0
}
