package grpcbridge_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/bridge/grpcbridge"
	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
)

// callTimeout bounds every call of the tests that does not test a
// deadline: generous, for a busy machine.
const callTimeout = 10 * time.Second

// headers is a header getter keyed by lower-case names.
type headers map[string]string

func (h headers) Peek(key string) []byte {
	v, ok := h[strings.ToLower(key)]
	if !ok {
		return nil
	}
	return []byte(v)
}

// fixture is a test server, a Conn to it and the test schema.
type fixture struct {
	srv    *grpctest.Server
	conn   *grpcbridge.Conn
	schema *grpcbridge.Schema
}

// newFixture starts a server without reflection and dials it; both end
// with the test.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	srv := grpctest.Start(t, grpctest.Options{})
	return &fixture{srv: srv, conn: dial(t, srv.Addr), schema: loadSchema(t)}
}

func dial(t testing.TB, addrs ...string) *grpcbridge.Conn {
	t.Helper()
	c, err := grpcbridge.Dial(grpcbridge.ConnSettings{Addrs: addrs, Name: "users"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func loadSchema(t testing.TB) *grpcbridge.Schema {
	t.Helper()
	s, err := grpcbridge.LoadDescriptorSet(grpctest.DescriptorFile())
	if err != nil {
		t.Fatalf("LoadDescriptorSet: %v", err)
	}
	return s
}

// endpoint compiles a call of test.v1.Users/<method>.
func (f *fixture) endpoint(t testing.TB, method string, s grpcbridge.EndpointSettings) *grpcbridge.Endpoint {
	t.Helper()
	m, err := f.schema.Method(grpctest.Service + "/" + method)
	if err != nil {
		t.Fatalf("Method: %v", err)
	}
	e, err := grpcbridge.NewEndpoint(m, f.conn, s)
	if err != nil {
		t.Fatalf("NewEndpoint: %v", err)
	}
	return e
}

// invoke calls e with a deadline of callTimeout.
func invoke(t testing.TB, e *grpcbridge.Endpoint, r *grpcbridge.Request) (*grpcbridge.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var w grpcbridge.Response
	err := e.Invoke(ctx, r, &w)
	return &w, err
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t testing.TB, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("not JSON: %q: %v", got, err)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// decode reads a JSON object.
func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %q: %v", b, err)
	}
	return m
}
