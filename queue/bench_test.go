package queue

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"posd/queue/engine"
)

func init() {
	childModes["open"] = openAndMeasure
}

// buildJournal writes a journal of n sales at path: n-open closed ones (paid or
// cancelled, one or two attempts, spread over 450 days) and `open` ones with an attempt
// in flight, like a till after years of trading and a crash. It is the fixture of the
// open-to-ready measurements; it skips per-batch fsync (and bbolt's fsync on growing the
// file) and syncs once at the end.
func buildJournal(path string, n, open int) error {
	db, err := Open(path, Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	db.bolt.NoSync, db.bolt.NoGrowSync = true, true
	start := time.Date(2025, 8, 1, 0, 0, 0, 0, db.Location())
	step := 450 * 24 * time.Hour / time.Duration(n)
	const batch = 10000
	for i := 0; i < n; i += batch {
		err := db.Update(func(tx engine.Tx) error {
			for k := i; k < i+batch && k < n; k++ {
				created := start.Add(time.Duration(k) * step)
				id := fmt.Sprintf("HK001-T01-%s-%d", created.Format("060102"), k+1)
				s := paidSale(id, created)
				h := sha256.Sum256([]byte(id))
				s.Attempts[0].OutTradeNo = benchOutTradeNo("HK001", "T01", created, uint64(2*k+1))
				s.Attempts[0].CodeHash = hex.EncodeToString(h[:16])
				s.Reference = "order " + strconv.Itoa(k)
				switch {
				case k >= n-open:
					s.State = engine.SalePaying
					s.Attempts[0].State = engine.AttemptUnresolved
				case k%10 == 0: // a declined code, then a good one
					a := s.Attempts[0]
					a.OutTradeNo = benchOutTradeNo("HK001", "T01", created, uint64(2*k+2))
					a.CodeHash += "x"
					s.Attempts[0].State = engine.AttemptFailed
					s.Attempts[0].Error = &engine.ErrorInfo{Code: "NOTENOUGH", Message: "The customer's balance is not enough."}
					s.Attempts = append(s.Attempts, a)
				case k%50 == 1:
					s.State = engine.SaleCancelled
					s.Attempts[0].State = engine.AttemptReversed
				}
				if err := tx.PutSale(s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	db.bolt.NoSync, db.bolt.NoGrowSync = false, false
	return db.bolt.Sync()
}

// BenchmarkPutSale is the journal's share of one happy-path attempt: Update 1 journals the
// intent (NextSeq for the out_trade_no, the sale paying), Update 2 the outcome (paid).
// Both fsync. Reports commits per attempt; each bbolt commit is two fdatasync(2) calls
// (data pages, then the meta page).
func BenchmarkPutSale(b *testing.B) {
	db := mustOpen(b)
	// A journal with history, so the B+trees are not trivially small.
	put(b, db, paidSale("warm", t0))
	before := db.Commits()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("HK001-T01-261126-%d", i)
		s := paidSale(id, t0.Add(time.Duration(i)*time.Second))
		s.State, s.Attempts[0].State = engine.SalePaying, engine.AttemptPaying
		err := db.Update(func(tx engine.Tx) error {
			seq, err := tx.NextSeq()
			if err != nil {
				return err
			}
			s.Attempts[0].OutTradeNo = benchOutTradeNo("HK001", "T01", s.CreatedAt, seq)
			return tx.PutSale(s)
		})
		if err != nil {
			b.Fatal(err)
		}
		s.State, s.Attempts[0].State = engine.SalePaid, engine.AttemptPaid
		if err := db.Update(func(tx engine.Tx) error { return tx.PutSale(s) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(db.Commits()-before)/float64(b.N), "commits/attempt")
	b.ReportMetric(2*float64(db.Commits()-before)/float64(b.N), "fdatasync/attempt")
}

// BenchmarkOpen1M: a journal of 1,000,000 sales (built once, cached in the temp dir as
// posd-bench/journal-1m-v1.db), opened by a fresh process that lists the open sales, as
// posd does before READY. Reported: open → OpenSales ready in ms, with the file's pages
// evicted from the page cache first (cold) and not (warm), and the process's RSS. Targets
// (issue 3): ≤ 300 ms and ≤ 40 MB.
func BenchmarkOpen1M(b *testing.B) {
	benchOpen(b, 1_000_000, 25)
}

func benchOpen(b *testing.B, n, open int) {
	dir := filepath.Join(os.TempDir(), "posd-bench")
	path := filepath.Join(dir, fmt.Sprintf("journal-%d-v1.db", n))
	if _, err := os.Stat(path); err != nil {
		b.Logf("building %s (once; it is cached)", path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		tmp := path + ".tmp"
		os.Remove(tmp)
		start := time.Now()
		if err := buildJournal(tmp, n, open); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("built in %v", time.Since(start))
	}
	b.ResetTimer()
	var coldMS, warmMS, rssMB, hwmMB float64
	for i := 0; i < b.N; i++ {
		cold := measureOpen(b, path, open, true)
		warm := measureOpen(b, path, open, false)
		coldMS += cold.ms
		warmMS += warm.ms
		rssMB = max(rssMB, cold.rssKB/1024, warm.rssKB/1024)
		hwmMB = max(hwmMB, cold.hwmKB/1024, warm.hwmKB/1024)
	}
	b.ReportMetric(coldMS/float64(b.N), "ms-ready-cold")
	b.ReportMetric(warmMS/float64(b.N), "ms-ready-warm")
	b.ReportMetric(rssMB, "MB-rss")
	b.ReportMetric(hwmMB, "MB-rss-peak")
	if st, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "MB-file")
	}
	if warmMS/float64(b.N) > 300 || hwmMB > 40 {
		b.Errorf("open → ready %.0f ms (target ≤ 300), peak RSS %.1f MB (target ≤ 40)", warmMS/float64(b.N), hwmMB)
	}
}

type openResult struct{ ms, rssKB, hwmKB float64 }

func measureOpen(b *testing.B, path string, open int, cold bool) openResult {
	b.Helper()
	if cold {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		// Evict only this file's pages: a cold start without disturbing the machine.
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Logf("fadvise: %v (cold numbers are warm)", err)
		}
		f.Close()
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=open:"+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	var r openResult
	var gotOpen int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "ms=%g rss_kb=%g hwm_kb=%g open=%d", &r.ms, &r.rssKB, &r.hwmKB, &gotOpen); err != nil {
		b.Fatalf("child said %q: %v", out, err)
	}
	if gotOpen != open {
		b.Fatalf("child found %d open sales, want %d", gotOpen, open)
	}
	return r
}

// openAndMeasure is the child of benchOpen: open, list open sales, report time and memory.
func openAndMeasure(path string) int {
	start := time.Now()
	db, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var n int
	err = db.View(func(tx engine.ReadTx) error {
		sales, err := tx.OpenSales()
		n = len(sales)
		return err
	})
	ms := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rss, hwm := procStatus("VmRSS:"), procStatus("VmHWM:")
	db.Close()
	fmt.Printf("ms=%.2f rss_kb=%d hwm_kb=%d open=%d\n", ms, rss, hwm, n)
	return 0
}

func procStatus(field string) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			v, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return v
		}
	}
	return -1
}

// benchOutTradeNo is engine.OutTradeNo for the benchmark's fixed, valid ids.
func benchOutTradeNo(store, till string, day time.Time, seq uint64) string {
	s, err := engine.OutTradeNo(store, till, day, seq)
	if err != nil {
		panic(err)
	}
	return s
}
