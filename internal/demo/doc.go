// Package demo is `posd demo`'s till as a configuration, not a mode: the WeChat Pay
// simulator's endpoint and credentials, a scanner and a printer of kind "virtual", storage
// and logs in a directory of the caller's choosing. The daemon runs it through the same
// code paths as a real till; cmd/posd only starts the simulator and prints the login link.
package demo
