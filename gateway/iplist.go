package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/auth/iplist"
	"github.com/fastgate/gateway/internal/httpx"
)

// errIPForbidden answers a client address the route's IP lists refuse.
var errIPForbidden = &answer{status: fasthttp.StatusForbidden, msg: "forbidden", source: "ip", keepHeaders: true}

// ipStep refuses (403) a client whose address, as trusted_proxies yields
// it, the route's ip_deny holds or its ip_allow does not.
type ipStep struct {
	access  *iplist.Access
	trusted *httpx.TrustedProxies
	next    handler
}

func buildIPStep(b *routeBuild) (step, error) {
	a := b.rc.Access
	if a == nil || len(a.IPAllow)+len(a.IPDeny) == 0 {
		return nil, nil
	}
	acc, err := iplist.NewAccess(a.IPAllow, a.IPDeny)
	if err != nil {
		return nil, err
	}
	return &ipStep{access: acc, trusted: b.trusted}, nil
}

func (s *ipStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

func (s *ipStep) serve(ctx *fasthttp.RequestCtx) error {
	if !s.access.Allowed(httpx.ClientAddr(ctx, s.trusted)) {
		return errIPForbidden
	}
	return s.next(ctx)
}
