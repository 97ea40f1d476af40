package printer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"posd/printer"
)

// A till's wiring: a printer from the configuration, a spool in the journal's bbolt file,
// a receipt enqueued after a payment, and the text the UI would show.
func Example() {
	dir, _ := os.MkdirTemp("", "printer-example")
	defer os.RemoveAll(dir)
	db, _ := bbolt.Open(filepath.Join(dir, "posd.db"), 0o600, nil)
	defer db.Close()

	cfg := printer.Config{Kind: "file", Device: dir, Encoding: "big5", Columns: 32}
	p, err := printer.Open(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	spool, _ := printer.NewSpool(db, p, printer.SpoolOptions{Format: cfg.Format()})
	defer spool.Close()

	r := printer.Receipt{
		Kind: printer.KindSale, MerchantName: "茶餐廳 Cafe", StoreID: "HK001", TillID: "T01",
		Time: time.Date(2026, 11, 26, 4, 30, 0, 0, time.UTC), SaleID: "s1", Amount: 4200, Currency: "HKD",
		TransactionID: "4200000001", OutTradeNo: "HK001T01000001", Code: "13**********6789",
	}
	id, _ := spool.Enqueue(r) // one small bbolt write; printing happens in the spool
	fmt.Println(id)

	b, _ := printer.Render(r, cfg.Format())
	text, _ := printer.DecodeText(b, cfg.Encoding)
	fmt.Print(text[:len("C|**^^茶餐廳 Cafe^^**\n")])
	// Output:
	// sale:s1:HK001T01000001
	// C|**^^茶餐廳 Cafe^^**
}
