package wxpay_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"posd/wxpay"
)

// ExampleNew builds the default v3 Multi-Wallet client from the [wxpay] files and branches
// on the outcome of a Quick Pay charge (compiled, not run: it would call WeChat).
func ExampleNew() {
	keyPEM, _ := os.ReadFile("/etc/posd/apiclient_key.pem")
	key, err := wxpay.ParsePrivateKey(keyPEM)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := wxpay.New(wxpay.Config{
		API:                  wxpay.APIv3Global,
		BaseURL:              "https://apihk.mch.weixin.qq.com",
		AppID:                "wx8888888888888888",
		MchID:                "1900000109",
		MerchantCategoryCode: "5411",
		PrivateKey:           key,
		MerchantSerialNo:     "3775B6A45ACD588826D15E583A95F5DD00000001",
		APIv3Key:             os.Getenv("APIV3_KEY"),
		Timeouts:             wxpay.Timeouts{MicroPay: 20 * time.Second},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	o, err := c.MicroPay(context.Background(), wxpay.PayRequest{
		OutTradeNo: "TILL01-20270301-000001", AuthCode: "134567890123456789",
		Amount: 3800, Currency: "HKD", Description: "Demo Shop-Coffee",
	})
	switch {
	case errors.Is(err, wxpay.ErrNotSent):
		fmt.Println("WeChat Pay unreachable: nothing was charged")
	case err != nil:
		fmt.Println("not sent:", err)
	case o.Outcome == wxpay.Paid:
		fmt.Println("paid", o.TransactionID)
	case o.Outcome == wxpay.Pending:
		fmt.Println("waiting for the customer: query the order")
	case o.Outcome == wxpay.Unknown:
		fmt.Println("query the order; cashier sees:", o.Error.Message)
	default:
		fmt.Println(o.Error.Message)
	}
}
