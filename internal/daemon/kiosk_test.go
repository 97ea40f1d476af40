package daemon

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"posd/internal/config"
	"strconv"
	"testing"
)

// http.kiosk_user: the kernel names the owner of the client socket. This process's own
// connections are its user's; any other uid is not the kiosk; neither is a LAN address.
func TestKioskCheck(t *testing.T) {
	me := uint32(os.Getuid())
	for _, tc := range []struct {
		uid  uint32
		want string
	}{{me, "kiosk"}, {me + 1, "not"}} {
		var lookupErr error
		check := kioskCheck(tc.uid, func(err error) { lookupErr = err })
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if check(r) {
				io.WriteString(w, "kiosk")
			} else {
				io.WriteString(w, "not")
			}
		}))
		resp, err := ts.Client().Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ts.Close()
		if string(b) != tc.want || lookupErr != nil {
			t.Fatalf("uid %d: %q (lookup error %v), want %q", tc.uid, b, lookupErr, tc.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.168.1.20:4000"
	if kioskCheck(me, nil)(r) {
		t.Fatal("a LAN address was the kiosk")
	}
	if uid, err := config.KioskUID(strconv.Itoa(int(me))); err != nil || uid != me {
		t.Fatalf("numeric kiosk_user: %d %v", uid, err)
	}
	if _, err := config.KioskUID("no-such-user-posd-test"); err == nil {
		t.Fatal("an unknown kiosk_user was taken")
	}
}
