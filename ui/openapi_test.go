package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type oaResponse struct {
	Ref    string   `yaml:"$ref"`
	Errors []string `yaml:"x-error-codes"`
}

type oaOp struct {
	Responses map[string]oaResponse `yaml:"responses"`
}

type oaDoc struct {
	OpenAPI      string                     `yaml:"openapi"`
	Paths        map[string]map[string]oaOp `yaml:"paths"`
	GlobalErrors map[string][]string        `yaml:"x-global-errors"`
	NoticeCodes  []string                   `yaml:"x-notice-codes"`
	Components   struct {
		Responses map[string]oaResponse `yaml:"responses"`
		Schemas   map[string]struct {
			Properties map[string]struct {
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

func loadOpenAPI(t *testing.T) oaDoc {
	t.Helper()
	b, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d oaDoc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", d.OpenAPI)
	}
	return d
}

// errorsOf resolves a response's error codes ($ref to components/responses).
func (d oaDoc) errorsOf(r oaResponse) []string {
	if name, ok := strings.CutPrefix(r.Ref, "#/components/responses/"); ok {
		return d.Components.Responses[name].Errors
	}
	return r.Errors
}

// served lists every "METHOD path" the server answers, from its route table.
func served(s *Server) []string {
	var out []string
	for _, r := range s.apiRoutes() {
		for m := range r.methods {
			out = append(out, m+" "+r.path)
		}
	}
	for p, m := range uiRoutes {
		out = append(out, m+" "+p)
	}
	out = append(out, "GET /healthz", "GET /metrics")
	sort.Strings(out)
	return out
}

// TestOpenAPI_MatchesRoutes: every route is documented, every documented route is
// served, every documented error code answers with the status it is documented under,
// and every code the API has is documented.
func TestOpenAPI_MatchesRoutes(t *testing.T) {
	d := loadOpenAPI(t)
	e := newEnv(t, func(o *Options) {
		o.Healthz = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("{}")) })
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("# metrics\n")) })
	})
	var documented []string
	for p, ops := range d.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(documented)
	real := served(e.srv)
	for _, r := range real {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not in docs/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(real, r) {
			t.Errorf("%s is in docs/openapi.yaml but not served", r)
		}
	}

	all := map[string]bool{}
	for st, codes := range d.GlobalErrors {
		for _, c := range codes {
			all[c] = true
			if strconv.Itoa(StatusOf(c)) != st {
				t.Errorf("global %s documented as %s, answers %d", c, st, StatusOf(c))
			}
		}
	}
	for p, ops := range d.Paths {
		for m, op := range ops {
			for st, r := range op.Responses {
				for _, c := range d.errorsOf(r) {
					all[c] = true
					if strconv.Itoa(StatusOf(c)) != st {
						t.Errorf("%s %s: %s documented under %s, answers %d", strings.ToUpper(m), p, c, st, StatusOf(c))
					}
				}
			}
		}
	}
	for _, c := range d.NoticeCodes {
		all[c] = true
	}
	enum := d.Components.Schemas["Error"].Properties["error"].Properties["code"].Enum
	for _, c := range Codes() {
		if !all[c] {
			t.Errorf("code %s is documented on no response", c)
		}
		if !slices.Contains(enum, c) {
			t.Errorf("code %s is not in Error.code's enum", c)
		}
	}
	for _, c := range enum {
		if !slices.Contains(Codes(), c) {
			t.Errorf("Error.code's enum has %s, which posd never answers", c)
		}
	}
}

// TestOpenAPI_AnswersAsDocumented calls every documented route, successes and failures,
// and checks that each answer's status (and error code) is among those documented.
func TestOpenAPI_AnswersAsDocumented(t *testing.T) {
	d := loadOpenAPI(t)
	e := newEnv(t, func(o *Options) {
		o.Healthz = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("{}")) })
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("# metrics\n")) })
		o.Demo = true
		// QR Code Payment on, and a simulated customer that pays a QR code once.
		o.Till = qrFake{newFakeTill(o.Now), true}
		paidQR := map[string]bool{}
		o.DemoCustomerPays = func(_ context.Context, codeURL string) error {
			if paidQR[codeURL] {
				return errors.New("the simulator has this order paid already")
			}
			paidQR[codeURL] = true
			return nil
		}
	})
	e.till = e.srv.opt.Till.(qrFake).fakeTill
	// plain is a till without QR Code Payment, not the demo.
	plain := newEnv(t, nil)
	plainSale := plain.openSale(500)
	paid := e.paidSale(1500)
	open := e.openSale(800)
	qr := e.openSale(900)
	pin := withPIN(testPIN)
	link, _ := e.srv.LoginLink(time.Minute)
	cookie, sess := e.session()
	if cookie == nil {
		t.Fatal("no kiosk session")
	}
	asPage := []reqOpt{withCookie(cookie), withHeader("X-CSRF-Token", sess.CSRF)}
	type call struct {
		method, path, doc, body string
		opts                    []reqOpt
	}
	calls := []call{
		{"GET", "/api/v1/sales", "", "", []reqOpt{bearer}},
		{"GET", "/api/v1/sales?date=26-11-2026", "/api/v1/sales", "", []reqOpt{bearer}},
		{"GET", "/api/v1/sales", "", "", nil},
		{"POST", "/api/v1/sales", "", `{"amount":1000}`, []reqOpt{bearer}},
		{"POST", "/api/v1/sales", "", `{"amount":0}`, []reqOpt{bearer}},
		{"POST", "/api/v1/sales", "", `{"amount":1000,"auth_code":"4006381333931"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/sales", "", `{"amount":1000}`, []reqOpt{bearer, withHeader("Content-Type", "text/plain")}},
		{"GET", "/api/v1/sales/" + paid.ID, "/api/v1/sales/{id}", "", []reqOpt{bearer}},
		{"GET", "/api/v1/sales/nope", "/api/v1/sales/{id}", "", []reqOpt{bearer}},
		{"POST", "/api/v1/sales/" + open.ID + "/pay", "/api/v1/sales/{id}/pay", `{"auth_code":"12"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/sales/" + open.ID + "/cancel", "/api/v1/sales/{id}/cancel", "", []reqOpt{bearer}},
		{"POST", "/api/v1/sales/" + paid.ID + "/cancel", "/api/v1/sales/{id}/cancel", "", []reqOpt{bearer}},
		{"POST", "/api/v1/sales/" + paid.ID + "/refunds", "/api/v1/sales/{id}/refunds", `{"amount":100}`, []reqOpt{bearer, pin}},
		{"POST", "/api/v1/sales/" + paid.ID + "/refunds", "/api/v1/sales/{id}/refunds", `{"amount":100000}`, []reqOpt{bearer, pin}},
		{"POST", "/api/v1/sales/" + open.ID + "/refunds", "/api/v1/sales/{id}/refunds", `{"amount":100}`, []reqOpt{bearer, pin}},
		{"POST", "/api/v1/sales/" + paid.ID + "/refunds", "/api/v1/sales/{id}/refunds", `{"amount":100}`, []reqOpt{bearer}},
		{"POST", "/api/v1/sales/" + paid.ID + "/refunds", "/api/v1/sales/{id}/refunds", `{"amount":100}`, []reqOpt{bearer, withPIN("0000")}},
		{"POST", "/api/v1/sales/" + paid.ID + "/reprint", "/api/v1/sales/{id}/reprint", "", []reqOpt{bearer}},
		{"POST", "/api/v1/sales/" + open.ID + "/qr", "/api/v1/sales/{id}/qr", "", []reqOpt{bearer}},
		{"GET", "/api/v1/sales/" + open.ID + "/qr.svg", "/api/v1/sales/{id}/qr.svg", "", []reqOpt{bearer}},
		{"POST", "/api/v1/demo/customer-pays", "", `{"sale_id":"` + open.ID + `"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/scan", "", `{"code":"134567890123456789"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/scan", "", `{"code":"4006381333931"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/sales/" + qr.ID + "/qr", "/api/v1/sales/{id}/qr", "", []reqOpt{bearer}},
		{"POST", "/api/v1/sales/nope/qr", "/api/v1/sales/{id}/qr", "", []reqOpt{bearer}},
		{"GET", "/api/v1/sales/" + qr.ID + "/qr.svg", "/api/v1/sales/{id}/qr.svg", "", []reqOpt{bearer}},
		{"GET", "/api/v1/sales/" + qr.ID + "/qr.svg", "/api/v1/sales/{id}/qr.svg", "", nil},
		{"GET", "/api/v1/sales/" + paid.ID + "/qr.svg", "/api/v1/sales/{id}/qr.svg", "", []reqOpt{bearer}},
		{"POST", "/api/v1/demo/customer-pays", "", `{"sale_id":"` + qr.ID + `"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/demo/customer-pays", "", `{"sale_id":"` + qr.ID + `"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/demo/customer-pays", "", `{"sale_id":"` + paid.ID + `"}`, []reqOpt{bearer}},
		{"POST", "/api/v1/login-links", "", "", []reqOpt{bearer}},
		{"POST", "/api/v1/login-links", "", `{}`, asPage},
		{"POST", "/api/v1/login-links", "", "", nil},
		{"GET", link, "", "", nil},
		{"GET", link, "", "", nil},             // used already
		{"GET", "/api/v1/events", "", "", nil}, // a stream that answers is in TestAPI_Events
		{"GET", "/api/v1/status", "", "", []reqOpt{bearer}},
		{"GET", "/api/v1/demo", "", "", []reqOpt{bearer}},
		{"GET", "/api/v1/receipts", "", "", []reqOpt{bearer}},
		{"GET", "/api/v1/receipts/nope.png", "/api/v1/receipts/{file}", "", []reqOpt{bearer}},
		{"GET", "/api/v1/jobs", "", "", []reqOpt{bearer, pin}},
		{"GET", "/api/v1/jobs", "", "", []reqOpt{bearer}},
		{"GET", "/api/v1/logs?level=loud", "/api/v1/logs", "", []reqOpt{bearer, pin}},
		{"GET", "/api/v1/logs", "", "", []reqOpt{bearer, pin}},
		{"GET", "/api/v1/devices", "", "", []reqOpt{bearer, pin}},
		{"GET", "/api/v1/reports/day", "", "", []reqOpt{bearer, pin}},
		{"POST", "/api/v1/reports/day/print", "", "", []reqOpt{bearer, pin}},
		{"GET", "/api/v1/reports/reconciliation", "", "", []reqOpt{bearer, pin}},
		{"POST", "/api/v1/reports/reconciliation", "", "", []reqOpt{bearer, pin}},
		{"GET", "/api/v1/export/journal?format=csv", "/api/v1/export/journal", "", []reqOpt{bearer, pin}},
		{"GET", "/api/v1/export/journal?format=xml", "/api/v1/export/journal", "", []reqOpt{bearer, pin}},
		{"GET", "/ui/session", "", "", nil},
		{"POST", "/ui/login", "", `{"token":"wrong"}`, nil},
		{"POST", "/ui/logout", "", `{}`, nil},
		{"GET", "/healthz", "", "", nil},
		{"GET", "/metrics", "", "", nil},
		{"GET", "/healthz", "", "", []reqOpt{withRemote("192.168.1.20:4000")}},
		{"GET", "/metrics", "", "", []reqOpt{withRemote("192.168.1.20:4000")}},
	}
	// Calls to the till without QR Code Payment, not the demo.
	plainCalls := []call{
		{"POST", "/api/v1/sales/" + plainSale.ID + "/qr", "/api/v1/sales/{id}/qr", "", []reqOpt{bearer}},
		{"POST", "/api/v1/demo/customer-pays", "", `{"sale_id":"` + plainSale.ID + `"}`, []reqOpt{bearer}},
	}
	type run struct {
		on *env
		call
	}
	var runs []run
	for _, c := range calls {
		runs = append(runs, run{e, c})
	}
	for _, c := range plainCalls {
		runs = append(runs, run{plain, c})
	}
	hit := map[string]bool{}
	for _, c := range runs {
		doc := c.doc
		if doc == "" {
			doc, _, _ = strings.Cut(c.path, "?")
		}
		op, ok := d.Paths[doc][strings.ToLower(c.method)]
		if !ok {
			t.Errorf("%s %s: not documented", c.method, doc)
			continue
		}
		hit[c.method+" "+doc] = true
		w := c.on.do(c.method, c.path, c.body, c.opts...)
		st := strconv.Itoa(w.Code)
		r, ok := op.Responses[st]
		if !ok {
			t.Errorf("%s %s answered %s, not documented (%s)", c.method, c.path, st, strings.TrimSpace(w.Body.String()))
			continue
		}
		if w.Code >= 400 && w.Header().Get("Content-Type") == "application/json; charset=utf-8" {
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Errorf("%s %s: %v", c.method, c.path, err)
				continue
			}
			if codes := d.errorsOf(r); !slices.Contains(codes, body.Error.Code) {
				t.Errorf("%s %s answered %s %s; documented codes for %s: %v", c.method, c.path, st, body.Error.Code, st, codes)
			}
		}
	}
	for _, r := range served(e.srv) {
		if !hit[r] {
			t.Errorf("%s is never called by this test", r)
		}
	}
}

// TestDocsNameEveryCode: the package doc and docs/api.md list every error code the API
// answers (they are read by people who have no OpenAPI tooling).
func TestDocsNameEveryCode(t *testing.T) {
	for _, f := range []string{"doc.go", "../docs/api.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range Codes() {
			if c == CodeScanFailed && f == "doc.go" {
				continue // a notice's code, not an answer
			}
			if !strings.Contains(string(b), c) {
				t.Errorf("%s does not name the code %s", f, c)
			}
		}
	}
}
