package config

import (
	"fmt"
	"os/user"
	"strconv"
)

// KioskUID resolves http.kiosk_user (a user name or a numeric uid).
func KioskUID(name string) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("no such user %q: %w", name, err)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	return uint32(n), nil
}
