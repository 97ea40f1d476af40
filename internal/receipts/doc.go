// Package receipts is the receipt policy: which slips a sale change calls for (a sale slip
// when an attempt is paid, a reversal slip when money moved and was given back after a
// cancel, a refund slip per successful refund), reprints marked COPY, the catch-up after
// a restart, and the previews the web UI shows.
//
// The print spool (package printer) makes each receipt durable and prints it when the
// printer can; this package only decides what goes on it.
package receipts
