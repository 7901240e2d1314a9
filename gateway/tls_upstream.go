package gateway

import (
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/config"
)

// TLS to upstreams: an upstream whose targets are https://, or that has a
// tls section (then discovered instances too), dials every connection
// over TLS with one tls.Config per pool, so that its connections share a
// session cache. A handshake that fails is the target's failure like a
// refused connection (upstream.ErrTLS, kind connect): 502 unless another
// target takes the request, counted by the breaker and passive health,
// and logged at most once per errorLogEvery with certs.VerifyReason.

// upstreamTLS returns the tls.Config of u's connections and the key that
// tells pools with the same settings and files apart; nil and "" for
// plain HTTP.
func upstreamTLS(u *config.Upstream) (*tls.Config, string, error) {
	t := u.TLS
	if t == nil && (len(u.Targets) == 0 || !strings.HasPrefix(u.Targets[0].URL, "https://")) {
		return nil, "", nil
	}
	if t == nil {
		t = &config.UpstreamTLS{}
	}
	ca, cert, key := t.Paths()
	cfg, err := certs.ClientConfig(certs.ClientSettings{
		CAFile: ca, CertFile: cert, KeyFile: key, ServerName: t.ServerName,
		MinVersion: config.MinTLSVersion(t.MinVersion), InsecureSkipVerify: t.InsecureSkipVerify,
	})
	if err != nil {
		return nil, "", err
	}
	id := strings.Join([]string{"tls", ca, cert, key, t.ServerName, t.MinVersion,
		strconv.FormatBool(t.InsecureSkipVerify), t.Digest()}, "|")
	return cfg, id, nil
}

// warnInsecureUpstreams logs, at every load, each route whose upstream
// TLS accepts any certificate.
func warnInsecureUpstreams(cfg *config.Config, log *slog.Logger) {
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		for _, t := range []*config.UpstreamTLS{upstreamTLSOf(r), grpcTLSOf(r)} {
			if t != nil && t.InsecureSkipVerify {
				log.Warn("gateway: tls.insecure_skip_verify is set: the upstream's certificate is not verified, and anyone on the path can read and change the traffic",
					"route", r.Name)
			}
		}
	}
}

func upstreamTLSOf(r *config.Route) *config.UpstreamTLS {
	if r.Upstream == nil {
		return nil
	}
	return r.Upstream.TLS
}

func grpcTLSOf(r *config.Route) *config.UpstreamTLS {
	if r.GRPC == nil {
		return nil
	}
	return r.GRPC.TLS
}

// tlsReason is the reason of the last failed handshake of a target's
// connection pool, for its log line; "" when none failed.
func tlsReason(lastErr func() error) string {
	if lastErr == nil {
		return ""
	}
	return certs.VerifyReason(lastErr())
}

// tunnelTLS shakes hands over a tunnel's new upstream connection, by
// deadline; on failure conn is closed.
func tunnelTLS(conn net.Conn, cfg *tls.Config, addr string, deadline time.Time) (net.Conn, error) {
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		host, _, _ := net.SplitHostPort(addr)
		cfg = cfg.Clone() // shares the session cache
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	_ = conn.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}
