// Package archtest holds no code, only the test that keeps posd's import graph the shape
// README's Architecture section draws: arrows point down, from cmd/posd through the
// internal wiring packages to the adapters and the engine, never back up.
//
// A new package, or a new import between posd's packages, fails the test until it is
// added to the table in imports_test.go, so the graph changes only on purpose and in
// review.
package archtest
