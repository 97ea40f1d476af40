package wxpaytest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRefunds(t *testing.T) {
	forDialects(t, Options{}, func(t *testing.T, s *Server, clk *fakeClock, d driver) {
		d.pay("T-rf", newCode(), 1000)
		if r := d.refund("T-rf", "R1", 300, 1000); r.outcome != "SUCCESS" || !r.signOK {
			t.Fatalf("refund: %+v", r)
		}
		// Idempotent by out_refund_no.
		if r := d.refund("T-rf", "R1", 300, 1000); r.outcome != "SUCCESS" {
			t.Fatalf("repeat: %+v", r)
		}
		if s.Captured() != 700 {
			t.Fatalf("captured %d, want 700", s.Captured())
		}
		// Over the total.
		if r := d.refund("T-rf", "R2", 701, 1000); r.outcome != d.code("ERROR") {
			t.Fatalf("over total: %+v", r)
		}
		// Wrong total.
		if r := d.refund("T-rf", "R3", 1, 999); r.outcome != d.code("PARAM_ERROR") {
			t.Fatalf("wrong total: %+v", r)
		}
		if !hasViolation(s, RuleRefundInvalid) {
			t.Fatal("invalid refunds not recorded")
		}
		if r := d.refund("nope", "R4", 1, 1000); r.outcome != d.code("ORDERNOTEXIST") {
			t.Fatalf("unknown order: %+v", r)
		}
		if r := d.refund("T-rf", "R5", 700, 1000); r.outcome != "SUCCESS" {
			t.Fatalf("rest: %+v", r)
		}
		if s.Captured() != 0 {
			t.Fatalf("captured %d", s.Captured())
		}
		if r := d.query("T-rf"); r.outcome != StateRefund {
			t.Fatalf("query: %+v", r)
		}
		o := mustOrder(t, s, "T-rf")
		if len(o.Refunds) != 2 || o.Refunded != 1000 {
			t.Fatalf("order %+v", o)
		}
	})
}

func TestRefundLimit50(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	c.pay("T-50", newCode(), 10000)
	for i := 0; i < 50; i++ {
		if r := c.refund("T-50", fmt.Sprintf("R%02d", i), 1, 10000); r.status != 200 {
			t.Fatalf("refund %d: %s", i, r.body)
		}
	}
	if r := c.refund("T-50", "R50", 1, 10000); r.status != 400 {
		t.Fatalf("51st refund: %d %s", r.status, r.body)
	}
}

func TestRefundUnpaidOrder(t *testing.T) {
	s, _ := newSim(t, Options{})
	c := newV2(t, s, signHMAC, true)
	code := newCode()
	s.Script(Match{AuthCode: code}, Fault{Kind: FaultUserPayingForever})
	c.pay("T-u", code, 100)
	if r := c.refund("T-u", "R1", 100, 100); r.fields["err_code"] != "TRADE_STATE_ERROR" {
		t.Fatalf("%s", r.body)
	}
}

func TestRefundQuery(t *testing.T) {
	s, clk := newSim(t, Options{RefundDelay: time.Minute})
	c3 := newV3(t, s, "/v3/global", false)
	c3.pay("T-rq", newCode(), 1000)
	r := c3.refund("T-rq", "RQ1", 400, 1000)
	id := r.str("id")
	if r.status != 200 || id == "" || r.str("out_refund_no") != "RQ1" {
		t.Fatalf("refund %s", r.body)
	}
	q := c3.do("GET", "/refunds/out-refund-no/RQ1?mchid="+s.Credentials().MchID, nil)
	if q.str("status") != "PROCESSING" || c3.verify(q, nil) != nil {
		t.Fatalf("query %s", q.body)
	}
	clk.Advance(time.Minute)
	q = c3.do("GET", "/refunds/id/"+id+"?mchid="+s.Credentials().MchID, nil)
	if q.str("status") != "SUCCESS" || q.str("out_trade_no") != "T-rq" {
		t.Fatalf("query by id %s", q.body)
	}
	if q := c3.do("GET", "/refunds/out-refund-no/NOPE?mchid="+s.Credentials().MchID, nil); q.status != 404 {
		t.Fatalf("unknown refund %d %s", q.status, q.body)
	}
	l := c3.do("GET", "/refunds?out_trade_no=T-rq&offset=0&count=10&mchid="+s.Credentials().MchID, nil)
	if l.status != 200 || l.json["total_num"].(float64) != 1 {
		t.Fatalf("list %s", l.body)
	}
	c2 := newV2(t, s, signMD5, false)
	r2 := c2.call("/pay/refundquery", map[string]string{"out_refund_no": "RQ1"})
	if !r2.signOK || r2.fields["refund_status_0"] != "SUCCESS" || r2.fields["refund_fee_0"] != "400" || r2.fields["refund_count"] != "1" {
		t.Fatalf("v2 refundquery %s", r2.body)
	}
	if r2 := c2.call("/pay/refundquery", map[string]string{"out_refund_no": "NOPE"}); r2.fields["err_code"] != "REFUNDNOTEXIST" {
		t.Fatalf("v2 unknown %s", r2.body)
	}
}

func parseStatement(t *testing.T, csv []byte) (header []string, rows [][]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(csv), "\r\n"), "\r\n")
	header = strings.Split(lines[0], ",")
	for _, l := range lines[1:] {
		vals := strings.Split(l, ",")
		for i := range vals {
			if !strings.HasPrefix(vals[i], "`") {
				t.Fatalf("value %q lacks the back-tick", vals[i])
			}
			vals[i] = vals[i][1:]
		}
		rows = append(rows, vals)
	}
	return header, rows
}

func col(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

func TestV3Statement(t *testing.T) {
	s, clk := newSim(t, Options{})
	c := newV3(t, s, "/v3/global", false)
	c.pay("T-s1", newCode(), 1050)
	c.pay("T-s2", newCode(), 2000)
	c.pay("T-s3", newCode(), 3000)
	c.refund("T-s2", "R-s2", 500, 2000)
	clk.Advance(20 * time.Second)
	c.reverse("T-s3")
	date := clk.Now().In(hkt).Format("20060102")
	uri := "/statements?date=" + date + "&mchid=" + s.Credentials().MchID
	r := c.do("GET", uri, nil)
	if r.status != 400 || r.str("code") != "NO_STATEMENT_EXIST" {
		t.Fatalf("before ready: %d %s", r.status, r.body)
	}
	clk.Advance(24 * time.Hour) // 10:00 next day > 09:00
	r = c.do("GET", uri, nil)
	if r.status != 200 {
		t.Fatalf("statement %d %s", r.status, r.body)
	}
	sum := sha1.Sum(r.body)
	sha := hex.EncodeToString(sum[:])
	if r.header.Get("Wechatpay-Statement-Sha1") != sha {
		t.Fatal("Wechatpay-Statement-Sha1 does not match the body")
	}
	if err := c.verify(r, []byte(`{"sha1":"`+sha+`"}`)); err != nil {
		t.Fatalf("statement signature: %v", err)
	}
	h, rows := parseStatement(t, r.body)
	if len(h) != 38 {
		t.Fatalf("header has %d columns", len(h))
	}
	ist, iamt, irf := col(h, "交易状态"), col(h, "订单金额(标价币种)"), col(h, "申请退款金额")
	got := map[string]string{}
	for _, row := range rows {
		got[row[col(h, "商户订单号")]+"/"+row[ist]] = row[iamt] + "/" + row[irf]
	}
	want := map[string]string{"T-s1/SUCCESS": "10.50/0.00", "T-s2/SUCCESS": "20.00/0.00", "T-s2/REFUND": "20.00/5.00",
		"T-s3/REVOKED": "30.00/30.00"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q want %q (all %v)", k, got[k], v, got)
		}
	}
	// gzip on request.
	gz := c.doRaw("GET", c.prefix+uri, nil, func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip") })
	if gz.header.Get("Content-Encoding") != "gzip" {
		t.Fatal("no gzip")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, r.body) || gz.header.Get("Wechatpay-Statement-Sha1") != sha {
		t.Fatal("gzip statement differs or hashes the compressed bytes")
	}
	// Tampering for reconciliation tests.
	s.DropFromStatement("T-s1")
	s.AlterStatementAmount("T-s2", 1)
	s.AlterStatementCurrency("T-s3", "CNY")
	_, rows = parseStatement(t, c.do("GET", uri, nil).body)
	for _, row := range rows {
		switch row[col(h, "商户订单号")] {
		case "T-s1":
			t.Fatal("dropped row still there")
		case "T-s2":
			if row[ist] == "SUCCESS" && row[iamt] != "20.01" {
				t.Fatalf("altered amount %s", row[iamt])
			}
		case "T-s3":
			if row[col(h, "标价币种")] != "CNY" || row[col(h, "结算币种")] != "CNY" || row[col(h, "用户支付币种")] != "HKD" {
				t.Fatalf("altered currency %v", row)
			}
		}
	}
}

func TestV2DownloadBill(t *testing.T) {
	s, clk := newSim(t, Options{})
	c := newV2(t, s, signHMAC, true)
	date := clk.Now().In(hkt).Format("20060102")
	bill := func(extra map[string]string) v2resp {
		f := map[string]string{"bill_date": date, "bill_type": "ALL"}
		for k, v := range extra {
			f[k] = v
		}
		return c.call("/pay/downloadbill", f)
	}
	clk.Advance(24 * time.Hour)
	if r := bill(nil); r.fields["return_code"] != "FAIL" || r.fields["return_msg"] != "No Bill Exist" {
		t.Fatalf("empty day: %s", r.body)
	}
	clk.Advance(-24 * time.Hour)
	c.pay("T-b1", newCode(), 1050)
	c.pay("T-b2", newCode(), 950)
	c.refund("T-b2", "RB2", 950, 950)
	if r := bill(nil); r.fields["return_msg"] != "No Bill Exist" {
		t.Fatalf("before ready: %s", r.body)
	}
	clk.Advance(24 * time.Hour)
	r := bill(nil)
	if r.fields != nil || r.status != 200 {
		t.Fatalf("bill: %s", r.body)
	}
	lines := strings.Split(strings.TrimSuffix(string(r.body), "\r\n"), "\r\n")
	if len(lines) != 1+3+2 || !strings.HasPrefix(lines[4], "总交易单数") {
		t.Fatalf("bill lines:\n%s", r.body)
	}
	if lines[5] != "`3,`20.00,`9.50,`0.00,`0.00,`20.00,`9.50" {
		t.Fatalf("summary %q", lines[5])
	}
	gz := bill(map[string]string{"tar_type": "GZIP"})
	zr, err := gzip.NewReader(bytes.NewReader(gz.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, r.body) {
		t.Fatal("gzip bill differs")
	}
	if r := bill(map[string]string{"bill_type": "SUCCESS"}); strings.Count(string(r.body), "\r\n") != 1+2+2 {
		t.Fatalf("SUCCESS bill:\n%s", r.body)
	}
	s.SetStatementReady("20261127", clk.Now().Add(time.Hour))
	if r := c.call("/pay/downloadbill", map[string]string{"bill_date": "20261127"}); r.fields["return_msg"] != "No Bill Exist" {
		t.Fatalf("override ready time: %s", r.body)
	}
}
