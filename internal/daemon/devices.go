package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"posd/internal/monitor"
	"posd/ui"
)

// virtualScans counts the codes typed into the demo's virtual-scanner field: they reach
// the engine directly (for the synchronous answer the field shows), not through the
// scanner supervisor, so the supervisor's counter for the demo's scanner stays at zero.
type virtualScans struct {
	mu   sync.Mutex
	n    uint64
	last time.Time
}

func (v *virtualScans) add(at time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.n++
	v.last = at
}

func (v *virtualScans) get() (uint64, time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n, v.last
}

// deviceReport is the manager's Devices tab: status cards in words, the raw health
// document behind "details".
func (d *Daemon) deviceReport(h *monitor.HealthSources) ui.DeviceReport {
	now := time.Now()
	health := h.Check(context.Background())
	r := ui.DeviceReport{Version: health.Version, Commit: d.commit, Scanners: []ui.ScannerCard{}, Certificates: []ui.CertCard{},
		WeChat:  ui.WeChatCard{Reachable: health.WeChat.Reachable},
		Storage: ui.StorageCard{OK: health.Storage.OK, Error: health.Storage.Error},
		Details: map[string]any{"health": health}}
	if health.WeChat.LastSuccess != nil {
		r.WeChat.LastOK = *health.WeChat.LastSuccess
	}
	vn, vlast := d.vscans.get()
	for _, s := range d.scanners.Status() {
		c := ui.ScannerCard{Name: s.Name, Kind: s.Kind, Connected: s.Connected, Since: s.Since,
			LastScan: s.LastScan, Scans: s.Scans, Error: s.LastError}
		if d.virtualScanner && s.Kind == "virtual" {
			// The demo's scanner is the virtual-scanner field of the page.
			c.Scans += vn
			if vlast.After(c.LastScan) {
				c.LastScan = vlast
			}
		}
		r.Scanners = append(r.Scanners, c)
	}
	if d.cfg.Printer.Kind != "none" {
		st := d.spool.Status()
		kind := d.cfg.Printer.Kind
		state := strings.ReplaceAll(string(st.State), " ", "_")
		if state == "ready" && st.Printer != nil && st.Printer.PaperNearEnd {
			state = "paper_near_end"
		}
		r.Printer = &ui.PrinterCard{Kind: kind, State: state, Since: st.Since, Pending: st.Pending, Error: st.LastError}
		r.Details["printer"] = st
	}
	for _, c := range d.certs() {
		kind := "https"
		switch {
		case strings.HasPrefix(c.Key, "wxpay.platform"):
			kind = "wechat_platform"
		case strings.HasPrefix(c.Key, "wxpay."):
			kind = "merchant"
		}
		r.Certificates = append(r.Certificates, ui.CertCard{Name: c.Key, Kind: kind, NotAfter: c.NotAfter, DaysLeft: c.DaysLeft(now)})
	}
	return r
}
