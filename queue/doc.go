// Package queue is posd's journal and durable job queue: engine.Store over one bbolt file.
//
// # Storage below, engine above
//
// queue implements engine.Store on the engine's own types (Sale, Job, ReadTx, Tx): the
// engine says what it needs from storage and this package serves it, so queue imports
// queue/engine and never the other way round. The engine sits in a subdirectory for
// historical reasons, not because it is a part of the storage: it is the core every
// other package may import, and it never imports queue, bbolt or any adapter
// (internal/archtest enforces both directions).
//
// # Three queues
//
// "Queue" means three things in posd; each has one home:
//
//   - the durable retry queue: the jobs buckets of this package (engine.Job records);
//   - the engine's worker that works that queue's due jobs: queue/engine/worker.go
//     (Engine.Run);
//   - the print spool: printer.Spool, durable print jobs in the same bbolt file.
//
// # Durability
//
// Every Update is one bbolt read-write transaction committed with fsync before it returns
// (bbolt writes the dirty pages, fdatasyncs, then writes the meta page and fdatasyncs again;
// NoSync is never set). An error from Update means nothing was written.
//
// # File handling
//
// Open creates the parent directory (0700) and the file (0600), waits at most
// Options.Timeout for the file lock and then names the path in the error
// ("storage /var/lib/posd/posd.db is locked by another process (is posd already running?)").
// Before bbolt maps the file, Open validates both meta pages and the file length itself: a
// file that is not a bbolt journal, has two damaged meta pages or was truncated is reported
// as ErrCorrupt with the path and is never written to, replaced or truncated. (bbolt would
// otherwise fault on pages past the end of a truncated file.) A file on a read-only disk is
// opened read-only: reads work, Update returns ErrReadOnly, so the engine refuses new sales
// with a clear error instead of posd failing to start.
//
// # Layout
//
// Buckets (all names are posd's; bucket names starting with "print" belong to printer/,
// which keeps its durable spool in the same file through DB.Bolt):
//
//	meta            "schema" → journal schema version (decimal)
//	seq             only its bbolt sequence is used: NextSeq
//	sales           sale id → {"v":1,"sale":{...}}
//	sales_by_day    day (YYYY-MM-DD in Options.Location) + ^created_at (12 bytes) + id → ""
//	                (newest first within a day)
//	sales_by_otn    out_trade_no → sale id
//	codes           payment code hash → sale id
//	open            sale id → "" for sales not final or with an attempt not final
//	jobs            job id → {"v":1,"job":{...}}
//	jobs_due        due (12 bytes, sortable) + job id → "" (jobs not needing attention)
//	jobs_attention  job id → "" (jobs a person must look at)
//	reconciliation  date → bytes (manager tools' own format)
//
// OpenSales reads only the open index, so opening a journal of a million sales costs
// the same as opening an empty one; DueJobs is a cursor seek on jobs_due.
//
// # Retention
//
// Prune deletes sales older than the retention period (at least 400 days: refunds are
// allowed for a year) in bounded batches, never one in the open index or with a job.
package queue
