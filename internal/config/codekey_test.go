package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The code_hash key is made at the first start (0600, outside the journal), kept across
// starts, refused when others can read it; a rotation keeps the previous key matching for
// the overlap, then drops it.
func TestCodeKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "code_key")
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	keys, err := LoadCodeKeys(path, now, true)
	if err != nil || len(keys) != 1 || len(keys[0].key) != 32 {
		t.Fatalf("first start: %v %v", keys, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	again, err := LoadCodeKeys(path, now, true)
	if err != nil || len(again) != 1 || !hmac.Equal(again[0].key, keys[0].key) {
		t.Fatalf("second start: %v", err)
	}
	if _, err := LoadCodeKeys(filepath.Join(dir, "missing"), now, false); err == nil {
		t.Fatal("a missing key file was made without create")
	}

	code := "134567890123456789"
	legacySalt := "posd-code/HK001/T01"
	clock := now
	hashes := CodeHasher(keys, legacySalt, func() time.Time { return clock })
	mac := hmac.New(sha256.New, keys[0].key)
	mac.Write([]byte(code))
	want := hex.EncodeToString(mac.Sum(nil))
	legacy := sha256.Sum256([]byte(legacySalt + "\x00" + code))
	if hs := hashes(code); len(hs) != 2 || hs[0] != want || hs[1] != hex.EncodeToString(legacy[:]) {
		t.Fatalf("hashes right after the first start: %v", hs)
	}
	clock = now.Add(CodeKeyOverlap + time.Second)
	if hs := hashes(code); len(hs) != 1 || hs[0] != want {
		t.Fatalf("the legacy hash outlived the overlap: %v", hs)
	}

	// Rotation.
	later := now.Add(30 * 24 * time.Hour)
	if err := RotateCodeKey(path, later); err != nil {
		t.Fatal(err)
	}
	rotated, err := LoadCodeKeys(path, later, false)
	if err != nil || len(rotated) != 2 || hmac.Equal(rotated[0].key, keys[0].key) || !hmac.Equal(rotated[1].key, keys[0].key) {
		t.Fatalf("after rotation: %v", err)
	}
	clock = later.Add(time.Hour)
	hashes = CodeHasher(rotated, legacySalt, func() time.Time { return clock })
	if hs := hashes(code); len(hs) != 2 || hs[0] == want || hs[1] != want {
		t.Fatalf("during the overlap: %v", hs)
	}
	clock = later.Add(CodeKeyOverlap + time.Second)
	if hs := hashes(code); len(hs) != 1 {
		t.Fatalf("after the overlap: %v", hs)
	}
	// A second rotation past the overlap drops the oldest key from the file.
	if err := RotateCodeKey(path, later.Add(40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ks, _ := LoadCodeKeys(path, later, false); len(ks) != 2 {
		t.Fatalf("keys kept after two rotations: %d", len(ks))
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), hex.EncodeToString(keys[0].key)) {
		t.Fatal("a key past its overlap stayed in the file")
	}

	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCodeKeys(path, now, true); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("group-readable key file: %v", err)
	}
}
