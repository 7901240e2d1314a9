package certs_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
	"github.com/valyala/fasthttp"
)

// TestFasthttpOverListener: a fasthttp.Server serving a certs.Listener
// sees TLS connections (IsTLS, the SNI), and a client that offers h2
// first gets HTTP/1.1, which fasthttp serves.
func TestFasthttpOverListener(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, pair(t, ca, "api.example.com")))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := certs.NewListener(inner, serverConfig(t, store, certs.ServerSettings{}), certs.ListenerSettings{})
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if !ctx.IsTLS() {
				ctx.SetStatusCode(fasthttp.StatusInternalServerError)
				return
			}
			ctx.SetBodyString("tls " + ctx.TLSConnectionState().ServerName)
		},
		MaxIdleWorkerDuration: 20 * time.Millisecond,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
		<-done
	}()

	tr := &http.Transport{
		TLSClientConfig:   clientConfig(ca, "api.example.com"),
		ForceAttemptHTTP2: true, // offers h2 first
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("protocol %s, ALPN %q: want HTTP/1.1 over TLS", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "tls api.example.com" {
		t.Errorf("answer %d %q, want 200 \"tls api.example.com\"", resp.StatusCode, body)
	}
}
