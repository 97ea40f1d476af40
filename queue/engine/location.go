package engine

import (
	"sync"
	"time"
)

// HongKong is the till's time zone: Asia/Hong_Kong from the system's tzdata, or a fixed
// +08:00 zone when tzdata is missing (Hong Kong has had no daylight saving since 1979,
// so both give the same times). This is its one definition: internal/config hands it to
// a running till, and the packages that default a Location use it.
var HongKong = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Hong_Kong"); err == nil {
		return loc
	}
	return time.FixedZone("HKT", 8*3600)
})
