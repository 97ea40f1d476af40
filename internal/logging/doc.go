// Package logging builds posd's logger: one logrus.Logger whose entries are redacted
// first (payment codes and registered secrets never reach an output), then go to stderr
// (journald's format under systemd), a size-rotated JSON file for `posd logs`, and an
// in-memory ring the web UI reads.
package logging
