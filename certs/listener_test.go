package certs_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
)

func TestHandshakeSelectsBySNI(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	def := pair(t, ca, "default.example.org")
	api := pair(t, ca, "api.example.com")
	wild := pair(t, ca, "*.example.com")
	pairs := []*certs.Pair{def, api, wild}

	tests := []struct {
		desc       string
		strict     bool
		serverName string // sent as SNI; "" sends none
		want       *certs.Pair
	}{
		{desc: "exact", serverName: "api.example.com", want: api},
		{desc: "wildcard", serverName: "www.example.com", want: wild},
		{desc: "mixed case", serverName: "Api.Example.Com", want: api},
		{desc: "unknown name gets the default", serverName: "other.test", want: def},
		{desc: "no SNI gets the default", want: def},
		{desc: "strict: exact", strict: true, serverName: "api.example.com", want: api},
		{desc: "strict: unknown name refused", strict: true, serverName: "other.test"},
		{desc: "strict: no SNI refused", strict: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			store := certs.NewStore(newSet(t, certs.SetOptions{StrictSNI: tt.strict}, pairs...))
			srv := startLineServer(t, serverConfig(t, store, certs.ServerSettings{}), certs.ListenerSettings{})
			var got *tls.Certificate
			cfg := &tls.Config{
				ServerName: tt.serverName,
				// Check what was served ourselves: without SNI the
				// verifier has no name to check against.
				InsecureSkipVerify: true,
				VerifyConnection: func(cs tls.ConnectionState) error {
					for _, p := range pairs {
						if cs.PeerCertificates[0].Equal(p.Leaf()) {
							got = &p.Certificate
						}
					}
					return nil
				},
			}
			c, err := dial(t, srv.addr, cfg)
			if tt.want == nil {
				if err == nil {
					c.Close()
					t.Fatal("handshake succeeded, want it refused")
				}
				eventually(t, "the refused handshake to be counted", func() bool { return srv.failures.Load() == 1 })
				if e := *srv.lastErr.Load(); !errors.Is(e, certs.ErrUnknownName) && !errors.Is(e, certs.ErrNoSNI) {
					t.Errorf("server-side error %v, want a strict SNI refusal", e)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer c.Close()
			if got != &tt.want.Certificate {
				t.Errorf("served %v, want %v", names(got), tt.want.Leaf().DNSNames)
			}
		})
	}
}

// TestSwapDuringLoad swaps the certificate of a name 50 times while 50
// clients reconnect and send requests on their connections: no handshake
// and no request fails, new handshakes see the new certificate, and
// connections opened before a swap keep serving. (The gateway's own
// rotation test, TestTLSRotationUnderLoad, holds 200 keep-alive clients;
// here every client shakes hands over and over, which under -race on a
// busy machine could take 200 of them past the 10s dial timeout.)
func TestSwapDuringLoad(t *testing.T) {
	const (
		clients           = 50
		swaps             = 50
		requestsPerCon    = 10
		handshakesPerSwap = 5
	)
	ca := certstest.NewCA(t, "test CA")
	setA := newSet(t, certs.SetOptions{StrictSNI: true}, pair(t, ca, "api.example.com"))
	setB := newSet(t, certs.SetOptions{StrictSNI: true}, pair(t, ca, "api.example.com"))
	store := certs.NewStore(setA)
	srv := startLineServer(t, serverConfig(t, store, certs.ServerSettings{}), certs.ListenerSettings{})

	var (
		stop     atomic.Bool
		failures atomic.Int64
		firstErr atomic.Pointer[error]
		seenA    atomic.Int64
		seenB    atomic.Int64
		requests atomic.Int64
		wg       sync.WaitGroup
	)
	leafA, leafB := setA.Pairs()[0].Leaf(), setB.Pairs()[0].Leaf()
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, &err)
	}
	for range clients {
		wg.Go(func() {
			cfg := clientConfig(ca, "api.example.com")
			for !stop.Load() {
				c, err := dial(t, srv.addr, cfg)
				if err != nil {
					fail(err)
					return
				}
				switch leaf := c.ConnectionState().PeerCertificates[0]; {
				case leaf.Equal(leafA):
					seenA.Add(1)
				case leaf.Equal(leafB):
					seenB.Add(1)
				}
				for range requestsPerCon {
					if err := roundTrip(c); err != nil {
						fail(err)
						c.Close()
						return
					}
					requests.Add(1)
				}
				c.Close()
			}
		})
	}
	// An open connection from before all swaps must keep working.
	early, err := dial(t, srv.addr, clientConfig(ca, "api.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()

	deadline := time.Now().Add(2 * time.Minute)
	for i := range swaps {
		// Swap only after enough handshakes have seen the current set.
		target := srv.handshakes.Load() + handshakesPerSwap
		for srv.handshakes.Load() < target && failures.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if failures.Load() != 0 || time.Now().After(deadline) {
			break
		}
		if i%2 == 0 {
			store.Swap(setB)
		} else {
			store.Swap(setA)
		}
	}
	stop.Store(true)
	wg.Wait()
	if err := roundTrip(early); err != nil {
		t.Errorf("a connection opened before the swaps failed after them: %v", err)
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d clients failed; first: %v", n, *firstErr.Load())
	}
	if time.Now().After(deadline) {
		t.Fatalf("the swaps did not finish in time (%d handshakes)", srv.handshakes.Load())
	}
	if seenA.Load() == 0 || seenB.Load() == 0 {
		t.Errorf("handshakes saw set A %d times, set B %d times: want both", seenA.Load(), seenB.Load())
	}
	if f := srv.failures.Load(); f != 0 {
		t.Errorf("%d handshakes failed on the server", f)
	}
	t.Logf("%d handshakes, %d requests, A %d, B %d", srv.handshakes.Load(), requests.Load(), seenA.Load(), seenB.Load())
}

func TestOpenConnectionKeepsItsCertificate(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	oldPair, newPair := pair(t, ca, "api.example.com"), pair(t, ca, "api.example.com")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, oldPair))
	srv := startLineServer(t, serverConfig(t, store, certs.ServerSettings{}), certs.ListenerSettings{})
	cfg := clientConfig(ca, "api.example.com")

	before, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if prev := store.Swap(newSet(t, certs.SetOptions{}, newPair)); prev.Pairs()[0] != oldPair {
		t.Error("Swap did not return the previous set")
	}
	if err := roundTrip(before); err != nil {
		t.Fatalf("the open connection failed after the swap: %v", err)
	}
	if !before.ConnectionState().PeerCertificates[0].Equal(oldPair.Leaf()) {
		t.Error("the open connection's certificate changed")
	}
	after, err := dial(t, srv.addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "api.example.com", ClientSessionCache: nil})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if !after.ConnectionState().PeerCertificates[0].Equal(newPair.Leaf()) {
		t.Error("a new handshake after the swap got the old certificate")
	}
}

// TestStalledHandshakeClosed: a client that connects and sends nothing is
// closed by the handshake deadline, and meanwhile other clients are
// accepted and served.
func TestStalledHandshakeClosed(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, pair(t, ca, "api.example.com")))
	srv := startLineServer(t, serverConfig(t, store, certs.ServerSettings{}),
		certs.ListenerSettings{HandshakeTimeout: 300 * time.Millisecond})

	stalled, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	// A good client is served while the stalled one holds its handshake.
	good, err := dial(t, srv.addr, clientConfig(ca, "api.example.com"))
	if err != nil {
		t.Fatalf("a client behind a stalled handshake: %v", err)
	}
	good.Close()

	_ = stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, stalled)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the stalled handshake was not closed by the server")
	}
	eventually(t, "the timed-out handshake to be reported", func() bool { return srv.failures.Load() == 1 })
}

// TestBadClientsClosedQuickly: plain HTTP, garbage, an oversized client
// hello and an unknown name under strict SNI each end that connection at
// once (long before the one-minute handshake deadline), and the listener
// keeps serving.
func TestBadClientsClosedQuickly(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	store := certs.NewStore(newSet(t, certs.SetOptions{StrictSNI: true}, pair(t, ca, "api.example.com")))
	srv := startLineServer(t, serverConfig(t, store, certs.ServerSettings{}),
		certs.ListenerSettings{HandshakeTimeout: time.Minute})

	// A full 16 KiB handshake record that starts a client hello which
	// announces 1 MiB: crypto/tls refuses it after this first record.
	oversized := []byte{0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x10, 0x00, 0x00}
	oversized = append(oversized, make([]byte, 0x4000-4)...)
	tests := []struct {
		desc string
		give []byte
	}{
		{desc: "plain HTTP", give: []byte("GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n")},
		{desc: "garbage", give: []byte("\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff")},
		{desc: "oversized client hello", give: oversized},
		{desc: "not even a record", give: []byte("\x00\x00\x00\x00\x00\x00")},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tt.give); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the connection was not closed")
			}
		})
	}
	t.Run("unknown name under strict SNI", func(t *testing.T) {
		c, err := tls.Dial("tcp", srv.addr, clientConfig(ca, "unknown.example.com"))
		if err == nil {
			c.Close()
			t.Fatal("handshake succeeded")
		}
	})
	good, err := dial(t, srv.addr, clientConfig(ca, "api.example.com"))
	if err != nil {
		t.Fatalf("a good client after the bad ones: %v", err)
	}
	good.Close()
	if got := srv.failures.Load(); got != int64(len(tests)+1) {
		t.Errorf("%d handshakes failed, want %d", got, len(tests)+1)
	}
}

// TestListenerCloseEndsPendingHandshakes: Close returns while a client
// stalls in its handshake, and closes that connection.
func TestListenerCloseEndsPendingHandshakes(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, pair(t, ca, "api.example.com")))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := certs.NewListener(inner, serverConfig(t, store, certs.ServerSettings{}), certs.ListenerSettings{HandshakeTimeout: time.Hour})
	stalled, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	// Wait until the stalled client's handshake is under way: a byte
	// written proves the server reads it.
	if _, err := stalled.Write([]byte{0x16}); err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	_ = stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, stalled); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("Close left a pending handshake open")
	}
}
