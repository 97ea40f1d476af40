package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version and Commit are stamped by the Makefile: -ldflags "-X main.Version=... -X main.Commit=...".
// Without them, the module version and VCS revision from the build info are used.
var (
	Version = ""
	Commit  = ""
)

// versionInfo returns version, commit and the Go version of this binary.
func versionInfo() (version, commit, goVersion string) {
	version, commit = Version, Commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && commit == "" {
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			}
		}
	}
	if version == "" {
		version = "devel"
	}
	if commit == "" {
		commit = "unknown"
	}
	return version, commit, runtime.Version()
}

// version is this binary's version alone, for /healthz.
func version() string { v, _, _ := versionInfo(); return v }

// commit is this binary's commit alone, for the manager's Devices tab.
func commit() string { _, c, _ := versionInfo(); return c }

func printVersion(w io.Writer) {
	v, c, g := versionInfo()
	fmt.Fprintf(w, "posd %s\ncommit %s\n%s %s/%s\n", v, c, g, runtime.GOOS, runtime.GOARCH)
}
