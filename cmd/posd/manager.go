package main

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

// managerCmd runs report, reconcile and journal. With posd stopped they open the journal
// directly; while posd runs (it holds the journal's lock) they ask it through the local
// API with the token and the manager PIN from the config.
func (m *Main) managerCmd(ctx context.Context, cmd string, args []string) error {
	fs := m.newFlagSet(cmd)
	path := fs.String("config", config.DefaultConfigPath, "config file")
	date := fs.String("date", "", "day YYYY-MM-DD in Hong Kong time (default: today; reconcile: yesterday)")
	format := fs.String("format", "", "journal: csv (default) or json; report and reconcile print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.ReadConfigFile(*path)
	if err != nil {
		return err
	}
	loc := cfg.Till.Location()
	if *date == "" {
		day := time.Now().In(loc)
		if cmd == "reconcile" {
			day = day.AddDate(0, 0, -1)
		}
		*date = day.Format(time.DateOnly)
	}
	if _, err := time.Parse(time.DateOnly, *date); err != nil {
		return &UsageError{fmt.Sprintf("-date %q: want YYYY-MM-DD", *date)}
	}
	switch {
	case cmd == "journal" && *format == "":
		*format = "csv"
	case cmd == "journal" && *format != "csv" && *format != "json":
		return &UsageError{"-format: csv or json"}
	case cmd != "journal" && *format != "" && *format != "json":
		return &UsageError{"-format: " + cmd + " prints JSON"}
	}

	readOnly := cmd != "reconcile"
	db, err := queue.Open(cfg.Storage.Path, queue.Options{ReadOnly: readOnly, Timeout: 300 * time.Millisecond, Location: loc})
	if errors.Is(err, queue.ErrLocked) {
		return m.managerViaAPI(ctx, &cfg, cmd, *date, *format)
	}
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer db.Close()
	sales := daemon.SalesByDay(db)
	switch cmd {
	case "journal":
		ss, err := sales(*date)
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		return report.WriteJournal(m.Stdout, report.Journal(ss, db.Location()), *format)
	case "report":
		ss, err := sales(*date)
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		return m.writeResult(report.Day(*date, cfg.Till.StoreID, cfg.Till.TillID, cfg.WxPay.Currency, db.Location(), ss, time.Now()), *format)
	default: // reconcile
		secrets, probs, _ := config.LoadSecrets(&cfg, time.Now())
		if len(probs) > 0 {
			return &config.ConfigError{Problems: probs}
		}
		gwc := wxpayConfig(&cfg, secrets) // no Logger: a one-off command logs nothing
		gw, err := wxpay.New(gwc)
		if err != nil {
			return fmt.Errorf("wechat pay client: %w", err)
		}
		res, err := daemon.NewReconciler(&cfg, gw, db).RunDate(ctx, *date)
		if werr := m.writeResult(res, *format); werr != nil && err == nil {
			err = werr
		}
		if err == nil && res.Alerts > 0 {
			return fmt.Errorf("reconcile %s: %d differences need a manager", *date, res.Alerts)
		}
		return err
	}
}

func (m *Main) writeResult(v any, _ string) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// managerViaAPI asks the running daemon.
func (m *Main) managerViaAPI(ctx context.Context, cfg *config.Config, cmd, date, format string) error {
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
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+secrets.APIToken)
	req.Header.Set("X-Manager-PIN", secrets.ManagerPIN)
	resp, err := client.Do(req)
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
		_, err = m.Stdout.Write(body)
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
	return m.writeResult(v, format)
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
