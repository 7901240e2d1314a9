package gateway

import (
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/fastgate/gateway/config"
)

// guarded protects an admin endpoint that shows the configuration, changes
// it or debugs the process (everything but /metrics, /healthz and
// /readyz), in this order:
//
//   - the Host header must name the listener (an IP address, localhost or
//     one of admin_hosts; only loopback ones on a loopback connection), so
//     that a page whose name was rebound to the admin address cannot read
//     or call it;
//   - with admin_auth, "Authorization: Bearer TOKEN" must carry the token;
//   - a POST must not come from another origin (Origin, Sec-Fetch-Site)
//     and may only carry JSON or nothing, which keeps a cross-site form
//     or text/plain fetch from triggering it.
func (g *Gateway) guarded(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		cfg := g.Config()
		if !adminHostAllowed(req, cfg.AdminHosts) {
			writeText(w, http.StatusForbidden, "gateway: admin: host "+quoteHost(req.Host)+
				" not allowed; use an IP address or localhost, or list the name in admin_hosts\n")
			return
		}
		if !adminAuthorized(req, cfg.AdminAuth) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway admin"`)
			writeText(w, http.StatusUnauthorized, "gateway: admin: this endpoint needs the admin_auth token (Authorization: Bearer ...)\n")
			return
		}
		if req.Method == http.MethodPost {
			if !sameOrigin(req) {
				writeText(w, http.StatusForbidden, "gateway: admin: cross-origin request refused\n")
				return
			}
			if !jsonOrEmpty(req) {
				writeText(w, http.StatusUnsupportedMediaType, "gateway: admin: send no body or a JSON one (Content-Type: application/json)\n")
				return
			}
		}
		h(w, req)
	}
}

// adminHostAllowed reports whether req's Host names the admin listener.
func adminHostAllowed(req *http.Request, hosts []string) bool {
	host := req.Host
	if host == "" {
		// HTTP/1.0 without Host: no browser sends that.
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || slices.Contains(hosts, host) {
		return true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return false
	}
	// Reached over loopback, only loopback addresses name the listener.
	if local, ok := req.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(local.String()); err == nil && ap.Addr().Unmap().IsLoopback() {
			return ip.Unmap().IsLoopback()
		}
	}
	return true
}

// adminAuthorized reports whether req carries the admin token, or none is
// configured. The comparison takes the same time wherever they differ.
func adminAuthorized(req *http.Request, auth *config.AdminAuth) bool {
	if auth == nil {
		return true
	}
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), auth.Token()) == 1
}

// sameOrigin reports whether a browser, if one sent req, sent it from a
// page of the admin listener itself. Clients that are not browsers send
// neither header.
func sameOrigin(req *http.Request) bool {
	switch req.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := req.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false // "null" included: sandboxed pages and file:// send it
	}
	return strings.EqualFold(u.Host, req.Host)
}

// jsonOrEmpty reports whether req has no body, or a JSON one.
func jsonOrEmpty(req *http.Request) bool {
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		return req.ContentLength == 0
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// quoteHost quotes a Host header for an error message, cut to a sane length.
func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100]
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, h) + `"`
}
