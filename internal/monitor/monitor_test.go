package monitor

import (
	"context"
	"errors"
	"testing"
	"time"

	"posd/internal/config"
	"posd/queue/engine"
)

func TestHealth(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	h := &HealthSources{
		Status:  func() engine.Status { return engine.Status{} },
		Storage: func(context.Context) error { return nil },
		Now:     func() time.Time { return now },
		Certs: func() []config.CertInfo {
			return []config.CertInfo{{Key: "wxpay.platform_cert_files[0]", NotAfter: now.Add(10 * 24 * time.Hour)}}
		},
	}
	doc := h.Check(context.Background())
	if doc.Status != "starting" || doc.Ready {
		t.Fatalf("before recovery: %+v", doc)
	}
	h.Status = func() engine.Status { return engine.Status{Ready: true, WeChatReachable: true, LastWeChatOK: now} }
	doc = h.Check(context.Background())
	if doc.Status != "degraded" || doc.Certificates[0].DaysLeft != 10 { // expiring within 14 days
		t.Fatalf("expiring certificate: %+v", doc)
	}
	h.Now = func() time.Time { return now.Add(-30 * 24 * time.Hour) }
	if doc = h.Check(context.Background()); doc.Status != "ok" || doc.WeChat.LastSuccess == nil {
		t.Fatalf("healthy: %+v", doc)
	}
	h.Storage = func(context.Context) error { return errors.New("disk full") }
	if doc = h.Check(context.Background()); doc.Storage.OK || doc.Storage.Error != "disk full" || doc.Status != "degraded" {
		t.Fatalf("storage failure: %+v", doc)
	}
}

func TestMetrics_ObserveSale(t *testing.T) {
	m := NewMetrics()
	// A sale paid before this process started is not counted again when it changes.
	old := &engine.Sale{ID: "S0", Attempts: []engine.Attempt{{OutTradeNo: "A0", State: "paid", UpdatedAt: m.start.Add(-time.Hour)}}}
	m.ObserveSale(old)
	now := time.Now()
	s := &engine.Sale{ID: "S1", Attempts: []engine.Attempt{{OutTradeNo: "A1", State: "paying", UpdatedAt: now}}}
	m.ObserveSale(s)
	s.Attempts[0].State, s.Attempts[0].Reverses = "reversed", 2
	m.ObserveSale(s)
	m.ObserveSale(s) // the same change seen twice counts once
	s.Attempts = append(s.Attempts, engine.Attempt{OutTradeNo: "A2", State: "paid", UpdatedAt: now})
	m.ObserveSale(s)
	got := map[string]float64{}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			name := mf.GetName()
			for _, lp := range mt.GetLabel() {
				name += "/" + lp.GetValue()
			}
			if c := mt.GetCounter(); c != nil {
				got[name] = c.GetValue()
			}
		}
	}
	if got["posd_payments_total/reversed"] != 1 || got["posd_payments_total/paid"] != 1 || got["posd_reverses_total"] != 2 {
		t.Fatalf("counters: %v", got)
	}
	m.ObserveWeChat("micropay", "https://apihk.mch.weixin.qq.com", 200, 120*time.Millisecond, nil)
	m.SetCertificates([]config.CertInfo{{Key: "k", NotAfter: time.Now().Add(48 * time.Hour)}}, time.Now())
	mfs, _ = m.Registry.Gather()
	var hist, cert bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "posd_wechat_request_duration_seconds":
			mt := mf.GetMetric()[0]
			labels := map[string]string{}
			for _, lp := range mt.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			hist = mt.GetHistogram().GetSampleCount() == 1 && labels["host"] == "apihk.mch.weixin.qq.com" && labels["endpoint"] == "micropay" && labels["result"] == "2xx"
		case "posd_certificate_expiry_days":
			cert = mf.GetMetric()[0].GetGauge().GetValue() == 1
		}
	}
	if !hist || !cert {
		t.Fatalf("histogram %v, certificate gauge %v", hist, cert)
	}
}
