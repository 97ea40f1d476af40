//go:build !unix

package wxpay

import "time"

func processCPU() time.Duration { return 0 }
