// Package printer prints posd's receipts on ESC/POS thermal printers.
//
// It has four parts:
//
//   - Rendering: a Receipt (sale, refund, reversal slip) or a DayReport becomes ESC/POS bytes
//     for a configured encoding (big5, gb18030, ascii) and paper width (32/42/48 columns).
//     Labels are English and Traditional Chinese; CJK characters take two columns.
//   - Transports: raw TCP 9100, a USB printer device file (/dev/usb/lp0), a serial port, a
//     file or directory, and an in-memory Virtual printer (demo and tests). Each answers
//     Printer's three methods; Status uses DLE EOT where the link can answer.
//   - Spool: durable print jobs in bbolt with stable ids. Enqueue is one small bbolt write,
//     so the payment path never waits on paper, cables or a printer that is off. Printing
//     happens in the spool's own goroutine, which waits while the printer is away.
//   - Decoding: ESC/POS bytes back to text (golden tests, the UI) and to a PNG preview.
//
// What "prints once" means here: a job is marked done only after every byte of it was
// accepted by the link (and, on links that answer DLE EOT, after the printer answered a
// status query sent behind the data, which proves it received everything before it). A
// job cut off part-way is printed again in full, marked "REPRINT AFTER INTERRUPTION", so
// the customer holds one complete receipt and the partial one is recognisably incomplete.
// A deliberate reprint is a separate job marked COPY.
package printer
