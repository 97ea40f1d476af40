package monitor

import (
	"fmt"
	"time"

	"posd/internal/config"
	"posd/printer"
	"posd/scanner"
	"posd/ui"
)

// certWarnDays is how long before expiry a certificate shows up on the cashier's screen.
const certWarnDays = 30

// Alerts are the device problems the cashier must see: a scanner not connected, a printer
// that cannot print, a certificate that expires within certWarnDays.
func Alerts(scanners []scanner.DeviceStatus, spool printer.SpoolStatus, certs []config.CertInfo, now time.Time) []ui.Alert {
	var out []ui.Alert
	for _, s := range scanners {
		if !s.Connected {
			out = append(out, ui.Alert{Code: ui.AlertScannerDisconnected, Severity: "error", Message: "Scanner " + s.Name + " is not connected."})
		}
	}
	if a, ok := printerAlert(spool); ok {
		out = append(out, a)
	}
	for _, c := range certs {
		if days := c.DaysLeft(now); days < certWarnDays {
			out = append(out, ui.Alert{Code: ui.AlertCertExpiring, Severity: "warning", Message: fmt.Sprintf("Certificate %s expires in %d days.", c.Key, days)})
		}
	}
	return out
}

// printerAlert decides from the printer's status bits, not from their words: a printer
// out of paper that also sets its error bit is out of paper, which the cashier can fix.
func printerAlert(st printer.SpoolStatus) (ui.Alert, bool) {
	switch st.State {
	case printer.SpoolReady, printer.SpoolPrinting, printer.SpoolDisabled:
		return ui.Alert{}, false
	}
	if held := st.HeldBy(); held != nil && held.PaperOut {
		return ui.Alert{Code: ui.AlertPrinterPaperOut, Severity: "warning", Message: "The receipt printer is out of paper.", Count: st.Pending}, true
	}
	return ui.Alert{Code: ui.AlertPrinterOffline, Severity: "warning", Message: "The receipt printer is " + string(st.State) + ".", Count: st.Pending}, true
}
