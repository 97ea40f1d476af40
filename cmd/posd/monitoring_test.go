package main

import (
	"encoding/json"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The monitoring kit (configs/monitoring/, installed under /usr/share/posd/) must only name metrics
// posd exports. TestMonitoringKit scrapes a running `posd demo` after one payment and fails
// on any posd_, process_ or go_ metric that a rule, a rule test or a dashboard panel names
// and /metrics lacks; then promtool checks the rules, runs their unit tests and checks the
// example scrape config.
func TestMonitoringKit(t *testing.T) {
	out := &syncBuffer{}
	cmd := exec.Command(posdBinary(t), "demo", "-listen", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	url, token := demoLogin(t, out, 30*time.Second)
	// The printed URL is a one-time login link; the API and /metrics are on its origin.
	if u, err := neturl.Parse(url); err == nil {
		url = u.Scheme + "://" + u.Host + "/"
	}
	// One payment, so the per-call histograms have series.
	tl := &till{t: t, base: strings.TrimSuffix(url, "/"), token: token, stderr: out}
	s := tl.openSale(1000, "monitoring")
	tl.api("POST", "/api/v1/sales/"+s.ID+"/pay", map[string]string{"auth_code": newCode()})
	tl.waitSale(s.ID, 20*time.Second, "paid", paid)

	resp, err := http.Get(url + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(string(body), -1) {
		exported[m[1]] = true
		if m[2] == "histogram" || m[2] == "summary" {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				exported[m[1]+suf] = true
			}
		}
	}
	if !exported["posd_oldest_unresolved_age_seconds"] || !exported["posd_wechat_request_duration_seconds_bucket"] {
		t.Fatalf("scrape lacks expected metrics:\n%s", body)
	}

	files, _ := filepath.Glob("../../configs/monitoring/*")
	if len(files) < 4 {
		t.Fatalf("monitoring kit: %v", files)
	}
	metricRe := regexp.MustCompile(`\b((?:posd|process|go)_[a-z0-9_]+)`)
	named := map[string][]string{}
	for _, f := range files {
		if strings.HasSuffix(f, ".go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricRe.FindAllString(string(b), -1) {
			if exported[m] {
				named[m] = append(named[m], filepath.Base(f))
				continue
			}
			t.Errorf("%s names %s, which posd's /metrics does not export", filepath.Base(f), m)
		}
	}
	var names []string
	for n := range named {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("the kit names %d exported metrics: %s", len(names), strings.Join(names, " "))

	// The dashboard: valid JSON, every panel has queries, per store and till variables.
	var dash struct {
		Templating struct {
			List []struct{ Name string } `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile("../../configs/monitoring/grafana-posd.json")
	if err != nil || json.Unmarshal(b, &dash) != nil {
		t.Fatalf("grafana-posd.json: %v", err)
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
	}
	if !vars["store"] || !vars["till"] || len(dash.Panels) < 10 {
		t.Errorf("dashboard: variables %v, %d panels", vars, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 || !strings.Contains(p.Targets[0].Expr, `store=~"$store"`) {
			t.Errorf("panel %q: targets %+v", p.Title, p.Targets)
		}
	}

	// Every alert has a unit test, and promtool agrees.
	rules, _ := os.ReadFile("../../configs/monitoring/posd-alerts.yml")
	tests, _ := os.ReadFile("../../configs/monitoring/posd-alerts.test.yml")
	for _, m := range regexp.MustCompile(`(?m)^\s+- alert: (\w+)`).FindAllStringSubmatch(string(rules), -1) {
		if !regexp.MustCompile(`alertname: ` + m[1] + `\n\s+exp_alerts:\n\s+- exp_labels`).Match(tests) {
			t.Errorf("alert %s has no test where it fires", m[1])
		}
	}
	pt := needTool(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "posd-alerts.yml"}, {"test", "rules", "posd-alerts.test.yml"}} {
		c := exec.Command(pt, args...)
		c.Dir = "../../configs/monitoring"
		if o, err := c.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, o)
		}
	}
	// The example scrape config, with its paths pointed at this checkout.
	dir := t.TempDir()
	cfg, _ := os.ReadFile("../../configs/monitoring/prometheus-posd.yml")
	abs, _ := filepath.Abs("../../configs/monitoring/posd-alerts.yml")
	c := strings.ReplaceAll(string(cfg), "/usr/share/posd/posd-alerts.yml", abs)
	c = strings.ReplaceAll(c, "/etc/prometheus/posd-tills-ca.pem", filepath.Join(dir, "ca.pem"))
	writeFile(t, filepath.Join(dir, "ca.pem"), "", 0o644)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), c, 0o644)
	if o, err := exec.Command(pt, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, o)
	}
}
