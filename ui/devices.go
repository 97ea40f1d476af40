package ui

import "time"

// DeviceReport is what the manager's Devices tab shows as status cards: one per scanner,
// the printer, WeChat Pay, the journal and each certificate. Options.Devices returns it;
// the raw documents (the /healthz one, the printer spool) go in Details, shown behind a
// "details" link for support.
type DeviceReport struct {
	Version      string         `json:"version"`
	Commit       string         `json:"commit,omitempty"` // the source revision built
	Scanners     []ScannerCard  `json:"scanners"`
	Printer      *PrinterCard   `json:"printer,omitempty"` // nil: no printer configured
	WeChat       WeChatCard     `json:"wechat"`
	Storage      StorageCard    `json:"storage"`
	Certificates []CertCard     `json:"certificates"`
	Details      map[string]any `json:"details,omitempty"`
}

// ScannerCard is one scanner.
type ScannerCard struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since,omitzero"` // when Connected last changed
	LastScan  time.Time `json:"last_scan,omitzero"`
	Scans     uint64    `json:"scans"`
	Error     string    `json:"error,omitempty"`
}

// PrinterCard is the receipt printer. State is one of ready, printing, paper_out,
// paper_near_end, cover_open, offline, unreachable, disabled.
type PrinterCard struct {
	Kind    string    `json:"kind"`
	State   string    `json:"state"`
	Since   time.Time `json:"since,omitzero"`
	Pending int       `json:"pending"` // receipts waiting to print
	Error   string    `json:"error,omitempty"`
}

// WeChatCard is what the engine last saw from WeChat Pay.
type WeChatCard struct {
	Reachable bool      `json:"reachable"`
	LastOK    time.Time `json:"last_ok,omitzero"`
}

// StorageCard is the journal.
type StorageCard struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// CertCard is one certificate the till relies on.
type CertCard struct {
	Name     string    `json:"name"` // the config key naming it
	Kind     string    `json:"kind"` // wechat_platform, merchant (WeChat Pay client certificate) or https`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}
