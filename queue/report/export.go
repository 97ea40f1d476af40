package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"posd/queue/engine"
)

// JournalRow is one attempt, with every field a bookkeeper needs.
type JournalRow struct {
	Date          string `json:"date"`
	SaleID        string `json:"sale_id"`
	Reference     string `json:"reference"`
	StoreID       string `json:"store_id"`
	TillID        string `json:"till_id"`
	SaleState     string `json:"sale_state"`
	SaleCreated   string `json:"sale_created_at"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	OutTradeNo    string `json:"out_trade_no"`
	AttemptState  string `json:"attempt_state"`
	StartedAt     string `json:"started_at"`
	UpdatedAt     string `json:"updated_at"`
	TransactionID string `json:"transaction_id"`
	Wallet        string `json:"wallet"`
	PayerAmount   int64  `json:"payer_amount"`
	Code          string `json:"payment_code_masked"`
	ErrorCode     string `json:"error_code"`
	ErrorMessage  string `json:"error_message"`
	Refunded      int64  `json:"refunded"`
	RefundCount   int    `json:"refund_count"`
	Description   string `json:"description"`
}

var journalHeader = []string{"date", "sale_id", "reference", "store_id", "till_id", "sale_state", "sale_created_at",
	"amount", "currency", "out_trade_no", "attempt_state", "started_at", "updated_at", "transaction_id", "wallet",
	"payer_amount", "payment_code_masked", "error_code", "error_message", "refunded", "refund_count", "description"}

// Journal flattens sales into one row per attempt (a sale without attempts gives one row
// with empty attempt fields, so cancelled sales are visible too). Times are RFC 3339 in loc.
func Journal(sales []*engine.Sale, loc *time.Location) []JournalRow {
	if loc == nil {
		loc = time.UTC
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format(time.RFC3339)
	}
	var rows []JournalRow
	for _, s := range sales {
		base := JournalRow{Date: s.CreatedAt.In(loc).Format("2006-01-02"), SaleID: s.ID, Reference: s.Reference,
			StoreID: s.StoreID, TillID: s.TillID, SaleState: string(s.State), SaleCreated: ts(s.CreatedAt),
			Amount: s.Amount, Currency: s.Currency, Description: s.Description}
		if len(s.Attempts) == 0 {
			rows = append(rows, base)
			continue
		}
		for _, a := range s.Attempts {
			r := base
			r.OutTradeNo, r.AttemptState = a.OutTradeNo, string(a.State)
			r.StartedAt, r.UpdatedAt = ts(a.StartedAt), ts(a.UpdatedAt)
			r.TransactionID, r.Wallet, r.PayerAmount, r.Code = a.TransactionID, a.Wallet, a.PayerAmount, a.Code
			if a.Error != nil {
				r.ErrorCode, r.ErrorMessage = a.Error.Code, a.Error.Message
			}
			if a.State == engine.AttemptPaid {
				for _, f := range s.Refunds {
					if f.State == "success" {
						r.Refunded += f.Amount
						r.RefundCount++
					}
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// WriteJournal writes the rows as "csv" or "json" (one array). The JSON carries amounts
// in minor units (cents), as the API does. The CSV is for a person with a spreadsheet:
// it starts with a UTF-8 byte order mark (without it Excel reads the Chinese of a
// description as Big5 or Latin-1 and garbles it) and writes amounts in dollars
// ("10.50"), each next to its currency column (currency for amount and refunded,
// wallet for payer_amount).
func WriteJournal(w io.Writer, rows []JournalRow, format string) error {
	switch format {
	case "json":
		if rows == nil {
			rows = []JournalRow{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "csv", "":
		if _, err := io.WriteString(w, "\uFEFF"); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		cw := csv.NewWriter(w)
		_ = cw.Write(journalHeader)
		for _, r := range rows {
			_ = cw.Write([]string{r.Date, r.SaleID, csvSafe(r.Reference), r.StoreID, r.TillID, r.SaleState, r.SaleCreated,
				Dollars(r.Amount), r.Currency, r.OutTradeNo, r.AttemptState, r.StartedAt, r.UpdatedAt,
				r.TransactionID, r.Wallet, Dollars(r.PayerAmount), r.Code, r.ErrorCode, csvSafe(r.ErrorMessage),
				Dollars(r.Refunded), strconv.Itoa(r.RefundCount), csvSafe(r.Description)})
		}
		cw.Flush()
		return cw.Error()
	default:
		return fmt.Errorf("journal: format %q: want csv or json", format)
	}
}

// Dollars writes an amount in cents as dollars and cents, "-12.05": the currencies a
// Hong Kong till sees (HKD, CNY) both have two decimals.
func Dollars(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// csvSafe stops a spreadsheet from running a free-text cell as a formula: a leading tab or
// carriage return counts too, as spreadsheets skip them before looking for "=" (OWASP CSV
// injection).
func csvSafe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}
