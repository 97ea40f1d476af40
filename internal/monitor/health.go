package monitor

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"posd/internal/config"
	"posd/queue/engine"
	"posd/wxpay"
)

// Health is the /healthz document: each component's state.
type Health struct {
	Status       string          `json:"status"` // ok, degraded, starting, stopping
	Ready        bool            `json:"ready"`
	Version      string          `json:"version"`
	Storage      StorageHealth   `json:"storage"`
	WeChat       WeChatHealth    `json:"wechat"`
	Certificates []CertHealth    `json:"certificates"`
	Scanners     []ScannerHealth `json:"scanners"`
	Printer      PrinterHealth   `json:"printer"`
	Unresolved   int             `json:"unresolved_attempts"`
	QueueDepth   int             `json:"queue_depth"`
	Attention    int             `json:"attention"`
}

// StorageHealth says whether the journal answers.
type StorageHealth struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// WeChatHealth is what the engine last saw from WeChat Pay.
type WeChatHealth struct {
	Reachable   bool       `json:"reachable"`
	LastSuccess *time.Time `json:"last_success"`
}

// CertHealth is one certificate and its days left.
type CertHealth struct {
	Key      string    `json:"key"`
	Subject  string    `json:"subject,omitempty"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}

// ScannerHealth is one scanner.
type ScannerHealth struct {
	Name      string     `json:"name"`
	Connected bool       `json:"connected"`
	Error     string     `json:"error,omitempty"`
	LastScan  *time.Time `json:"last_scan,omitempty"`
}

// PrinterHealth is the receipt printer.
type PrinterHealth struct {
	Kind  string `json:"kind"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// HealthSources are the functions /healthz asks. Nil ones are reported as absent.
type HealthSources struct {
	Version  string
	Status   func() engine.Status
	Storage  func(ctx context.Context) error
	Certs    func() []config.CertInfo
	Scanners func() []ScannerHealth
	Printer  func() PrinterHealth
	Stopping func() bool
	Now      func() time.Time
}

// Check gathers the health document. It is cheap: one read transaction and some counters.
func (h *HealthSources) Check(ctx context.Context) Health {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	out := Health{Version: h.Version, Scanners: []ScannerHealth{}, Certificates: []CertHealth{}}
	if h.Status != nil {
		st := h.Status()
		out.Ready = st.Ready
		out.Unresolved, out.QueueDepth, out.Attention = st.Unresolved, st.QueueDepth, st.Attention
		out.WeChat.Reachable = st.WeChatReachable
		if !st.LastWeChatOK.IsZero() {
			t := st.LastWeChatOK
			out.WeChat.LastSuccess = &t
		}
	}
	if h.Storage != nil {
		if err := h.Storage(ctx); err != nil {
			out.Storage.Error = err.Error()
		} else {
			out.Storage.OK = true
		}
	}
	if h.Certs != nil {
		for _, c := range h.Certs() {
			out.Certificates = append(out.Certificates, CertHealth{Key: c.Key, Subject: c.Subject, NotAfter: c.NotAfter, DaysLeft: c.DaysLeft(now())})
		}
	}
	if h.Scanners != nil {
		out.Scanners = h.Scanners()
	}
	if h.Printer != nil {
		out.Printer = h.Printer()
	} else {
		out.Printer = PrinterHealth{Kind: "none", OK: true}
	}
	// /healthz answers without a token: device error texts (a scanner's framing error may
	// quote what it read) must never carry a payment code (security review).
	out.Storage.Error = wxpay.MaskCodeRuns(out.Storage.Error)
	out.Printer.Error = wxpay.MaskCodeRuns(out.Printer.Error)
	for i := range out.Scanners {
		out.Scanners[i].Error = wxpay.MaskCodeRuns(out.Scanners[i].Error)
	}
	switch {
	case h.Stopping != nil && h.Stopping():
		out.Status = "stopping"
	case !out.Ready:
		out.Status = "starting"
	case !out.Storage.OK || !out.WeChat.Reachable || out.Attention > 0 || !out.Printer.OK:
		out.Status = "degraded"
	default:
		out.Status = "ok"
		for _, s := range out.Scanners {
			if !s.Connected {
				out.Status = "degraded"
			}
		}
		for _, c := range out.Certificates {
			if c.DaysLeft < 14 {
				out.Status = "degraded"
			}
		}
	}
	return out
}

// ServeHTTP is /healthz: 200 when ready and the journal answers, 503 otherwise (load
// balancers and IT scripts only look at the status; the body says why).
func (h *HealthSources) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	doc := h.Check(ctx)
	code := http.StatusOK
	if !doc.Ready || !doc.Storage.OK || doc.Status == "stopping" {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(doc)
}
