package printer

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Format is how receipts are laid out for one printer.
type Format struct {
	Encoding     string // big5, gb18030 or ascii
	Columns      int    // 32, 42 or 48 (font A characters per line)
	DrawerKick   bool   // kick the cash drawer after a paid sale's receipt
	MerchantCopy bool   // print a merchant copy after the customer's
	QRModule     int    // QR module size in dots, 1–16 (default 6)
	// Raster is what happens to characters the encoding lacks: RasterLine (the default)
	// prints their lines as images drawn with Font, RasterReceipt every text line,
	// RasterOff prints '?'. Without a usable font they print as '?' too.
	Raster string
	Font   string // a font file (.ttf, .otf, .ttc); default DefaultFontPath()
	// Location is the till's time zone, in which dates print. Nil prints each time in
	// its own zone.
	Location *time.Location
}

// rasterMode is the format's raster mode with the default applied.
func (f Format) rasterMode() string {
	if f.Raster == "" {
		return RasterLine
	}
	return f.Raster
}

// local is t in the till's time zone.
func (w *builder) local(t time.Time) time.Time {
	if w.loc == nil {
		return t
	}
	return t.In(w.loc)
}

func (f Format) cols() int {
	if f.Columns < 16 {
		return 42
	}
	return f.Columns
}

// labels are the bilingual texts. Traditional Chinese as used in Hong Kong.
var labels = map[string][2]string{
	"store":        {"Store", "店舖"},
	"till":         {"Till", "收銀機"},
	"date":         {"Date", "日期"},
	"ref":          {"Ref", "參考編號"},
	"sale":         {"Sale", "銷售編號"},
	"item":         {"Item", "項目"},
	"amount":       {"Amount", "金額"},
	"payer":        {"Paid in", "付款貨幣"},
	"status":       {"Status", "狀態"},
	"paid":         {"PAID", "已付款"},
	"refund":       {"REFUND", "退款"},
	"refunded":     {"Refund", "退款金額"},
	"reversed":     {"REVERSED", "已撤銷"},
	"reversalnote": {"No money was taken", "款項未被扣除"},
	"orig":         {"Original", "原金額"},
	"wechat":       {"WeChat Pay", "微信支付"},
	"txn":          {"Transaction", "交易單號"},
	"order":        {"Order no", "商戶單號"},
	"refundno":     {"Refund no", "退款單號"},
	"refundid":     {"Refund id", "微信退款單號"},
	"reason":       {"Reason", "原因"},
	"code":         {"Code", "付款碼"},
	"copy":         {"COPY", "副本"},
	"merchantcopy": {"MERCHANT COPY", "商戶存根"},
	"customercopy": {"CUSTOMER COPY", "顧客存根"},
	"interrupted":  {"REPRINT AFTER INTERRUPTION", "中斷後重印"},
	"thanks":       {"Thank you", "多謝惠顧"},
	"zreport":      {"DAY REPORT (Z)", "日結報告"},
	"day":          {"Day", "營業日"},
	"number":       {"Z no", "報告編號"},
	"printed":      {"Printed", "列印時間"},
	"sales":        {"Sales", "銷售"},
	"attempts":     {"Payments", "付款嘗試"},
	"paidtotal":    {"Paid", "已收款"},
	"wallets":      {"By wallet", "按錢包貨幣"},
	"refunds":      {"Refunds", "退款"},
	"refundsopen":  {"Refunds pending", "處理中退款"},
	"net":          {"NET", "淨額"},
	"unresolved":   {"Unresolved", "未確定"},
	"problems":     {"Check", "待查"},

	// Sale and attempt states (docs/interfaces.md) in the day report.
	"st_awaiting_scan": {"awaiting scan", "等待掃碼"},
	"st_paying":        {"paying", "付款中"},
	"st_paid":          {"paid", "已付款"},
	"st_cancelled":     {"cancelled", "已取消"},
	"st_failed":        {"failed", "失敗"},
	"st_reversed":      {"reversed", "已撤銷"},
	"st_unresolved":    {"unresolved", "未確定"},
}

// stateLabel is a record state in the labels' language; unknown states print as they are.
func (w *builder) stateLabel(state string) string {
	if _, ok := labels["st_"+state]; ok {
		return w.label("st_" + state)
	}
	return state
}

// storeTill prints "Store HK001  Till T01" on one line, or two when it does not fit.
func (w *builder) storeTill(store, till string) {
	a, b := w.label("store")+" "+store, w.label("till")+" "+till
	if w.c.width(a)+2+w.c.width(b) <= w.cols {
		w.line(a + "  " + b)
		return
	}
	w.line(a)
	w.line(b)
}

// builder accumulates ESC/POS bytes for one printout. It tracks the alignment, bold and
// size it has set, so a line it draws as an image looks like the text it replaces.
type builder struct {
	b    []byte
	c    *codec
	cols int
	lang Lang

	fontPath  string   // the font lines are drawn with; "": none, missing characters print as '?'
	font      *cjkFont // fontPath, loaded by the first line that needs it
	rasterAll bool     // RasterReceipt: draw every text line
	st        glyphStyle
	align     byte
	loc       *time.Location // Format.Location
}

func newBuilder(f Format, lang Lang, size int) (*builder, error) {
	c, err := newCodec(f.Encoding)
	if err != nil {
		return nil, err
	}
	w := &builder{b: make([]byte, 0, size), c: c, cols: f.cols(), lang: lang, loc: f.Location}
	if mode := f.rasterMode(); mode != RasterOff {
		// A missing font is not an error here: the receipt prints with '?' rather than
		// not at all, and check-config says why (TextProblems). The font file (~20 MB for
		// Noto Sans CJK) is only read once a line needs it.
		path := firstNonEmpty(f.Font, DefaultFontPath())
		if st, err := os.Stat(path); path != "" && err == nil && st.Mode().IsRegular() {
			w.fontPath, w.rasterAll, c.drawn = path, mode == RasterReceipt, true
		}
	}
	if !c.chinese && !w.rasterAll {
		w.lang = LangEN // an ASCII printer cannot print the Chinese labels as text
	}
	w.resetStyle()
	return w, nil
}

func (w *builder) resetStyle() {
	w.st, w.align = glyphStyle{w: 1, h: 1}, 'L'
}

// setAlign sends ESC a for 'L', 'C' or 'R'.
func (w *builder) setAlign(a byte) {
	switch a {
	case 'C':
		w.raw(cmdAlignCenter)
	case 'R':
		w.raw(cmdAlignRight)
	default:
		a = 'L'
		w.raw(cmdAlignLeft)
	}
	w.align = a
}

// setDoubleHeight sends GS ! for double-height or normal characters.
func (w *builder) setDoubleHeight(on bool) {
	if on {
		w.raw(cmdSizeDoubleH)
		w.st.h = 2
	} else {
		w.raw(cmdSizeNormal)
		w.st.h = 1
	}
}

// emit prints one laid-out line: as text, or as an image when the code page lacks one
// of its characters (or the format draws every line).
func (w *builder) emit(s string) {
	if w.fontPath != "" && (w.rasterAll || len(w.c.missing(s)) > 0) {
		if w.font == nil {
			f, err := openFont(w.fontPath)
			if err != nil {
				w.fontPath = "" // unreadable after all: '?' from here on
			}
			w.font = f
		}
		if w.font != nil {
			w.raw(rasterLine(w.c.glyphsOf(s, w.st), w.cols, w.align, w.font))
			return
		}
	}
	w.b = w.c.append(w.b, s)
	w.b = append(w.b, '\n')
}

func (w *builder) raw(p []byte) { w.b = append(w.b, p...) }

// start resets the printer and selects the character mode for the encoding.
func (w *builder) start() {
	w.raw(cmdInit)
	w.resetStyle()
	if w.c.chinese {
		w.raw(cmdChineseOn)
	} else {
		w.raw(cmdChineseOff)
		w.raw(cmdCodePage437)
	}
}

func (w *builder) label(key string) string {
	l := labels[key]
	switch w.lang {
	case LangEN:
		return l[0]
	case LangZH:
		return l[1]
	}
	return l[0] + " " + l[1]
}

// text prints s wrapped to the line width (halved for double-width text).
func (w *builder) text(s string, cols int) {
	for _, line := range w.c.wrap(s, cols) {
		w.emit(line)
	}
}

func (w *builder) line(s string) { w.text(s, w.cols) }

func (w *builder) center(s string) {
	w.setAlign('C')
	w.line(s)
	w.setAlign('L')
}

func (w *builder) rule(ch byte) {
	w.emit(strings.Repeat(string(ch), w.cols))
}

// pair prints a label on the left and a value on the right of one line, or, when both do
// not fit, the label on one line and the value right-aligned below it.
func (w *builder) pair(label, value string) {
	lw, vw := w.c.width(label), w.c.width(value)
	if lw+1+vw <= w.cols {
		w.emit(label + strings.Repeat(" ", w.cols-lw-vw) + value)
		return
	}
	w.line(label)
	for _, l := range w.c.wrap(value, w.cols) {
		w.emit(strings.Repeat(" ", max(0, w.cols-w.c.width(l))) + l)
	}
}

func (w *builder) bold(on bool) {
	if on {
		w.raw(cmdBoldOn)
	} else {
		w.raw(cmdBoldOff)
	}
	w.st.bold = on
}

func (w *builder) end() {
	w.b = append(w.b, '\n', '\n')
	w.raw(cmdCutPartial)
}

// Render returns the ESC/POS bytes of a receipt: the customer's copy and, when the format
// asks for it, the merchant's copy, each ending with a cut; then the drawer kick for a
// paid sale's first print when configured.
func Render(r Receipt, f Format) ([]byte, error) {
	w, err := newBuilder(f, r.Lang, 1024)
	if err != nil {
		return nil, err
	}
	copies := []string{""}
	if f.MerchantCopy && r.Kind != KindReversal {
		copies = []string{"customercopy", "merchantcopy"}
	}
	for _, c := range copies {
		if err := w.receipt(r, f, c); err != nil {
			return nil, err
		}
	}
	if f.DrawerKick && r.Kind == KindSale && !r.Copy && !r.Interrupted && r.TransactionID != "" {
		// Only a confirmed payment opens the drawer, and only on its first print.
		w.raw(cmdDrawerKickPin)
	}
	return w.b, nil
}

func (w *builder) receipt(r Receipt, f Format, copyLabel string) error {
	if err := w.receiptHeader(r, copyLabel); err != nil {
		return err
	}
	w.receiptDetails(r)
	w.receiptAmounts(r)
	w.receiptWeChat(r, f)
	if r.Kind == KindSale {
		w.center(w.label("thanks"))
	}
	w.end()
	return nil
}

// receiptHeader prints the merchant, store and the receipt's headline (paid,
// refund, reversed, copy, interrupted); an unknown kind stops the render here.
func (w *builder) receiptHeader(r Receipt, copyLabel string) error {
	w.start()
	w.setAlign('C')
	w.bold(true)
	w.setDoubleHeight(true)
	w.line(firstNonEmpty(r.MerchantName, "posd"))
	w.setDoubleHeight(false)
	w.bold(false)
	w.storeTill(r.StoreID, r.TillID)
	w.bold(true)
	switch r.Kind {
	case KindSale:
		w.line(w.label("paid"))
	case KindRefund:
		w.line(w.label("refund"))
	case KindReversal:
		w.line(w.label("reversed"))
	default:
		return fmt.Errorf("render receipt: unknown kind %q", r.Kind)
	}
	if r.Copy {
		w.line("*** " + w.label("copy") + " ***")
	}
	if copyLabel != "" {
		w.line(w.label(copyLabel))
	}
	if r.Interrupted {
		w.line(w.label("interrupted"))
	}
	w.bold(false)
	w.setAlign('L')
	w.rule('-')
	return nil
}

// receiptDetails prints when and what was sold: date, reference, sale id, item.
func (w *builder) receiptDetails(r Receipt) {
	w.pair(w.label("date"), w.local(r.Time).Format("2006-01-02 15:04:05"))
	if r.Reference != "" {
		w.pair(w.label("ref"), r.Reference)
	}
	w.pair(w.label("sale"), r.SaleID)
	if r.Description != "" {
		w.line(w.label("item") + ": " + r.Description)
	}
	w.rule('-')
}

// receiptAmounts prints the money block, which differs per kind (a refund shows
// the original and the refunded amount, a reversal its note).
func (w *builder) receiptAmounts(r Receipt) {
	switch r.Kind {
	case KindSale:
		w.bold(true)
		w.pair(w.label("amount"), FormatAmount(r.Currency, r.Amount))
		w.bold(false)
		if r.PayerCurrency != "" {
			w.pair(w.label("payer"), FormatAmount(r.PayerCurrency, r.PayerAmount))
		}
		w.pair(w.label("status"), w.label("paid"))
	case KindRefund:
		w.pair(w.label("orig"), FormatAmount(r.Currency, r.Amount))
		w.bold(true)
		w.pair(w.label("refunded"), FormatAmount(r.Currency, r.RefundAmount))
		w.bold(false)
		w.pair(w.label("status"), w.label("refund"))
	case KindReversal:
		w.pair(w.label("amount"), FormatAmount(r.Currency, r.Amount))
		w.bold(true)
		w.pair(w.label("status"), w.label("reversed"))
		w.bold(false)
		w.line(w.label("reversalnote"))
		if r.Note != "" {
			w.line(r.Note)
		}
	}
	w.rule('-')
}

// receiptWeChat prints WeChat's identifiers for the payment or refund and,
// unless the payment was reversed, the transaction id as a QR code.
func (w *builder) receiptWeChat(r Receipt, f Format) {
	w.line(w.label("wechat"))
	if r.TransactionID != "" {
		w.pair(w.label("txn"), r.TransactionID)
	}
	if r.OutTradeNo != "" {
		w.pair(w.label("order"), r.OutTradeNo)
	}
	if r.Kind == KindRefund {
		if r.OutRefundNo != "" {
			w.pair(w.label("refundno"), r.OutRefundNo)
		}
		if r.RefundID != "" {
			w.pair(w.label("refundid"), r.RefundID)
		}
		if r.Reason != "" {
			w.line(w.label("reason") + ": " + r.Reason)
		}
	}
	if r.Code != "" {
		w.pair(w.label("code"), r.Code)
	}
	if r.TransactionID != "" && r.Kind != KindReversal {
		w.setAlign('C')
		w.raw(QRBytes(r.TransactionID, f.QRModule))
		w.b = append(w.b, '\n')
		w.setAlign('L')
	}
}

// RenderReport returns the ESC/POS bytes of a day report.
func RenderReport(d DayReport, f Format) ([]byte, error) {
	w, err := newBuilder(f, d.Lang, 1024)
	if err != nil {
		return nil, err
	}
	w.start()
	w.setAlign('C')
	w.bold(true)
	w.setDoubleHeight(true)
	w.line(firstNonEmpty(d.MerchantName, "posd"))
	w.setDoubleHeight(false)
	w.line(w.label("zreport"))
	if d.Copy {
		w.line("*** " + w.label("copy") + " ***")
	}
	if d.Interrupted {
		w.line(w.label("interrupted"))
	}
	w.bold(false)
	w.storeTill(d.StoreID, d.TillID)
	w.setAlign('L')
	w.rule('=')
	w.pair(w.label("day"), d.Date)
	if d.Number > 0 {
		w.pair(w.label("number"), strconv.Itoa(d.Number))
	}
	w.pair(w.label("printed"), w.local(d.GeneratedAt).Format("2006-01-02 15:04:05"))
	w.rule('-')
	w.line(w.label("sales"))
	for _, k := range sortedKeys(d.Sales) {
		w.pair("  "+w.stateLabel(k), strconv.Itoa(d.Sales[k]))
	}
	w.line(w.label("attempts"))
	for _, k := range sortedKeys(d.Attempts) {
		w.pair("  "+w.stateLabel(k), strconv.Itoa(d.Attempts[k]))
	}
	w.rule('-')
	w.pair(w.label("paidtotal")+" x"+strconv.Itoa(d.Paid.Count), FormatAmount(d.Currency, d.Paid.Amount))
	if len(d.Wallets) > 0 {
		w.line(w.label("wallets"))
		for _, wt := range d.Wallets {
			w.pair("  "+wt.Wallet+" x"+strconv.Itoa(wt.Count), FormatAmount(d.Currency, wt.Amount))
			if wt.Wallet != d.Currency {
				w.pair("", "("+FormatAmount(wt.Wallet, wt.PayerAmount)+")")
			}
		}
	}
	w.pair(w.label("refunds")+" x"+strconv.Itoa(d.Refunds.Count), FormatAmount(d.Currency, -d.Refunds.Amount))
	if d.RefundsOpen.Count > 0 {
		w.pair(w.label("refundsopen")+" x"+strconv.Itoa(d.RefundsOpen.Count), FormatAmount(d.Currency, d.RefundsOpen.Amount))
	}
	w.rule('=')
	w.bold(true)
	w.setDoubleHeight(true)
	w.pair(w.label("net"), FormatAmount(d.Currency, d.Net))
	w.setDoubleHeight(false)
	w.bold(false)
	if d.Unresolved > 0 {
		w.pair(w.label("unresolved"), strconv.Itoa(d.Unresolved))
	}
	if len(d.Problems) > 0 {
		w.rule('-')
		w.line(w.label("problems") + ":")
		for _, p := range d.Problems {
			w.line("- " + strings.TrimSpace(p))
		}
	}
	w.end()
	return w.b, nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
