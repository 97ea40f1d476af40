package config

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The journal keeps a hash of every payment code used, so a code scanned twice is refused
// before WeChat is called. A plain hash gives the code back to anyone with the journal:
// the masked code shows 6 of 18 digits, ~10^12 tries remain (security review). The hash
// is therefore HMAC-SHA256 under a random key kept outside the journal, in a file of its
// own (storage.code_key_file, 0600), made at the first start.
//
// The file holds one key a line, newest first: "v1 <created RFC 3339> <64 hex digits>".
// `posd rotate-code-key` puts a new key first; the previous key still matches for
// CodeKeyOverlap after the new one was made (a payment code lives about a minute, so a
// code scanned before the rotation is still recognised when it comes back), and keys past
// that are dropped from the file at the next rotation.

// CodeKeyOverlap is how long a key still matches after its successor was made; it is
// also how long the salted SHA-256 of older posd versions still matches after the first
// key was made.
const CodeKeyOverlap = 24 * time.Hour

type codeKey struct {
	created time.Time
	key     []byte
}

// codeKeyPath is storage.code_key_file, or code_key beside the journal.
func CodeKeyPath(cfg *Config) string {
	if cfg.Storage.CodeKeyFile != "" {
		return cfg.Storage.CodeKeyFile
	}
	return filepath.Join(filepath.Dir(cfg.Storage.Path), "code_key")
}

// loadCodeKeys reads the key file; with create, a missing file is made with a fresh key.
func LoadCodeKeys(value string, now time.Time, create bool) ([]codeKey, error) {
	path, err := ResolveSecretPath(value)
	if err != nil {
		return nil, fmt.Errorf("storage.code_key_file: %w", err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create && !isCredential(value) {
		k, kerr := newCodeKey(now)
		if kerr != nil {
			return nil, kerr
		}
		if err := writeCodeKeys(path, []codeKey{k}, true); err != nil {
			return nil, err
		}
		return []codeKey{k}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage.code_key_file: cannot read %s: %w", path, unwrapPathError(err))
	}
	if fi, err := os.Stat(path); err == nil && !isCredential(value) && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("storage.code_key_file: %s is readable by group or others (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	keys, err := parseCodeKeys(b)
	if err != nil {
		return nil, fmt.Errorf("storage.code_key_file: %s: %w", path, err)
	}
	return keys, nil
}

func newCodeKey(now time.Time) (codeKey, error) {
	k := codeKey{created: now.UTC().Truncate(time.Second), key: make([]byte, 32)}
	if _, err := rand.Read(k.key); err != nil {
		return k, fmt.Errorf("code key: %w", err)
	}
	return k, nil
}

func parseCodeKeys(b []byte) ([]codeKey, error) {
	var keys []codeKey
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "v1" {
			return nil, fmt.Errorf("line %d: want \"v1 <time> <key>\"", n)
		}
		t, err := time.Parse(time.RFC3339, f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: bad time", n)
		}
		k, err := hex.DecodeString(f[2])
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("line %d: the key is 64 hex digits", n) // never the value
		}
		keys = append(keys, codeKey{created: t, key: k})
	}
	if len(keys) == 0 {
		return nil, errors.New("no key in the file")
	}
	return keys, nil
}

// writeCodeKeys writes the file 0600, whole or not at all: a temp file, fsync, rename.
// excl refuses to replace an existing file (the first start racing another).
func writeCodeKeys(path string, keys []codeKey, excl bool) error {
	var b strings.Builder
	b.WriteString("# posd code_hash keys, newest first. Secret: keep 0600, never in a backup of the journal.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "v1 %s %s\n", k.created.UTC().Format(time.RFC3339), hex.EncodeToString(k.key))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".code_key-*")
	if err != nil {
		return fmt.Errorf("storage.code_key_file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("storage.code_key_file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("storage.code_key_file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("storage.code_key_file: %w", err)
	}
	if excl {
		// A hard link fails when path exists: the key of a concurrent first start wins.
		if err := os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("storage.code_key_file: %w", err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("storage.code_key_file: %w", err)
	}
	return nil
}

// rotateCodeKey puts a new key first and drops keys whose successor is older than the
// overlap.
func RotateCodeKey(path string, now time.Time) error {
	if isCredential(path) {
		return errors.New("storage.code_key_file: a systemd credential is read-only: rotate the file in the credential store")
	}
	keys, err := LoadCodeKeys(path, now, false)
	if err != nil {
		return err
	}
	k, err := newCodeKey(now)
	if err != nil {
		return err
	}
	out := []codeKey{k}
	for i, old := range keys {
		successor := k.created
		if i > 0 {
			successor = keys[i-1].created
		}
		if now.Sub(successor) < CodeKeyOverlap {
			out = append(out, old)
		}
	}
	return writeCodeKeys(path, out, false)
}

// codeHasher is engine.Config.CodeHashes: HMAC under the newest key first, then under
// each older key while its successor is younger than the overlap, then the salted
// SHA-256 of older posd versions while the oldest key is.
func CodeHasher(keys []codeKey, legacySalt string, now func() time.Time) func(string) []string {
	return func(code string) []string {
		t := now()
		mac := func(k []byte) string {
			h := hmac.New(sha256.New, k)
			h.Write([]byte(code))
			return hex.EncodeToString(h.Sum(nil))
		}
		out := []string{mac(keys[0].key)}
		for i := 1; i < len(keys); i++ {
			if t.Sub(keys[i-1].created) < CodeKeyOverlap {
				out = append(out, mac(keys[i].key))
			}
		}
		if t.Sub(keys[len(keys)-1].created) < CodeKeyOverlap {
			h := sha256.Sum256([]byte(legacySalt + "\x00" + code))
			out = append(out, hex.EncodeToString(h[:]))
		}
		return out
	}
}
