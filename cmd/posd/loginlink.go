package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"posd/internal/config"
)

// loginLinkCmd is `posd login-link`: it asks the running daemon for a one-time login link
// with the API token and prints the whole URL. The kiosk's start script runs it
// (chromium --kiosk "$(posd login-link)"), so the till's screen opens the cashier view
// without anyone typing the token, and no other program on the till gets a session for
// free. Whoever runs it must be able to read the token file.
func (m *Main) loginLinkCmd(ctx context.Context, args []string) error {
	cfg, _, err := m.readConfig("login-link", args)
	if err != nil {
		return err
	}
	token, cert, err := config.APIAccess(&cfg)
	if err != nil {
		return err
	}
	base, client, err := daemonClient(cfg.HTTP.Listen, cert)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/login-links", bytes.NewReader(nil))
	if err != nil {
		return fmt.Errorf("login link: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("login link: is posd running on %s? %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ans struct {
		Path  string `json:"path"`
		Error struct{ Message string }
	}
	if err := json.Unmarshal(body, &ans); err != nil || resp.StatusCode != http.StatusCreated || !strings.HasPrefix(ans.Path, "/ui/link?") {
		return fmt.Errorf("login link: posd answered %s: %s", resp.Status, ans.Error.Message)
	}
	_, err = fmt.Fprintln(m.Stdout, base+ans.Path)
	return err
}

// daemonClient is how a command on the till reaches the daemon's listen address: plain
// HTTP on loopback, or HTTPS pinned to the configured certificate (which may well be
// self-signed). An unspecified address (0.0.0.0, ::) is reached on loopback.
func daemonClient(listen string, cert *tls.Certificate) (string, *http.Client, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", nil, fmt.Errorf("http.listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	addr := net.JoinHostPort(host, port)
	if cert == nil {
		return "http://" + addr, &http.Client{}, nil
	}
	leaf := cert.Leaf
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The name in the certificate is the one the shop's browsers use; the pin to the
		// configured certificate is what is checked here.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf.Raw) {
				return errors.New("the daemon's certificate is not http.tls_cert_file")
			}
			return nil
		},
	}}
	return "https://" + addr, &http.Client{Transport: tr}, nil
}
