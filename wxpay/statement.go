package wxpay

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// hongKong is UTC+8, the time zone of statement timestamps (Beijing and Hong Kong time).
var hongKong = time.FixedZone("HKT", 8*3600)

// statementColumns lists, per StatementRow field, the header names seen in WeChat's
// statements (Chinese names of the v3 statement and v2 bill, English names of the
// cross-border guide). Columns are matched by name, never by position.
var statementColumns = map[string][]string{
	"time":          {"交易时间", "transaction time"},
	"transaction":   {"微信订单号", "wechat order number"},
	"out_trade_no":  {"商户订单号", "vendor order number"},
	"device":        {"设备号", "device id"},
	"state":         {"交易状态", "transaction status"},
	"amount":        {"订单金额(标价币种)", "订单金额", "总金额", "total amount"},
	"currency":      {"标价币种", "货币种类", "币种", "currency type"},
	"payer_amount":  {"用户支付金额"},
	"payer_curr":    {"用户支付币种"},
	"refund_id":     {"微信退款单号", "wechat refund number"},
	"out_refund_no": {"商户退款单号", "vendor refund number"},
	"refund_amount": {"申请退款金额", "退款金额", "refund amount"},
	"refund_state":  {"退款状态", "refund status"},
}

func normalizeHeader(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "`"))
	s = strings.NewReplacer("（", "(", "）", ")").Replace(s)
	return strings.ToLower(s)
}

// splitStatementLine splits one line. Data values each start with a back-tick, so the
// separator is ",`" (a comma inside a goods name does not split); a header has no
// back-ticks and is split on commas (full-width ones too: the docs show both).
func splitStatementLine(line string) (fields []string, data bool) {
	if strings.HasPrefix(line, "`") {
		parts := strings.Split(line[1:], ",`")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, true
	}
	line = strings.ReplaceAll(line, "，", ",")
	parts := strings.Split(line, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, false
}

// parseStatementCSV parses a v3 statement or v2 bill: header line, back-tick-prefixed
// data lines, then (v2) a summary header and a summary line, which are skipped.
func parseStatementCSV(body []byte) ([]StatementRow, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("parse statement: not UTF-8")
	}
	lines := strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	var header []string
	col := map[string]int{}
	var rows []StatementRow
	for n, line := range lines {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields, data := splitStatementLine(line)
		if header == nil {
			if data {
				return nil, fmt.Errorf("parse statement: line %d: data before the header", n+1)
			}
			header = fields
			for i, h := range header {
				h = normalizeHeader(h)
				for key, names := range statementColumns {
					for _, name := range names {
						if _, seen := col[key]; !seen && h == name {
							col[key] = i
						}
					}
				}
			}
			if _, ok := col["out_trade_no"]; !ok {
				return nil, fmt.Errorf("parse statement: header has no out_trade_no column")
			}
			continue
		}
		if !data {
			break // the summary header: totals follow, not transactions
		}
		if len(fields) > len(header) {
			return nil, fmt.Errorf("parse statement: line %d: %d fields, header has %d", n+1, len(fields), len(header))
		}
		row, err := statementRow(header, fields, col)
		if err != nil {
			return nil, fmt.Errorf("parse statement: line %d: %w", n+1, err)
		}
		rows = append(rows, row)
	}
	if header == nil {
		return nil, fmt.Errorf("parse statement: no header")
	}
	return rows, nil
}

func statementRow(header, fields []string, col map[string]int) (StatementRow, error) {
	get := func(key string) string {
		if i, ok := col[key]; ok && i < len(fields) {
			return fields[i]
		}
		return ""
	}
	r := StatementRow{
		TransactionID: get("transaction"),
		OutTradeNo:    get("out_trade_no"),
		DeviceID:      get("device"),
		TradeState:    get("state"),
		Currency:      get("currency"),
		PayerCurrency: get("payer_curr"),
		RefundID:      get("refund_id"),
		OutRefundNo:   get("out_refund_no"),
		RefundState:   get("refund_state"),
		Raw:           make(map[string]string, len(header)),
	}
	for i, h := range header {
		if i < len(fields) {
			r.Raw[h] = fields[i]
		}
	}
	if s := get("time"); s != "" {
		t, err := time.ParseInLocation("2006-01-02 15:04:05", s, hongKong)
		if err != nil {
			return r, fmt.Errorf("trade time %q: %w", s, err)
		}
		r.TradeTime = t
	}
	var err error
	if r.Amount, err = parseMajorAmount(get("amount"), r.Currency); err != nil {
		return r, err
	}
	if r.PayerAmount, err = parseMajorAmount(get("payer_amount"), or(r.PayerCurrency, r.Currency)); err != nil {
		return r, err
	}
	if r.RefundAmount, err = parseMajorAmount(get("refund_amount"), r.Currency); err != nil {
		return r, err
	}
	return r, nil
}

// zeroDecimalCurrencies have no minor unit.
var zeroDecimalCurrencies = map[string]bool{"JPY": true, "KRW": true, "VND": true}

// parseMajorAmount turns a statement amount in the currency's main unit ("38.00", "10.5",
// "0") into minor units without floating point. Statements print main units with
// decimals (docs/wxpay-v2.md §8); the v3 unit is unconfirmed and assumed the same.
func parseMajorAmount(s, currency string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	digits := 2
	if zeroDecimalCurrencies[strings.ToUpper(currency)] {
		digits = 0
	}
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(t, ".")
	if whole == "" || (hasDot && frac == "") || len(frac) > digits || len(whole) > 15 {
		return 0, fmt.Errorf("amount %q", s)
	}
	for _, ch := range whole + frac {
		if ch < '0' || ch > '9' {
			return 0, fmt.Errorf("amount %q", s)
		}
	}
	frac += strings.Repeat("0", digits-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	if neg {
		v = -v
	}
	return v, nil
}
