package printer

import (
	"context"
	"sync"
	"time"
)

// Virtual is an in-memory printer: the demo's receipt printer (the UI shows its receipts
// through DecodeText and RenderPNG) and the fake for tests. Its status and failures are
// set by hand.
type Virtual struct {
	mu        sync.Mutex
	receipts  []VirtualReceipt
	seq       int
	keep      int
	status    Status
	statusErr error
	hook      func(ctx context.Context, job []byte) error
	notify    func(VirtualReceipt)
}

// VirtualReceipt is one job the virtual printer received.
type VirtualReceipt struct {
	Seq  int       `json:"seq"`
	At   time.Time `json:"at"`
	Data []byte    `json:"-"`
}

// NewVirtual returns a ready virtual printer that keeps the last keep jobs (default 200).
func NewVirtual(keep int) *Virtual {
	if keep <= 0 {
		keep = 200
	}
	return &Virtual{keep: keep}
}

// SetStatus sets what Status answers: a status, or an error (e.g. ErrNoStatus).
func (v *Virtual) SetStatus(s Status, err error) {
	v.mu.Lock()
	v.status, v.statusErr = s, err
	v.mu.Unlock()
}

// SetWriteHook runs fn before each job is kept; an error from fn fails the job (and the
// job is not kept). Tests use it to block, slow down or break the printer.
func (v *Virtual) SetWriteHook(fn func(ctx context.Context, job []byte) error) {
	v.mu.Lock()
	v.hook = fn
	v.mu.Unlock()
}

// OnPrint calls fn (outside the lock) for every job kept, e.g. to push it to the UI.
func (v *Virtual) OnPrint(fn func(VirtualReceipt)) {
	v.mu.Lock()
	v.notify = fn
	v.mu.Unlock()
}

func (v *Virtual) Write(ctx context.Context, job []byte) error {
	v.mu.Lock()
	hook := v.hook
	v.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, job); err != nil {
			return err
		}
	}
	v.mu.Lock()
	v.seq++
	r := VirtualReceipt{Seq: v.seq, At: time.Now(), Data: append([]byte(nil), job...)}
	v.receipts = append(v.receipts, r)
	if len(v.receipts) > v.keep {
		v.receipts = append([]VirtualReceipt(nil), v.receipts[len(v.receipts)-v.keep:]...)
	}
	notify := v.notify
	v.mu.Unlock()
	if notify != nil {
		notify(r)
	}
	return nil
}

func (v *Virtual) Status(ctx context.Context) (Status, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.statusErr != nil {
		return Status{}, v.statusErr
	}
	s := v.status
	s.At = time.Now()
	return s, nil
}

func (v *Virtual) Close() error { return nil }

// Receipts returns the kept jobs, oldest first.
func (v *Virtual) Receipts() []VirtualReceipt {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]VirtualReceipt(nil), v.receipts...)
}
