// Package monitor is what a person or a scraper sees of a running till: the /healthz
// document (Health, HealthSources) and the Prometheus metrics (Metrics).
//
// Both are read-only views: they ask the engine, the journal and the devices through
// functions given to them, and never change what they observe.
package monitor
