package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowed lists, for every package of the module, the module's packages it may import
// (non-test code). Read it bottom-up: wxpay (the payment vocabulary) and printer (ESC/POS)
// import nothing of posd; the engine imports wxpay; storage, reports and adapters import
// the engine; the internal packages wire them; cmd/posd wires the internal packages.
var allowed = map[string][]string{
	"posd/wxpay":                   nil,
	"posd/wxpay/wxpaytest":         {"posd/wxpay"},
	"posd/printer":                 nil,
	"posd/printer/printertest":     {"posd/printer"},
	"posd/scanner":                 {"posd/wxpay"}, // masking of codes in errors
	"posd/queue/engine":            {"posd/wxpay"},
	"posd/queue/engine/enginetest": {"posd/queue/engine", "posd/wxpay"},
	// queue is the engine's Store over bbolt: it implements engine's interfaces on
	// engine's types (queue/doc.go explains why the parent imports its child).
	"posd/queue":             {"posd/queue/engine"},
	"posd/queue/report":      {"posd/queue/engine", "posd/wxpay"},
	"posd/ui":                {"posd/queue/engine", "posd/queue/report", "posd/wxpay"},
	"posd/internal/check":    nil,
	"posd/internal/discard":  nil,
	"posd/internal/logging":  {"posd/wxpay"},
	"posd/internal/demo":     {"posd/internal/config", "posd/scanner", "posd/wxpay/wxpaytest"},
	"posd/internal/manager":  {"posd/internal/config", "posd/internal/daemon", "posd/queue", "posd/queue/report", "posd/wxpay"},
	"posd/internal/manpage":  nil, // posd(8) and posd.toml(5) from the usage text and flags cmd/posd passes in
	"posd/internal/config":   {"posd/internal/logging", "posd/printer", "posd/queue/engine", "posd/scanner", "posd/wxpay"},
	"posd/internal/monitor":  {"posd/internal/config", "posd/printer", "posd/queue/engine", "posd/queue/report", "posd/scanner", "posd/ui", "posd/wxpay"},
	"posd/internal/receipts": {"posd/printer", "posd/queue/engine", "posd/queue/report", "posd/ui", "posd/wxpay"},
	"posd/internal/daemon": {"posd/internal/config", "posd/internal/logging", "posd/internal/monitor", "posd/internal/receipts",
		"posd/printer", "posd/queue", "posd/queue/engine", "posd/queue/report", "posd/scanner", "posd/ui", "posd/wxpay"},
	"posd/internal/archtest": nil,
	"posd/internal/testkit":  nil, // helpers for tests only
	"posd/internal/cpuhog":   nil, // make stress: a CPU hog for the loaded-till test runs
	"posd/cmd/posd": {"posd/internal/config", "posd/internal/daemon", "posd/internal/logging", "posd/internal/demo", "posd/internal/manager", "posd/internal/manpage",
		"posd/printer", "posd/queue", "posd/queue/report", "posd/scanner", "posd/wxpay", "posd/wxpay/wxpaytest"},
}

// leaves are the module's two tiny leaf packages, which any package may import: the shape
// of a configuration problem (every section of posd.toml returns them) and the one
// discard logger.
var leaves = []string{"posd/internal/check", "posd/internal/discard"}

// confined are third-party modules only some packages may import: cgo and hardware in the
// adapters that drive it, the bbolt file in storage and the print spool, Prometheus in
// monitoring.
var confined = map[string][]string{
	"github.com/karalabe/hid":             {"posd/scanner"},
	"go.bug.st/serial":                    {"posd/scanner", "posd/printer"},
	"go.etcd.io/bbolt":                    {"posd/queue", "posd/printer"},
	"github.com/prometheus/client_golang": {"posd/internal/monitor", "posd/internal/daemon"},
	"github.com/BurntSushi/toml":          {"posd/internal/config", "posd/scanner", "posd/printer"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "posd/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < len(allowed)/2 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// inModule reports whether path belongs to module (the module itself or below it).
func inModule(path, module string) bool {
	return path == module || strings.HasPrefix(path, module+"/")
}

// TestImports: every import between posd's packages is in the allowed table, and the
// confined modules are imported only where the table says.
func TestImports(t *testing.T) {
	for _, p := range listPackages(t) {
		ok, known := allowed[p.ImportPath]
		if !known {
			t.Errorf("%s is not in the import table of internal/archtest: add it with the packages it may import", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if inModule(imp, "posd") && !slices.Contains(ok, imp) && !slices.Contains(leaves, imp) {
				t.Errorf("%s imports %s: not allowed (an arrow pointing up or sideways; see README, Architecture)", p.ImportPath, imp)
			}
			for mod, users := range confined {
				if inModule(imp, mod) && !slices.Contains(users, p.ImportPath) {
					t.Errorf("%s imports %s: only %s may", p.ImportPath, imp, strings.Join(users, ", "))
				}
			}
		}
	}
}

// TestEngineStaysPure: the payment engine, with everything it pulls in, never reaches
// the storage engine, the hardware or the HTTP server side: it can be tested alone and
// ported to another till.
func TestEngineStaysPure(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != "posd/queue/engine" {
			continue
		}
		for _, d := range p.Deps {
			for _, banned := range []string{"go.etcd.io/bbolt", "github.com/karalabe/hid", "go.bug.st/serial", "posd/queue", "posd/printer", "posd/scanner", "posd/ui", "posd/internal"} {
				if slices.Contains(leaves, d) || strings.HasPrefix(d, "posd/queue/engine") {
					continue
				}
				if d == banned || strings.HasPrefix(d, banned+"/") {
					t.Errorf("posd/queue/engine depends on %s", d)
				}
			}
		}
		return
	}
	t.Fatal("posd/queue/engine not found")
}
