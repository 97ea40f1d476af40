package wxpaytest

import (
	"strings"
	"testing"
)

// The simulator parses outside bytes in two places: v2 XML bodies and v3 Authorization
// headers. Neither may panic, and what parses must round-trip.

func FuzzParseV2XML(f *testing.F) {
	f.Add([]byte(`<xml><appid><![CDATA[wx8888888888888888]]></appid><total_fee>100</total_fee></xml>`))
	f.Add([]byte(`<xml><a><![CDATA[]]]]><![CDATA[>]]></a></xml>`))
	f.Add([]byte(`<!DOCTYPE xml [<!ENTITY x "y">]><xml><a>&x;</a></xml>`))
	f.Add([]byte(`<xml><a><b>1</b></a></xml>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseV2XML(b)
		if err != nil {
			return
		}
		for k := range m {
			if k == "" {
				t.Fatal("empty field name")
			}
		}
		// What the simulator writes, it reads back unchanged.
		m2, err := parseV2XML(v2XML(m))
		if err != nil {
			// Names that are not valid XML names cannot be written back; WeChat's are.
			for k := range m {
				if strings.ContainsAny(k, "<>&/ ") {
					return
				}
			}
			t.Fatalf("re-parse: %v", err)
		}
		for k, v := range m {
			if m2[k] != v && strings.TrimSpace(v) == v {
				t.Fatalf("field %q: %q became %q", k, v, m2[k])
			}
		}
	})
}

func FuzzParseV3Auth(f *testing.F) {
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1900000100",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="3775B6A45ACD588826D15E583A95F5DD00000001",signature="R3qg=="`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="2"`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 `)
	f.Add(`Basic abc`)
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseV3Auth(h)
		if err != nil {
			return
		}
		if a.MchID == "" || a.Nonce == "" || a.Serial == "" || a.Signature == "" {
			t.Fatalf("accepted with an empty field: %+v", a)
		}
		if !strings.HasPrefix(strings.TrimSpace(h), v3AuthScheme+" ") {
			t.Fatalf("accepted scheme of %q", h)
		}
	})
}
