package wxpay

import "errors"

func newV2(cfg Config) (Client, error) { return nil, errors.New("wxpay: v2 not built yet") }
