package wxpay

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// billAvailable is when WeChat promises the day's bill: generated at 09:00 the next day,
// to be downloaded after 10:00 UTC+8 (docs/wxpay-v2.md §8). Before that, "no bill" means
// "not yet", not "no trades".
func billAvailable(date string) time.Time {
	d, err := time.ParseInLocation("20060102", date, hongKong)
	if err != nil {
		return time.Time{}
	}
	return d.AddDate(0, 0, 1).Add(10 * time.Hour)
}

// Statement downloads the day's bill (/pay/downloadbill, bill_type ALL, gzip).
func (c *v2Client) Statement(ctx context.Context, date string) (Statement, error) {
	if !validDate(date) {
		return Statement{}, fmt.Errorf("statement: bad date %q (want YYYYMMDD)", date)
	}
	var stack [12]v2Field
	f := append(c.common(stack[:0]),
		v2Field{"bill_date", date},
		v2Field{"bill_type", "ALL"},
		v2Field{"tar_type", "GZIP"},
	)
	f = append(f, v2Field{"sign", v2Sign(f, c.cfg.APIKey, c.cfg.SignType)})
	var b bytes.Buffer
	encodeV2XML(&b, f)
	h := http.Header{"Content-Type": {"text/xml; charset=utf-8"}, "User-Agent": {c.ua}}
	resp, err := c.t.do(ctx, "statement", http.MethodPost, v2PathBill, b.Bytes(), h, c.cfg.Timeouts.Statement, c.cfg.MaxStatementBytes)
	if err != nil {
		apiErr, err := transportFailure(err)
		if err != nil {
			return Statement{}, fmt.Errorf("statement %s: %w", date, err)
		}
		return Statement{}, fmt.Errorf("statement %s: %w", date, apiErr)
	}
	if resp.Status != http.StatusOK {
		return Statement{}, fmt.Errorf("statement %s: %w", date, &Error{Code: CodeHTTPStatus, Message: "Statement download failed: try again later", Raw: fmt.Sprintf("HTTP %d", resp.Status), HTTP: resp.Status})
	}
	st, err := parseV2Bill(resp.Body, date, c.cfg.Now(), c.cfg.MaxStatementBytes)
	if err != nil {
		return Statement{}, fmt.Errorf("statement %s: %w", date, err)
	}
	return st, nil
}

// parseV2Bill reads a downloadbill answer: an XML error, a gzip file or plain CSV.
func parseV2Bill(body []byte, date string, now time.Time, limit int64) (Statement, error) {
	st := Statement{Date: date}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("<")) {
		f, err := decodeV2XML(trimmed)
		if err != nil {
			return st, fmt.Errorf("parse bill answer: %w", err)
		}
		msg := f.get("return_msg") + " " + f.get("err_code") + " " + f.get("err_code_des") + " " + f.get("error_code")
		low := strings.ToLower(msg)
		switch {
		case strings.Contains(low, "no bill exist") || strings.Contains(msg, "20002"):
			// An empty day, once the bill is due; before that WeChat simply has not made it.
			if now.Before(billAvailable(date)) {
				st.NotReady = true
			}
			return st, nil
		case strings.Contains(low, "not ready") || strings.Contains(low, "creating") || strings.Contains(msg, "未生成") || strings.Contains(msg, "生成中"):
			st.NotReady = true
			return st, nil
		}
		return st, &Error{Code: or(f.get("err_code"), "FAIL"), Message: "WeChat Pay refused the statement download: call support", Raw: strings.TrimSpace(msg), HTTP: 200}
	}
	if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return st, fmt.Errorf("gunzip bill: %w", err)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return st, fmt.Errorf("gunzip bill: %w", err)
		}
		if int64(len(plain)) > limit {
			return st, fmt.Errorf("gunzip bill: larger than %d bytes", limit)
		}
		body = plain
	}
	rows, err := parseStatementCSV(body)
	if err != nil {
		return st, err
	}
	st.Rows = rows
	return st, nil
}
