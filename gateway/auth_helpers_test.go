package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// Tokens of these tests are minted with jwttest (go-jose), independently
// of the library the gateway verifies with.

// tokenClaims are claims valid for an hour from now.
func tokenClaims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": "https://idp.test", "aud": "api", "sub": sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// jwksServer serves a JWKS on loopback whose keys a test replaces, and
// counts the fetches.
type jwksServer struct {
	url     string
	mu      sync.Mutex
	doc     []byte
	fetches int
}

func startJWKS(t testing.TB, keys ...jwttest.Key) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.publish(t, keys...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		doc := s.doc
		s.fetches++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = "http://" + ln.Addr().String() + "/jwks"
	return s
}

// publish makes keys the served set.
func (s *jwksServer) publish(t testing.TB, keys ...jwttest.Key) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

func (s *jwksServer) fetchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}
