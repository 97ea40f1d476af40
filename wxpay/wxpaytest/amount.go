package wxpaytest

import "time"

// AmountCase is one row of the amount-driven table: in Options.AmountDriven mode, a micropay
// whose amount ends in Cents (amount % 100) gets Faults, unless a script matches the order.
type AmountCase struct {
	Cents       int    // the amount's last two digits, e.g. 2 for 10.02
	Name        string // short label
	Description string // what happens, for a person at the till
	Faults      []Fault
	// Statement tampering for reconciliation demos: the row is missing from the statement,
	// or its amount is off by StatementDelta minor units.
	StatementDrop  bool
	StatementDelta int64
}

// amountTable is modelled on WeChat's sandbox acceptance cases (docs/wxpay-v2.md §9).
var amountTable = []AmountCase{
	{Cents: 1, Name: "paid", Description: "Paid at once (HKD wallet)."},
	{Cents: 2, Name: "userpaying-5s", Description: "Customer confirms on the phone: USERPAYING for 5 s, then paid.",
		Faults: []Fault{{Kind: FaultUserPaying, For: 5 * time.Second}}},
	{Cents: 3, Name: "notenough", Description: "Refused: balance not enough (NOTENOUGH).",
		Faults: []Fault{{Kind: FaultFail, Code: "NOTENOUGH"}}},
	{Cents: 4, Name: "systemerror-paid", Description: "Micropay answers SYSTEMERROR but the payment went through; a query shows SUCCESS.",
		Faults: []Fault{{Kind: FaultSystemError, Processed: true}}},
	{Cents: 5, Name: "lost-paid", Description: "Paid, but the answer is lost (connection dropped); a query shows SUCCESS.",
		Faults: []Fault{{Kind: FaultLost}}},
	{Cents: 6, Name: "userpaying-forever", Description: "Customer never confirms: USERPAYING until the till reverses it.",
		Faults: []Fault{{Kind: FaultUserPayingForever}}},
	{Cents: 7, Name: "mainland-wallet", Description: "Paid by a mainland wallet in CNY (payer_currency CNY, exchange rate applied).",
		Faults: []Fault{{Kind: FaultMainlandWallet}}},
	{Cents: 8, Name: "userpaying-cancel", Description: "USERPAYING for 5 s, then the customer cancels: PAYERROR.",
		Faults: []Fault{{Kind: FaultUserPaying, For: 5 * time.Second, Then: "PAYERROR"}}},
	{Cents: 9, Name: "authcodeexpire", Description: "Refused: payment code expired (AUTHCODEEXPIRE).",
		Faults: []Fault{{Kind: FaultFail, Code: "AUTHCODEEXPIRE"}}},
	{Cents: 10, Name: "authcode-invalid", Description: "Refused: payment code invalid (AUTH_CODE_INVALID).",
		Faults: []Fault{{Kind: FaultFail, Code: "AUTH_CODE_INVALID"}}},
	{Cents: 11, Name: "systemerror-unpaid", Description: "SYSTEMERROR and nothing happened; a query says the order does not exist.",
		Faults: []Fault{{Kind: FaultSystemError}}},
	{Cents: 12, Name: "bankerror-paid", Description: "BANKERROR, but the payment went through.",
		Faults: []Fault{{Kind: FaultBankError, Processed: true}}},
	{Cents: 13, Name: "hang-paid", Description: "Paid, but micropay never answers (the till times out); a query shows SUCCESS.",
		Faults: []Fault{{Kind: FaultHang, Processed: true}}},
	{Cents: 14, Name: "reverse-retry", Description: "USERPAYING forever, and the reverse must be retried twice (recall=Y / 500).",
		Faults: []Fault{{Kind: FaultUserPayingForever}, {Kind: FaultReverseRetry, N: 2}}},
	{Cents: 15, Name: "forged-success", Description: "A forged SUCCESS answer with a bad signature; nothing was paid.",
		Faults: []Fault{{Kind: FaultForged}}},
	{Cents: 16, Name: "http-503", Description: "HTTP 503, not processed.",
		Faults: []Fault{{Kind: FaultHTTP, Status: 503}}},
	{Cents: 17, Name: "userpaying-20s", Description: "USERPAYING for 20 s (past the 15 s reverse floor), then paid.",
		Faults: []Fault{{Kind: FaultUserPaying, For: 20 * time.Second}}},
	{Cents: 18, Name: "userpaying-60s", Description: "USERPAYING for 60 s (past the deadline): the till should reverse it first.",
		Faults: []Fault{{Kind: FaultUserPaying, For: 60 * time.Second}}},
	{Cents: 19, Name: "drop-unpaid", Description: "Connection dropped before processing; a query says the order does not exist.",
		Faults: []Fault{{Kind: FaultDrop}}},
	{Cents: 20, Name: "notsuportcard", Description: "Refused: card not supported (NOTSUPORTCARD).",
		Faults: []Fault{{Kind: FaultFail, Code: "NOTSUPORTCARD"}}},
	{Cents: 21, Name: "userpaying-then-systemerror", Description: "USERPAYING for 5 s then paid, and the first two queries answer SYSTEMERROR.",
		Faults: []Fault{{Kind: FaultUserPaying, For: 5 * time.Second}, {Kind: FaultSystemError, Endpoint: EPQuery, N: 2}}},
	{Cents: 78, Name: "statement-missing", Description: "Paid, but the row is missing from the day's statement (reconciliation case).",
		StatementDrop: true},
	{Cents: 79, Name: "statement-mismatch", Description: "Paid, but the statement shows 0.01 more (reconciliation case, like sandbox 0.79).",
		StatementDelta: 1},
}

// AmountTable returns the amount-driven behaviours (a copy), for docs and the UI.
// Amounts whose last two digits are not in the table are simply paid.
func AmountTable() []AmountCase {
	out := make([]AmountCase, len(amountTable))
	for i, c := range amountTable {
		c.Faults = append([]Fault(nil), c.Faults...)
		out[i] = c
	}
	return out
}

func amountCase(amount int64) (AmountCase, bool) {
	cents := int(amount % 100)
	for _, c := range amountTable {
		if c.Cents == cents {
			return c, true
		}
	}
	return AmountCase{}, false
}
