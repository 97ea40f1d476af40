package scanner_test

import (
	"context"
	"fmt"

	"posd/scanner"
	"posd/wxpay"
)

// A till with one configured scanner would pass its [[scanner]] entries as the first
// argument; here only a virtual scanner (as in posd demo) is supervised.
func ExampleSupervisor() {
	virtual := scanner.NewFake("web")
	done := make(chan struct{})
	sup, err := scanner.NewSupervisor(nil, scanner.Options{
		Extra: []scanner.Device{virtual.Device()},
		Handler: func(s scanner.Scan) {
			if err := wxpay.CheckAuthCode(s.Code); err != nil {
				fmt.Println("refused:", err)
			} else {
				fmt.Println("pay with", wxpay.MaskCode(s.Code), "from", s.Device)
				close(done)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { sup.Run(ctx); close(stopped) }()

	virtual.Push("4006381333931")
	virtual.Push("134567890123456789")
	virtual.Push("134567890123456789") // the same code again at once: one scan
	<-done
	cancel()
	<-stopped
	fmt.Println("connected:", sup.Status()[0].Connected)
	// Output:
	// refused: This is a product barcode (EAN-13), not a payment code: scan the customer's phone
	// pay with 13************6789 from web
	// connected: false
}
