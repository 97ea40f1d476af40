package daemon

import (
	"testing"

	"posd/wxpay"
)

// TestCheckCodeFor: codes starting 160 are Multi-Wallet payment codes, accepted on the v3
// APIs and refused on v2.
func TestCheckCodeFor(t *testing.T) {
	const code = "160123456789012345"
	for api, ok := range map[string]bool{wxpay.APIv3Global: true, wxpay.APIv3HK: true, wxpay.APIv2: false} {
		if err := checkCodeFor(api)(code); (err == nil) != ok {
			t.Errorf("%s: CheckCode(%s) = %v", api, code, err)
		}
	}
}
