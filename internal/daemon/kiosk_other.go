//go:build !linux

package daemon

import (
	"errors"
	"net/netip"
)

func peerUID(client, server netip.AddrPort) (uint32, error) {
	return 0, errors.New("http.kiosk_user needs Linux's socket diagnostics")
}
