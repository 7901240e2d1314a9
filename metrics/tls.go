package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The HTTPS listener's metrics: handshakes by result, TLS version and
// resumption, and the expiry of every certificate served.

// Results of a handshake, as gateway_tls_handshakes_total labels them.
const (
	HandshakeOK                = "ok"
	HandshakeTimeout           = "timeout"            // the client did not finish in time
	HandshakeClosed            = "closed"             // the client closed or reset the connection
	HandshakeNotTLS            = "not_tls"            // plain HTTP or garbage on the TLS port
	HandshakeUnknownName       = "unknown_name"       // strict SNI refused the name (or its absence)
	HandshakeClientCertificate = "client_certificate" // a client certificate missing or not verified
	HandshakeAlert             = "alert"              // the client refused the handshake (e.g. our certificate)
	HandshakeOther             = "other"
)

var handshakeResults = []string{HandshakeOK, HandshakeTimeout, HandshakeClosed, HandshakeNotTLS,
	HandshakeUnknownName, HandshakeClientCertificate, HandshakeAlert, HandshakeOther}

// HandshakeResult names the result of a handshake with a client.
// isUnknownName reports whether err is a refusal of the server name.
func HandshakeResult(err error, isUnknownName func(error) bool) string {
	var (
		netErr  net.Error
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
		certErr *tls.CertificateVerificationError
	)
	switch {
	case err == nil:
		return HandshakeOK
	case isUnknownName != nil && isUnknownName(err):
		return HandshakeUnknownName
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return HandshakeTimeout
	case errors.As(err, &recErr):
		return HandshakeNotTLS
	case errors.As(err, &certErr):
		return HandshakeClientCertificate
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return HandshakeClosed
	case errors.As(err, &alert):
		return HandshakeAlert
	}
	// crypto/tls reports a missing client certificate in words only.
	if msg := err.Error(); strings.Contains(msg, "client didn't provide a certificate") || strings.Contains(msg, "certificate required") {
		return HandshakeClientCertificate
	}
	return HandshakeOther
}

// CertExpiry is one served certificate for the expiry gauge.
type CertExpiry struct {
	// Name is the certificate's first DNS name.
	Name string
	// Source is "file" or "acme".
	Source string
	// NotAfter is the end of its validity.
	NotAfter time.Time
}

// TLS counts the HTTPS listener's handshakes. Safe for concurrent use.
type TLS struct {
	results  map[string]prometheus.Counter
	versions *prometheus.CounterVec
	// v12, v13 by resumed: the children of the common versions, kept.
	v12, v13 [2]prometheus.Counter
	// isUnknownName classifies selection refusals (set by the caller).
	isUnknownName func(error) bool
}

var certExpiryDesc = prometheus.NewDesc("gateway_tls_certificate_expiry_timestamp_seconds",
	"End of validity (NotAfter, Unix seconds) of each certificate the HTTPS listener serves, by its first name and source (file, acme).",
	[]string{"name", "source"}, nil)

// tlsMetrics are the families of the HTTPS listener, registered by New;
// they have samples only once TLS is called.
type tlsMetrics struct {
	handshakes *prometheus.CounterVec
	versions   *prometheus.CounterVec
	expiry     atomic.Pointer[func() []CertExpiry]
}

func newTLSMetrics() *tlsMetrics {
	return &tlsMetrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_tls_handshakes_total",
			Help: "Handshakes on the HTTPS listener, by result (ok, timeout, closed, not_tls, unknown_name, client_certificate, alert, other).",
		}, []string{"result"}),
		versions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_tls_connections_total",
			Help: "Connections whose handshake succeeded on the HTTPS listener, by TLS version (1.2, 1.3) and whether the session was resumed (true, false).",
		}, []string{"version", "resumed"}),
	}
}

func (t *tlsMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{t.handshakes, t.versions, &expiryCollector{t: t}}
}

type expiryCollector struct{ t *tlsMetrics }

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- certExpiryDesc }

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.t.expiry.Load()
	if f == nil {
		return
	}
	seen := make(map[[2]string]bool)
	for _, e := range (*f)() {
		k := [2]string{e.Name, e.Source}
		if seen[k] { // the same name twice: the first is the one served
			continue
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(e.NotAfter.Unix()), e.Name, e.Source)
	}
}

// TLS makes the HTTPS listener's counters, every result present from the
// start, and has the expiry gauge report what expiry returns at each
// scrape.
func (m *Metrics) TLS(expiry func() []CertExpiry) *TLS {
	tm := m.tls
	tm.expiry.Store(&expiry)
	t := &TLS{results: make(map[string]prometheus.Counter, len(handshakeResults)), versions: tm.versions}
	for _, r := range handshakeResults {
		t.results[r] = tm.handshakes.WithLabelValues(r)
	}
	for i, resumed := range []string{"false", "true"} {
		t.v12[i] = tm.versions.WithLabelValues("1.2", resumed)
		t.v13[i] = tm.versions.WithLabelValues("1.3", resumed)
	}
	return t
}

// SetUnknownName sets how a refusal of the server name is recognised
// among handshake errors.
func (t *TLS) SetUnknownName(f func(error) bool) { t.isUnknownName = f }

// Handshake counts one handshake: its result and, when it succeeded, its
// version and resumption. It fits certs.ListenerSettings.OnHandshake.
func (t *TLS) Handshake(state *tls.ConnectionState, err error) {
	if t == nil {
		return
	}
	t.results[HandshakeResult(err, t.isUnknownName)].Inc()
	if err != nil || state == nil {
		return
	}
	r := 0
	if state.DidResume {
		r = 1
	}
	switch state.Version {
	case tls.VersionTLS13:
		t.v13[r].Inc()
	case tls.VersionTLS12:
		t.v12[r].Inc()
	default:
		t.versions.WithLabelValues(tls.VersionName(state.Version), [2]string{"false", "true"}[r]).Inc()
	}
}
