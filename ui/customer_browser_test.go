package ui

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"posd/queue/engine"
)

// TestBrowser_CustomerDisplay drives the customer display (/customer) and the cashier's
// page in headless Chromium (one tab: a background tab's timers are throttled), against the real engine and the simulator: the
// amount of a Quick Pay sale, "Show QR" on the cashier's page, the QR code with its
// countdown, the demo's simulated customer paying it, then the same in Chinese with a
// cancelled QR code (not paid). Screenshots: docs/screenshots/customer-*.png.
func TestBrowser_CustomerDisplay(t *testing.T) {
	st := newRealStack(t)
	ctx, problems := browser(t)
	dir := os.Getenv("POSD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p := problems(); len(p) > 0 {
			t.Errorf("browser reported problems:\n%s", strings.Join(p, "\n"))
		}
	})
	poll := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
	}
	qrLoaded := poll(`document.getElementById("qr-img").complete && document.getElementById("qr-img").naturalWidth > 0`)
	state := func(s string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(`body[data-state="` + s + `"] #headline`))
	}
	bg := context.Background()

	run(t, ctx, "open the customer display", chromedp.Navigate(st.url+"/customer?lang=en"), state("idle"))
	if got := text(t, ctx, "#headline"); got != "Welcome" {
		t.Fatalf("idle headline %q", got)
	}

	// Quick Pay: the customer sees the amount while the cashier waits for the code.
	sale, err := st.eng.OpenSale(bg, engine.OpenSaleRequest{Amount: 3800, Description: "Groceries"})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the amount of the open sale", state("amount"))
	if got := text(t, ctx, "#amount"); got != "HK$ 38.00" {
		t.Fatalf("amount %q", got)
	}
	if got := text(t, ctx, "#headline2"); got != "應付金額" {
		t.Fatalf("second language %q", got)
	}
	shot(t, ctx, dir, "customer-amount-en")

	// The cashier shows a QR code instead.
	run(t, ctx, "cashier's page", chromedp.Navigate(st.url+"/"), chromedp.WaitVisible(chromedp.CSS("#btn-qr")))
	run(t, ctx, "Show QR", chromedp.Click(chromedp.CSS("#btn-qr")),
		poll(`document.getElementById("state-title").textContent.includes("customer display")`))
	shot(t, ctx, dir, "cashier-qr-shown")
	run(t, ctx, "the QR code", chromedp.Navigate(st.url+"/customer?lang=en"), state("qr"), qrLoaded)
	if got := text(t, ctx, "#countdown"); !regexp.MustCompile(`^[45]:\d\d left · 尚餘 [45]:\d\d$`).MatchString(got) {
		t.Fatalf("countdown %q", got)
	}
	if got := text(t, ctx, "#amount"); got != "HK$ 38.00" {
		t.Fatalf("amount with the QR code %q", got)
	}
	// One open payment per till: a scan while the code is shown is refused.
	if _, err := st.eng.Scan(bg, "134567890123456799"); err == nil {
		t.Fatal("a scan was taken while the QR code is shown")
	}
	shot(t, ctx, dir, "customer-qr-en")

	// The demo's simulated customer scans and pays.
	run(t, ctx, "the customer pays", chromedp.Click(chromedp.CSS("#demo-pay")), state("paid"))
	if got := text(t, ctx, "#headline"); got != "Paid — thank you" {
		t.Fatalf("paid headline %q", got)
	}
	shot(t, ctx, dir, "customer-paid-en")
	if s, _ := st.eng.Sale(sale.ID); s.State != engine.SalePaid || s.Attempts[0].Kind != engine.AttemptKindQR {
		t.Fatalf("sale %s %+v", s.State, s.Attempts)
	}

	// Chinese first: a QR code the cashier cancels is "not paid".
	run(t, ctx, "switch to Chinese", chromedp.Click(chromedp.CSS("#btn-lang")))
	sale2, err := st.eng.OpenSale(bg, engine.OpenSaleRequest{Amount: 12550})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "amount in Chinese", state("amount"))
	if got := text(t, ctx, "#headline"); got != "應付金額" {
		t.Fatalf("headline %q", got)
	}
	shot(t, ctx, dir, "customer-amount-zh")
	if _, err := st.eng.ShowQR(bg, sale2.ID); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "QR code in Chinese", state("qr"), qrLoaded)
	if got := text(t, ctx, "#headline"); got != "請用微信掃碼支付" {
		t.Fatalf("headline %q", got)
	}
	shot(t, ctx, dir, "customer-qr-zh")
	if _, err := st.eng.Cancel(bg, sale2.ID); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "not paid", state("notpaid"))
	if got := text(t, ctx, "#headline"); got != "未付款" {
		t.Fatalf("headline %q", got)
	}
	shot(t, ctx, dir, "customer-notpaid-zh")
}
