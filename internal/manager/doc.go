// Package manager is the manager's tools behind `posd report`, `posd reconcile` and
// `posd journal`: the day report (Z report), reconciliation against WeChat Pay's statement
// and the journal export. They read the journal directly when posd is stopped, and ask the
// running posd through its local API when it holds the journal's lock, so a manager gets the
// same answer either way. cmd/posd parses the flags; this package does the work.
package manager
