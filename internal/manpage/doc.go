// Package manpage renders posd(8) and posd.toml(5) from what posd itself says: the usage
// text and each command's flags (exactly what -h prints), and the commented example
// configuration. cmd/posd passes those in (`make man` runs the hidden `posd man`), so the
// pages cannot drift from the binary; cmd/posd's TestManPages fails when the committed
// pages are out of step.
package manpage
