package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"posd/queue/engine"
)

// Security review: code_hash was SHA-256 of a guessable salt and the code, so the journal
// gave codes back. With Config.CodeHashes (posd: HMAC under a key kept outside the
// journal) the first hash is stored and every one is looked up, so a code hashed under
// the previous key is still refused after a key rotation.
func TestCodeHashes(t *testing.T) {
	key := "new"
	hashes := func(code string) []string {
		out := []string{"hmac:" + key + ":" + code}
		if key == "new" {
			out = append(out, "hmac:old:"+code) // the previous key, within the overlap
		}
		return out
	}
	h := newHarness(t, func(c *engine.Config) { c.CodeHashes = hashes })
	code := newCode()
	s, err := h.e.OpenSale(context.Background(), engine.OpenSaleRequest{Amount: 100, AuthCode: code})
	if err != nil {
		t.Fatal(err)
	}
	a := s.Attempts[0]
	legacy := sha256.Sum256([]byte("posd-code/" + h.cfg.StoreID + "/" + h.cfg.TillID + "\x00" + code))
	if a.CodeHash != "hmac:new:"+code || a.CodeHash == hex.EncodeToString(legacy[:]) {
		t.Fatalf("stored hash %q", a.CodeHash)
	}
	other := h.open(100)
	_, err = h.e.Pay(context.Background(), other.ID, code)
	wantCode(t, err, "code_used")

	// A code used under the old key is refused under the new one.
	old := newCode()
	key = "old"
	third := h.open(100)
	if _, err := h.e.Pay(context.Background(), third.ID, old); err != nil {
		t.Fatal(err)
	}
	key = "new"
	_, err = h.e.Pay(context.Background(), other.ID, old)
	wantCode(t, err, "code_used")
}
