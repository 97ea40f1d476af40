// Package report holds the store manager's tools: the day report (Z report), the daily
// reconciliation of the journal against WeChat's statement, and the journal export.
// It works on engine records and wxpay statements only; storage and scheduling are
// injected, so everything here is tested without disk or network.
package report

import (
	"sort"
	"time"

	"posd/queue/engine"
)

// Money is a count and an amount in one currency's minor units.
type Money struct {
	Count  int   `json:"count"`
	Amount int64 `json:"amount"`
}

// WalletTotals are the paid attempts of one wallet currency (the payer's: HKD or CNY).
type WalletTotals struct {
	Wallet      string `json:"wallet"`
	Count       int    `json:"count"`
	Amount      int64  `json:"amount"`       // in the sale currency (what the till charged)
	PayerAmount int64  `json:"payer_amount"` // in the wallet currency, as WeChat reported it
}

// DayReport is the Z report of one till for one day.
type DayReport struct {
	Date     string         `json:"date"` // 2006-01-02, till time zone
	StoreID  string         `json:"store_id"`
	TillID   string         `json:"till_id"`
	Currency string         `json:"currency"`
	Sales    map[string]int `json:"sales"`    // sale state → count
	Attempts map[string]int `json:"attempts"` // attempt state → count
	Paid     Money          `json:"paid"`
	Wallets  []WalletTotals `json:"wallets"` // sorted by wallet
	// TradeTypes splits the paid attempts by trade type: MICROPAY (Quick Pay) and NATIVE
	// (QR Code Payment).
	TradeTypes  map[string]Money  `json:"trade_types"`
	Refunds     Money             `json:"refunds"` // successful refunds
	RefundsOpen Money             `json:"refunds_open"`
	Net         int64             `json:"net"` // paid − refunded
	Unresolved  int               `json:"unresolved"`
	Problems    []string          `json:"problems,omitempty"` // sales a manager should look at
	ByHour      map[int]Money     `json:"by_hour,omitempty"`
	Extra       map[string]string `json:"extra,omitempty"`
	GeneratedAt time.Time         `json:"generated_at"`
}

// Day builds the day report from the sales of that day. Refunds count on the day of the
// sale they belong to (the journal is indexed by sale day). ByHour counts hours on the
// till's clock in loc (the process zone of a till set to UTC is not the shop's); nil
// means now's location.
func Day(date, storeID, tillID, currency string, loc *time.Location, sales []*engine.Sale, now time.Time) DayReport {
	if loc == nil {
		loc = now.Location()
	}
	r := DayReport{
		Date: date, StoreID: storeID, TillID: tillID, Currency: currency,
		Sales: map[string]int{}, Attempts: map[string]int{}, ByHour: map[int]Money{}, TradeTypes: map[string]Money{},
		GeneratedAt: now,
	}
	wallets := map[string]*WalletTotals{}
	for _, s := range sales {
		r.Sales[string(s.State)]++
		if r.Currency == "" {
			r.Currency = s.Currency
		}
		for _, a := range s.Attempts {
			r.Attempts[string(a.State)]++
			switch a.State {
			case engine.AttemptPaid:
				r.Paid.Count++
				r.Paid.Amount += s.Amount
				tt := r.TradeTypes[TradeTypeOf(&a)]
				tt.Count++
				tt.Amount += s.Amount
				r.TradeTypes[TradeTypeOf(&a)] = tt
				w := a.Wallet
				if w == "" {
					w = s.Currency
				}
				wt := wallets[w]
				if wt == nil {
					wt = &WalletTotals{Wallet: w}
					wallets[w] = wt
				}
				wt.Count++
				wt.Amount += s.Amount
				if a.PayerAmount != 0 {
					wt.PayerAmount += a.PayerAmount
				} else if w == s.Currency {
					wt.PayerAmount += s.Amount
				}
				hour := s.CreatedAt.In(loc).Hour()
				h := r.ByHour[hour]
				h.Count++
				h.Amount += s.Amount
				r.ByHour[hour] = h
				if s.State != engine.SalePaid {
					r.Problems = append(r.Problems, s.ID+": attempt "+a.OutTradeNo+" paid but the sale is "+string(s.State))
				}
			case engine.AttemptUnresolved, engine.AttemptPaying:
				r.Unresolved++
			}
		}
		for _, f := range s.Refunds {
			switch f.State {
			case "success":
				r.Refunds.Count++
				r.Refunds.Amount += f.Amount
			case "failed":
			default:
				r.RefundsOpen.Count++
				r.RefundsOpen.Amount += f.Amount
			}
		}
	}
	for _, w := range wallets {
		r.Wallets = append(r.Wallets, *w)
	}
	sort.Slice(r.Wallets, func(i, j int) bool { return r.Wallets[i].Wallet < r.Wallets[j].Wallet })
	r.Net = r.Paid.Amount - r.Refunds.Amount
	return r
}
