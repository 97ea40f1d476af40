package wxpaytest

import (
	"fmt"
	"time"
)

// Endpoint names one logical API call, the same in both dialects.
type Endpoint string

const (
	EPMicroPay     Endpoint = "micropay"
	EPQuery        Endpoint = "query"
	EPReverse      Endpoint = "reverse"
	EPRefund       Endpoint = "refund"
	EPRefundQuery  Endpoint = "refundquery"
	EPStatement    Endpoint = "statement"
	EPCertificates Endpoint = "certificates"
)

// FaultKind is what goes wrong. See Fault for the fields each kind reads.
type FaultKind int

const (
	// FaultUserPaying (micropay): the order waits in USERPAYING for Fault.For (sim clock),
	// then becomes Fault.Then (SUCCESS when empty; PAYERROR or NOTPAY = the customer
	// cancelled or did nothing; CLOSED = WeChat closed the expired order). The micropay
	// answer is USERPAYING.
	FaultUserPaying FaultKind = iota + 1
	// FaultUserPayingForever (micropay): USERPAYING until reversed.
	FaultUserPayingForever
	// FaultSystemError: answer SYSTEMERROR (v3: 500 SYSTEM_ERROR). With Processed the
	// request is carried out first (a micropay is paid, a reverse reverses, ...).
	FaultSystemError
	// FaultBankError: like FaultSystemError with BANKERROR (v3: 500 BANK_ERROR).
	FaultBankError
	// FaultLost: the request is processed, then the connection is dropped without an answer.
	FaultLost
	// FaultDrop: the connection is dropped without processing the request.
	FaultDrop
	// FaultHang: no answer until the client gives up (or the server closes). Processed
	// decides whether the request took effect.
	FaultHang
	// FaultSlow: the answer is delayed by Fault.Delay of real time (for deadline tests).
	FaultSlow
	// FaultHTTP: answer HTTP Fault.Status (default 503) with a JSON error body (v3) or the
	// bare status (v2). Processed decides whether the request took effect.
	FaultHTTP
	// FaultRateLimit: answer 429 (v3 RATELIMIT_EXCEEDED; v2 FREQUENCY_LIMITED); not processed.
	FaultRateLimit
	// FaultForged: the answer's signature does not verify. Without Processed the request is
	// not carried out and the body claims success anyway (a forged "paid"); with Processed
	// the true answer is sent with a broken signature.
	FaultForged
	// FaultReverseRetry (reverse): the reverse is refused as retryable (v2 result FAIL
	// SYSTEMERROR recall=Y; v3 500 SYSTEM_ERROR) and not carried out.
	FaultReverseRetry
	// FaultFail (micropay): a final business failure with Fault.Code (v2 spelling, e.g.
	// NOTENOUGH, AUTHCODEEXPIRE, AUTH_CODE_INVALID, ORDERREVERSED, NOTSUPORTCARD,
	// TRADE_ERROR). The order is recorded as PAYERROR; no money moves.
	FaultFail
	// FaultMainlandWallet (micropay): paid by a mainland wallet in CNY at Options.CNYRate.
	FaultMainlandWallet
	// FaultSlowUplink (micropay): the request reaches WeChat Fault.Delay after it was sent
	// (a congested 4G link, a slow handshake): the simulator waits Delay on its own clock
	// (Options.Sleep) before it reads the time and creates the order. If the client gives
	// up meanwhile, the request never arrived. The 15 s reverse floor counts from the
	// order's creation, so a client counting from its own send breaks it.
	FaultSlowUplink
)

var faultNames = map[FaultKind]string{
	FaultUserPaying: "userpaying", FaultUserPayingForever: "userpaying-forever",
	FaultSystemError: "systemerror", FaultBankError: "bankerror", FaultLost: "lost",
	FaultDrop: "drop", FaultHang: "hang", FaultSlow: "slow", FaultHTTP: "http",
	FaultRateLimit: "ratelimit", FaultForged: "forged", FaultReverseRetry: "reverse-retry",
	FaultFail: "fail", FaultMainlandWallet: "mainland-wallet", FaultSlowUplink: "slow-uplink",
}

func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return fmt.Sprintf("fault(%d)", int(k))
}

// FaultKinds lists every kind, for property tests that draw faults at random.
func FaultKinds() []FaultKind {
	out := make([]FaultKind, 0, len(faultNames))
	for k := FaultUserPaying; k <= FaultSlowUplink; k++ {
		out = append(out, k)
	}
	return out
}

// FinalFailCodes are the micropay refusals FaultFail accepts (v2 spelling; the v3 answer
// uses the mapped code, see README.md).
var FinalFailCodes = []string{"NOTENOUGH", "AUTHCODEEXPIRE", "AUTH_CODE_INVALID", "AUTH_CODE_ERROR",
	"NOTSUPORTCARD", "TRADE_ERROR", "ORDERREVERSED", "ORDERCLOSED", "BUYER_MISMATCH", "PARAM_ERROR", "NOAUTH"}

// Fault is one scripted misbehaviour. A script is a list of faults; each request to an
// endpoint takes the first fault of the script whose Endpoint matches and that has uses
// left, and consumes one use. A fault for another endpoint never blocks.
type Fault struct {
	Kind FaultKind
	// Endpoint the fault hits. Empty means micropay, except FaultReverseRetry (reverse).
	Endpoint Endpoint
	// N is how many requests the fault applies to: 0 means once, -1 means every time.
	N int
	// For: FaultUserPaying duration on the simulator clock.
	For time.Duration
	// Then: FaultUserPaying final state: "" or SUCCESS, PAYERROR, NOTPAY, CLOSED.
	Then string
	// Processed: for SystemError, BankError, Hang, HTTP, Forged: the request took effect.
	Processed bool
	// Code: FaultFail business code (v2 spelling).
	Code string
	// Status: FaultHTTP status code (default 503).
	Status int
	// Delay: FaultSlow real-time delay; FaultSlowUplink delay on the simulator clock.
	Delay time.Duration
}

func (f Fault) endpoint() Endpoint {
	if f.Endpoint != "" {
		return f.Endpoint
	}
	if f.Kind == FaultReverseRetry {
		return EPReverse
	}
	return EPMicroPay
}

func (f Fault) String() string {
	s := f.Kind.String() + "@" + string(f.endpoint())
	switch f.Kind {
	case FaultUserPaying:
		s += fmt.Sprintf("(%s→%s)", f.For, nz(f.Then, "SUCCESS"))
	case FaultFail:
		s += "(" + f.Code + ")"
	case FaultHTTP:
		s += fmt.Sprintf("(%d)", f.Status)
	case FaultSlowUplink:
		s += fmt.Sprintf("(%s)", f.Delay)
	}
	if f.Processed {
		s += "+processed"
	}
	if f.N != 0 {
		s += fmt.Sprintf("×%d", f.N)
	}
	return s
}

// Match selects the order a script applies to: by out_trade_no, or by the payment code
// (tests know the code before the engine picks an out_trade_no). Set exactly one.
type Match struct {
	OutTradeNo string
	AuthCode   string
	// NativeAmount binds the script to the first QR (native) order of this amount, for
	// tests that cannot know the out_trade_no before the order leaves.
	NativeAmount int64
}

// scripted is one fault with its remaining uses.
type scripted struct {
	f    Fault
	left int // -1 = unlimited
}

type script struct{ items []*scripted }

func newScript(faults []Fault) *script {
	s := &script{}
	for _, f := range faults {
		n := f.N
		if n == 0 {
			n = 1
		}
		s.items = append(s.items, &scripted{f: f, left: n})
	}
	return s
}

// take consumes and returns the first fault for ep, if any.
func (s *script) take(ep Endpoint) (Fault, bool) {
	if s == nil {
		return Fault{}, false
	}
	for _, it := range s.items {
		if it.left == 0 || it.f.endpoint() != ep {
			continue
		}
		if it.left > 0 {
			it.left--
		}
		return it.f, true
	}
	return Fault{}, false
}

// Outage is a window of simulator time during which every request is refused.
type Outage struct {
	From, Until time.Time
	// Status: 0 drops every connection (new ones at accept, requests on kept-alive ones
	// unprocessed); otherwise every request is answered with this HTTP status, unprocessed.
	Status int
}

func nz(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RandomFault draws one fault for a property test. pick(n) must return an int in [0, n):
// rand.Intn, or with rapid: func(n int) int { return rapid.IntRange(0, n-1).Draw(t, "f") }.
// Durations are whole seconds up to 60 (sim clock) and real delays stay under 50 ms, so a
// generated schedule never slows a test down.
func RandomFault(pick func(n int) int) Fault {
	kinds := FaultKinds()
	f := Fault{Kind: kinds[pick(len(kinds))]}
	eps := []Endpoint{EPMicroPay, EPQuery, EPReverse, EPRefund}
	switch f.Kind {
	case FaultUserPaying:
		f.For = time.Duration(pick(61)) * time.Second
		f.Then = []string{StateSuccess, StatePayError, StateNotPay, StateClosed}[pick(4)]
	case FaultFail:
		f.Code = FinalFailCodes[pick(len(FinalFailCodes))]
	case FaultReverseRetry:
		f.N = 1 + pick(3)
	case FaultHTTP:
		f.Status = []int{500, 502, 503, 504}[pick(4)]
		f.Endpoint = eps[pick(len(eps))]
		f.Processed = pick(2) == 1
	case FaultSlow:
		f.Delay = time.Duration(pick(50)) * time.Millisecond
		f.Endpoint = eps[pick(len(eps))]
	case FaultSlowUplink:
		// Real time by default (Options.Sleep): keep it short here.
		f.Delay = time.Duration(pick(50)) * time.Millisecond
	case FaultSystemError, FaultBankError, FaultHang, FaultForged:
		f.Processed = pick(2) == 1
		f.Endpoint = eps[pick(len(eps))]
	case FaultLost, FaultDrop, FaultRateLimit:
		f.Endpoint = eps[pick(len(eps))]
	}
	if f.Kind == FaultBankError {
		f.Endpoint = EPMicroPay
	}
	return f
}
