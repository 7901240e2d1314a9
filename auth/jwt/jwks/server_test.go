package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksServer is a loopback JWKS endpoint whose answer a test switches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	mode    string // "ok", "status", "garbage", "hang", "huge"
	doc     []byte
	hits    atomic.Int64
	release chan struct{}
}

func newJWKSServer(t *testing.T, keys ...jose.JSONWebKey) *jwksServer {
	t.Helper()
	s := &jwksServer{mode: "ok", release: make(chan struct{})}
	s.serve(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

func (s *jwksServer) serve(t *testing.T, keys ...jose.JSONWebKey) {
	t.Helper()
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.mode, s.doc = "ok", doc
	s.mu.Unlock()
}

func (s *jwksServer) setMode(m string) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

func (s *jwksServer) handle(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	mode, doc := s.mode, s.doc
	s.mu.Unlock()
	switch mode {
	case "ok":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	case "status":
		http.Error(w, "down", http.StatusServiceUnavailable)
	case "garbage":
		_, _ = w.Write([]byte("<html>not a key set</html>"))
	case "hang":
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
	case "huge": // 10 MB of valid-looking JSON, no Content-Length
		_, _ = w.Write([]byte(`{"keys":[`))
		chunk := []byte(strings.Repeat(`{"kty":"oct","k":"AAAA"},`, 4000))
		for n := 0; n < 10<<20; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`{}]}`))
	}
}

func rsaJWK(t *testing.T, kid string) (*rsa.PrivateKey, jose.JSONWebKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}
}

func ecJWK(t *testing.T, kid string) (*ecdsa.PrivateKey, jose.JSONWebKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

func edJWK(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig"}
}
