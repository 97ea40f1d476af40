package manager

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"posd/internal/config"
	"posd/internal/daemon"
	"posd/queue"
	"posd/queue/report"
	"posd/wxpay"
)

// Request is one run of a manager's tool.
type Request struct {
	Tool   string // "report", "reconcile" or "journal"
	Date   string // the day, YYYY-MM-DD on the till's clock
	Format string // journal: "csv" or "json"; report and reconcile print JSON
}

// Run answers req on w. With posd stopped it opens the journal directly (read-only but
// for reconcile, which records what it found); while posd runs (it holds the journal's
// lock) it asks posd through the local API with the token and the manager PIN from cfg.
// Reconcile returns an error when differences need a manager.
func Run(ctx context.Context, w io.Writer, cfg *config.Config, req Request) error {
	loc := cfg.Till.Location()
	readOnly := req.Tool != "reconcile"
	db, err := queue.Open(cfg.Storage.Path, queue.Options{ReadOnly: readOnly, Timeout: 300 * time.Millisecond, Location: loc})
	if errors.Is(err, queue.ErrLocked) {
		return viaAPI(ctx, w, cfg, req)
	}
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer db.Close()
	sales := daemon.SalesByDay(db)
	switch req.Tool {
	case "journal":
		ss, err := sales(req.Date)
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		return report.WriteJournal(w, report.Journal(ss, db.Location()), req.Format)
	case "report":
		ss, err := sales(req.Date)
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		return writeJSON(w, report.Day(req.Date, cfg.Till.StoreID, cfg.Till.TillID, cfg.WxPay.Currency, db.Location(), ss, time.Now()))
	default: // reconcile
		secrets, probs, _ := config.LoadSecrets(cfg, time.Now())
		if len(probs) > 0 {
			return &config.ConfigError{Problems: probs}
		}
		gwc := cfg.WxPayClientConfig(secrets) // no Logger: a one-off command logs nothing
		gw, err := wxpay.New(gwc)
		if err != nil {
			return fmt.Errorf("wechat pay client: %w", err)
		}
		res, err := daemon.NewReconciler(cfg, gw, db).RunDate(ctx, req.Date)
		if werr := writeJSON(w, res); werr != nil && err == nil {
			err = werr
		}
		if err == nil && res.Alerts > 0 {
			return fmt.Errorf("reconcile %s: %d differences need a manager", req.Date, res.Alerts)
		}
		return err
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// viaAPI asks the running daemon.
func viaAPI(ctx context.Context, w io.Writer, cfg *config.Config, req Request) error {
	cmd, date, format := req.Tool, req.Date, req.Format
	secrets, probs, _ := config.LoadSecrets(cfg, time.Now())
	for _, p := range probs {
		if strings.HasPrefix(p.Key, "http.") {
			return &config.ConfigError{Problems: probs}
		}
	}
	scheme := "http"
	client := &http.Client{Timeout: 90 * time.Second}
	if cfg.HTTP.TLSCertFile != "" {
		scheme = "https"
		// The till's own certificate: trust it for this loopback call.
		if secrets.HTTPCert != nil && secrets.HTTPCert.Leaf != nil {
			client.Transport = tlsTransportFor(secrets.HTTPCert.Leaf)
		}
	}
	method, p := http.MethodGet, ""
	q := url.Values{"date": {date}}
	switch cmd {
	case "journal":
		p = "/api/v1/export/journal"
		q.Set("format", format)
	case "report":
		p = "/api/v1/reports/day"
	case "reconcile":
		p, method = "/api/v1/reports/reconciliation", http.MethodPost
	}
	u := scheme + "://" + cfg.HTTP.Listen + p + "?" + q.Encode()
	hreq, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	hreq.Header.Set("Authorization", "Bearer "+secrets.APIToken)
	hreq.Header.Set("X-Manager-PIN", secrets.ManagerPIN)
	resp, err := client.Do(hreq)
	if err != nil {
		return fmt.Errorf("the journal is locked by the running posd, and its API did not answer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("posd answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if cmd == "journal" {
		_, err = w.Write(body)
		return err
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if cmd == "reconcile" {
		if mm, ok := v.(map[string]any); ok && mm["result"] != nil {
			v = mm["result"]
		}
	}
	return writeJSON(w, v)
}

// tlsTransportFor trusts exactly the till's own certificate: the CLI talks to the daemon
// on this machine, by an address the certificate may not name.
func tlsTransportFor(leaf *x509.Certificate) *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // replaced by the exact-certificate check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], leaf.Raw) {
				return errors.New("the server's certificate is not http.tls_cert_file")
			}
			return nil
		},
		MinVersion: tls.VersionTLS12,
	}}
}
