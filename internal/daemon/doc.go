// Package daemon is a running till: it opens the journal, the WeChat Pay client, the
// payment engine, the print spool, the scanners and the HTTP server in the order that
// keeps payments safe (recovery before the first sale, READY=1 only once the UI listens),
// and takes them down in reverse (Shutdown closes the journal last).
//
// cmd/posd builds the Parts (from posd.toml for `posd run`, from the demo's embedded
// configuration for `posd demo`) and calls Start; everything a till does is reached from
// here.
package daemon
