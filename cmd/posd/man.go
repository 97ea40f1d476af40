package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"posd/internal/manpage"
)

// The manual pages posd(8) and posd.toml(5) are rendered by internal/manpage from posd's
// usage text, each command's -h and the commented example configuration. `make man` (the
// hidden `posd man` command) writes them to docs/man/; the package installs them.

// manCmd is `posd man [-example configs/posd.toml] [-out DIR]`: without -out the pages go
// to stdout.
func (m *Main) manCmd(args []string) error {
	fs := m.newFlagSet("man")
	example := fs.String("example", "configs/posd.toml", "the commented example configuration")
	out := fs.String("out", "", "write posd.8 and posd.toml.5 into this directory (default: stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pages, err := ManPages(*example)
	if err != nil {
		return err
	}
	for _, name := range []string{"posd.8", "posd.toml.5"} {
		if *out == "" {
			if _, err := m.Stdout.Write(pages[name]); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(filepath.Join(*out, name), pages[name], 0o644); err != nil {
			return fmt.Errorf("write man page: %w", err)
		}
	}
	return nil
}

// ManPages renders posd.8 and posd.toml.5.
func ManPages(examplePath string) (map[string][]byte, error) {
	ex, err := os.ReadFile(examplePath)
	if err != nil {
		return nil, fmt.Errorf("example configuration: %w", err)
	}
	return manpage.Pages(usage, flagHelp, ex)
}

// flagHelp is what `posd CMD -h` prints for the command's flags (flag.PrintDefaults).
func flagHelp(cmd string) (string, error) {
	var stderr, stdout bytes.Buffer
	m := &Main{Stdout: &stdout, Stderr: &stderr}
	err := m.Run(context.Background(), []string{cmd, "-h"})
	m.Close()
	if !errors.Is(err, flag.ErrHelp) {
		return "", nil // a command without flags (version, help)
	}
	_, rest, _ := strings.Cut(stderr.String(), ":\n") // "Usage of posd run:"
	return rest, nil
}
