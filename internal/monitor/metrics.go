package monitor

import (
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"posd/internal/config"
	"posd/queue/engine"
	"posd/queue/report"
	"posd/wxpay"
)

// Metrics is posd's Prometheus registry (its own, so tests can start several daemons in
// one process and nothing global leaks in).
type Metrics struct {
	Registry *prometheus.Registry

	payments     *prometheus.CounterVec   // attempts reaching a final state, by outcome
	wechat       *prometheus.HistogramVec // WeChat call latency by endpoint, host, status class
	reverses     prometheus.Counter
	printFails   prometheus.Counter
	scanners     prometheus.Gauge
	certDays     *prometheus.GaugeVec
	badScans     prometheus.Counter
	refunds      *prometheus.CounterVec
	reconAlerts  *prometheus.GaugeVec
	logins       *prometheus.CounterVec
	mu           sync.Mutex
	seen         map[string]seen // out_trade_no or "refund:"+out_refund_no → what was counted already
	seenOrder    []string        // FIFO bound on seen
	maxSeenCount int
	start        time.Time // changes older than this were counted by the previous process
}

// seen is what was counted of one attempt (state, reverses) or one refund (refund).
type seen struct {
	state    engine.AttemptState
	reverses int
	refund   engine.RefundState
}

// NewMetrics registers every posd metric plus the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posd_payments_total",
			Help: "Payment attempts that reached a final state, by outcome (paid, failed, reversed).",
		}, []string{"outcome"}),
		wechat: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "posd_wechat_request_duration_seconds",
			Help:    "WeChat Pay HTTP call latency by endpoint, host and result (2xx, 4xx, 5xx, error).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30},
		}, []string{"endpoint", "host", "result"}),
		reverses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "posd_reverses_total",
			Help: "Reverse calls made for payment attempts.",
		}),
		printFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "posd_print_failures_total",
			Help: "Receipts that could not be printed.",
		}),
		scanners: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "posd_scanners_connected",
			Help: "Scanners currently connected.",
		}),
		certDays: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "posd_certificate_expiry_days",
			Help: "Days until a certificate posd relies on expires, by config key.",
		}, []string{"key"}),
		badScans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "posd_bad_scans_total",
			Help: "Scanned codes refused at the till (not a WeChat payment code, or already used).",
		}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posd_refunds_total",
			Help: "Refunds that reached a final state, by state.",
		}, []string{"state"}),
		reconAlerts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "posd_reconciliation_alerts",
			Help: "Differences between the journal and WeChat's statement that need a manager, by day (last result).",
		}, []string{"date", "state"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posd_logins_total",
			Help: "Logins and manager PIN checks by method (token, pin, pin_header, link, kiosk) and result (ok, wrong, locked, refused).",
		}, []string{"method", "result"}),
		seen:         map[string]seen{},
		maxSeenCount: 20000,
		start:        time.Now(),
	}
	m.Registry.MustRegister(m.payments, m.wechat, m.reverses, m.printFails, m.scanners,
		m.certDays, m.badScans, m.refunds, m.reconAlerts, m.logins,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{"paid", "failed", "reversed"} {
		m.payments.WithLabelValues(o) // export zeros so rates work from the first scrape
	}
	for _, r := range []string{"ok", "wrong", "locked"} {
		m.logins.WithLabelValues("pin", r) // an alert on wrong PINs works from the first scrape
	}
	return m
}

// ObserveWeChat is a wxpay.Observer.
func (m *Metrics) ObserveWeChat(endpoint, host string, status int, d time.Duration, err error) {
	result := "error"
	switch {
	case err == nil && status >= 200 && status < 300:
		result = "2xx"
	case status >= 400 && status < 500:
		result = "4xx"
	case status >= 500:
		result = "5xx"
	case errors.Is(err, wxpay.ErrNotSent):
		result = "not_sent"
	}
	if u, perr := url.Parse(host); perr == nil && u.Host != "" {
		host = u.Host
	}
	m.wechat.WithLabelValues(endpoint, host, result).Observe(d.Seconds())
}

// ObserveSale counts what changed in a persisted sale: attempts that became final and
// reverse calls made since the last time this attempt was seen.
func (m *Metrics) ObserveSale(s *engine.Sale) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range s.Attempts {
		prev, known := m.remember(a.OutTradeNo)
		if !known && a.UpdatedAt.Before(m.start) {
			// First seen after a restart, unchanged since: counted before the restart.
			prev = seen{state: a.State, reverses: a.Reverses}
		}
		if a.Reverses > prev.reverses {
			m.reverses.Add(float64(a.Reverses - prev.reverses))
		}
		if a.State.Final() && prev.state != a.State {
			m.payments.WithLabelValues(string(a.State)).Inc()
		}
		m.seen[a.OutTradeNo] = seen{state: a.State, reverses: a.Reverses}
	}
	for _, r := range s.Refunds {
		key := "refund:" + r.OutRefundNo
		prev, known := m.remember(key)
		if !known && r.UpdatedAt.Before(m.start) {
			prev = seen{refund: r.State}
		}
		if (r.State == engine.RefundSucceeded || r.State == engine.RefundFailed) && prev.refund != r.State {
			m.refunds.WithLabelValues(string(r.State)).Inc()
		}
		m.seen[key] = seen{refund: r.State}
	}
}

// remember returns what was last seen under key, adding key to the bounded FIFO when new.
func (m *Metrics) remember(key string) (seen, bool) {
	prev, ok := m.seen[key]
	if !ok {
		m.seenOrder = append(m.seenOrder, key)
		if len(m.seenOrder) > m.maxSeenCount {
			delete(m.seen, m.seenOrder[0])
			m.seenOrder = m.seenOrder[1:]
		}
	}
	return prev, ok
}

// Reconciled exports a reconciliation result (only the latest day is kept).
func (m *Metrics) Reconciled(r report.Result) {
	m.reconAlerts.Reset()
	m.reconAlerts.WithLabelValues(r.Date, r.State).Set(float64(r.Alerts))
}

// Login counts a login or PIN check (ui.Options.OnLogin).
func (m *Metrics) Login(method, result string) { m.logins.WithLabelValues(method, result).Inc() }

// PrintFailed counts a receipt that did not print.
func (m *Metrics) PrintFailed() { m.printFails.Inc() }

// BadScan counts a code refused at the till.
func (m *Metrics) BadScan() { m.badScans.Inc() }

// SetScanners sets the number of connected scanners.
func (m *Metrics) SetScanners(n int) { m.scanners.Set(float64(n)) }

// SetCertificates exports days left for each certificate key; several certificates under
// one key (a bundle) report the soonest expiry.
func (m *Metrics) SetCertificates(certs []config.CertInfo, now time.Time) {
	soonest := map[string]int{}
	for _, c := range certs {
		if d, ok := soonest[c.Key]; !ok || c.DaysLeft(now) < d {
			soonest[c.Key] = c.DaysLeft(now)
		}
	}
	m.certDays.Reset()
	for k, d := range soonest {
		m.certDays.WithLabelValues(k).Set(float64(d))
	}
}

// RegisterEngine exports the engine's live counts as gauges read at scrape time.
func (m *Metrics) RegisterEngine(status func() engine.Status) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posd_unresolved_attempts",
			Help: "Payment attempts whose outcome is not final yet.",
		}, func() float64 { return float64(status().Unresolved) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posd_queue_depth",
			Help: "Jobs in the durable retry queue.",
		}, func() float64 { return float64(status().QueueDepth) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posd_attention_jobs",
			Help: "Jobs that need a person (automation gave up).",
		}, func() float64 { return float64(status().Attention) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posd_ready",
			Help: "1 once recovery has finished and posd takes sales.",
		}, func() float64 {
			if status().Ready {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posd_wechat_last_success_timestamp_seconds",
			Help: "Unix time of the last verified answer from WeChat Pay (0 = none yet).",
		}, func() float64 {
			t := status().LastWeChatOK
			if t.IsZero() {
				return 0
			}
			return float64(t.UnixNano()) / 1e9
		}),
	)
}
