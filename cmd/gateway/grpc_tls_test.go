package main

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
	"github.com/fastgate/gateway/certs/certstest"
)

// TestGRPCOverTLS: a grpc route with tls reaches a server that only
// speaks TLS, verifying it with the CA file; without the right CA the
// call fails as an unavailable upstream.
func TestGRPCOverTLS(t *testing.T) {
	ca := certstest.NewCA(t, "grpc CA")
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"users.internal"}})
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpctest.Start(t, grpctest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	other := certstest.NewCA(t, "another CA")
	yaml := strings.NewReplacer("{ADDR}", srv.Addr).Replace(`
routes:
  - name: get-user
    match: { path: "/v1/users/{id}", methods: [GET] }
    grpc: { target: "{ADDR}", method: test.v1.Users/GetUser, descriptors: users.pb, tls: { ca_file: ca.pem, server_name: users.internal } }
  - name: wrong-ca
    match: { path: "/v1/wrong/{id}", methods: [GET] }
    grpc: { target: "{ADDR}", method: test.v1.Users/GetUser, descriptors: users.pb, tls: { ca_file: other.pem, server_name: users.internal }, timeout: 2s }
`)
	gw := startBridgeGateway(t, yaml, map[string][]byte{
		"users.pb": grpctest.DescriptorSet(), "ca.pem": ca.PEM, "other.pem": other.PEM,
	})
	if resp := gw.do(t, "GET", "/v1/users/7", nil, ""); resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"user-7"`) {
		t.Fatalf("GET over gRPC with TLS: %d %s", resp.StatusCode(), resp.Body())
	}
	if resp := gw.do(t, "GET", "/v1/wrong/7", nil, ""); resp.StatusCode() < 500 {
		t.Errorf("GET with a CA that does not verify the server: %d %s, want a 5xx", resp.StatusCode(), resp.Body())
	}
	if srv.Calls() != 1 {
		t.Errorf("server got %d calls, want 1 (the unverified connection never sent one)", srv.Calls())
	}
}
