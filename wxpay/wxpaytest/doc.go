// Package wxpaytest is a WeChat Pay simulator for tests, benchmarks and `posd demo`: a real
// HTTPS server speaking the v3 (global and legacy HK) and v2 dialects, verifying request
// signatures and the v2 client certificate, signing its answers, keeping a ledger of orders,
// refunds and requests, recording broken WeChat rules, and misbehaving on demand (scripted
// faults, outages, an amount-driven mode). See README.md.
package wxpaytest
