package scanner

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"go.bug.st/serial"
)

// reportLatency reports the 50th and 99th percentile and the maximum of ds, in
// microseconds, with the unit prefixed by what.
func reportLatency(b *testing.B, what string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	pct := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(float64(len(ds))*p))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), what+"p50-µs")
	b.ReportMetric(pct(0.99), what+"p99-µs")
	b.ReportMetric(float64(ds[len(ds)-1].Nanoseconds())/1e3, what+"max-µs")
}

// delivered is a scan as the handler saw it, and when.
type delivered struct {
	scan Scan
	at   time.Time
}

func benchSupervisor(b *testing.B, devices []Device, configs []Config) (chan delivered, func()) {
	got := make(chan delivered, 1)
	sup, err := NewSupervisor(configs, Options{
		Extra:      devices,
		Handler:    func(s Scan) { got <- delivered{s, time.Now()} },
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	for !sup.Status()[0].Connected {
		time.Sleep(time.Millisecond)
	}
	return got, func() { cancel(); <-done }
}

// From the terminator written into a pseudo-terminal to the code in the handler: the
// kernel's pty (its flip-buffer work runs in a kworker, which a loaded machine delays), the
// serial read, the framer, the supervisor (dedup, status) and the handler call. "posd-" is
// the part after the read returned (Scan.At to the handler), which is all our code.
func BenchmarkSerialLatency(b *testing.B) {
	master, path := newPTY(b)
	got, stop := benchSupervisor(b, nil, []Config{{Name: "s", Kind: "serial", Device: path}})
	defer stop()
	ds := make([]time.Duration, 0, b.N)
	ours := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		io.WriteString(master, fmt.Sprintf("13%016d", i)) // distinct codes: no dedup
		time.Sleep(200 * time.Microsecond)                // the code's bytes arrive first
		start := time.Now()
		io.WriteString(master, "\r")
		var d delivered
		select {
		case d = <-got:
		case <-time.After(10 * time.Second):
			b.Fatalf("code %d lost", i)
		}
		ds = append(ds, d.at.Sub(start))
		ours = append(ours, d.at.Sub(d.scan.At))
	}
	b.StopTimer()
	reportLatency(b, "", ds)
	reportLatency(b, "posd-", ours)
}

// From the Enter report returned by the HID read to the code in the handler: the owner
// goroutine, the keyboard decoder, the supervisor and the handler call. (The scanner's own
// inter-key timing is not ours and is excluded.)
func BenchmarkHIDKeyboardLatency(b *testing.B) {
	dev := newFakeHID(b)
	dec, err := keyboardReportDecoder(Config{}, OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := Device{Name: "k", Kind: "hid", Open: func(ctx context.Context) (Source, error) {
		return startHIDSource("k", "1-2:1.0", dev, dec, OpenOptions{}), nil
	}}
	got, stop := benchSupervisor(b, []Device{d}, nil)
	defer stop()
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reps := typeCode(b, Keymaps["us"], fmt.Sprintf("13%016d", i), typeOpts{})
		for _, r := range reps[:len(reps)-2] {
			dev.reports <- r.data
		}
		for len(dev.reports) > 0 {
			time.Sleep(50 * time.Microsecond)
		}
		start := time.Now()
		dev.reports <- reps[len(reps)-2].data // Enter down
		var d delivered
		select {
		case d = <-got:
		case <-time.After(10 * time.Second):
			b.Fatalf("code %d lost", i)
		}
		ds = append(ds, d.at.Sub(start))
		dev.reports <- reps[len(reps)-1].data
	}
	b.StopTimer()
	reportLatency(b, "", ds)
}

func BenchmarkKeyboardDecoder(b *testing.B) {
	reps := typeCode(b, Keymaps["us"], testCode, typeOpts{})
	d := NewKeyboardDecoder(nil, 0)
	n := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, r := range reps {
			d.Feed(r.data, t0, func(string) { n++ })
		}
	}
	if n != b.N {
		b.Fatalf("%d codes for %d iterations", n, b.N)
	}
}

func BenchmarkPOSDecoder(b *testing.B) {
	reps := posReports(LayoutHoneywell, "]Q1", []byte(testCode), false, 's')
	d := NewPOSDecoder(LayoutHoneywell, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, r := range reps {
			d.Feed(r.data, t0, func(string, string) {})
		}
	}
}

func BenchmarkFramer(b *testing.B) {
	in := []byte("]Q1" + testCode + "\r\n")
	var f Framer
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for i := 0; i < b.N; i++ {
		f.Feed(in, func([]byte, error) {})
	}
}

// The floor under BenchmarkSerialLatency: the same writes, read by a goroutine blocked in
// go.bug.st/serial's Read, timed from the terminator written to the Read returning it, with
// no posd code in between (the kernel's pty and the Go runtime's wake-up of the reader).
func BenchmarkPTYBaseline(b *testing.B) {
	master, path := newPTY(b)
	port, err := serial.Open(path, &serial.Mode{BaudRate: 9600})
	if err != nil {
		b.Fatal(err)
	}
	defer port.Close()
	got := make(chan time.Time, 1)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := port.Read(buf)
			if err != nil {
				return
			}
			if n > 0 && buf[n-1] == '\r' {
				got <- time.Now()
			}
		}
	}()
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		io.WriteString(master, fmt.Sprintf("13%016d", i))
		time.Sleep(200 * time.Microsecond)
		start := time.Now()
		io.WriteString(master, "\r")
		select {
		case end := <-got:
			ds = append(ds, end.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatal("terminator lost")
		}
	}
	b.StopTimer()
	reportLatency(b, "", ds)
}
