package receipts

import (
	"maps"
	"slices"

	"posd/printer"
	"posd/queue/report"
)

// ZReport turns the day report into the receipt printer's Z report (printer.RenderReport,
// printer.Spool.EnqueueReport). merchantName heads the slip; number is the Z number when
// the caller keeps one (0: not printed). Maps and slices are copied: the printout is
// journaled by the spool and must not change with the report.
func ZReport(d report.DayReport, merchantName string, number int, lang printer.Lang) printer.DayReport {
	p := printer.DayReport{
		Lang: lang, MerchantName: merchantName, Date: d.Date, StoreID: d.StoreID, TillID: d.TillID,
		Number: number, Currency: d.Currency,
		Sales: maps.Clone(d.Sales), Attempts: maps.Clone(d.Attempts),
		Paid:        printer.Money{Count: d.Paid.Count, Amount: d.Paid.Amount},
		Refunds:     printer.Money{Count: d.Refunds.Count, Amount: d.Refunds.Amount},
		RefundsOpen: printer.Money{Count: d.RefundsOpen.Count, Amount: d.RefundsOpen.Amount},
		Net:         d.Net, Unresolved: d.Unresolved, Problems: slices.Clone(d.Problems),
		GeneratedAt: d.GeneratedAt,
	}
	for _, w := range d.Wallets {
		p.Wallets = append(p.Wallets, printer.WalletTotal{Wallet: w.Wallet, Count: w.Count, Amount: w.Amount, PayerAmount: w.PayerAmount})
	}
	return p
}
