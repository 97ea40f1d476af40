package daemon

import (
	"net"
	"net/http"
	"net/netip"
)

// kioskCheck is ui.Options.Kiosk for http.kiosk_user: a request is the till's kiosk
// browser when its TCP connection comes from loopback and the kernel says the client
// socket belongs to that user. An Origin header or a source address alone would not do:
// every program on the till can send those. onError, when set, hears about lookups that
// failed (the request is then not the kiosk).
func kioskCheck(uid uint32, onError func(error)) func(*http.Request) bool {
	return func(r *http.Request) bool {
		remote, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !remote.Addr().Unmap().IsLoopback() {
			return false
		}
		la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if !ok {
			return false
		}
		local, err := netip.ParseAddrPort(la.String())
		if err != nil {
			return false
		}
		got, err := peerUID(remote, local)
		if err != nil {
			if onError != nil {
				onError(err)
			}
			return false
		}
		return got == uid
	}
}
