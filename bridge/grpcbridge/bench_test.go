package grpcbridge_test

import (
	"context"
	"testing"

	"github.com/fastgate/gateway/bridge/grpcbridge"
)

// BenchmarkInvoke measures one JSON -> gRPC -> JSON round trip on
// loopback: a body, a path parameter and a query, a request id passed on
// as metadata, the answer written into a reused Response.
func BenchmarkInvoke(b *testing.B) {
	f := newFixture(b)
	e := f.endpoint(b, "GetUser", grpcbridge.EndpointSettings{Route: "users"})
	r := &grpcbridge.Request{
		Body:   []byte(`{"filter":{"city":"Berlin","zip":10115},"tags":["a","b"],"role":"ROLE_ADMIN"}`),
		Params: []grpcbridge.Param{{Name: "id", Value: []byte("42")}},
		Query:  []byte("verbose=true&limit=10"),
		Header: headers{"x-request-id": "0123456789abcdef"},
	}
	ctx := context.Background()
	var w grpcbridge.Response
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := e.Invoke(ctx, r, &w); err != nil || w.Status != 200 {
			b.Fatalf("%v %d %s", err, w.Status, w.Body)
		}
	}
}

// BenchmarkRequestError measures a body refused before any call: an
// unknown nested field, the error body naming it.
func BenchmarkRequestError(b *testing.B) {
	f := newFixture(b)
	e := f.endpoint(b, "GetUser", grpcbridge.EndpointSettings{})
	r := &grpcbridge.Request{Body: []byte(`{"filter":{"city":"Berlin","zipp":10115}}`)}
	var w grpcbridge.Response
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Invoke(context.Background(), r, &w); err == nil {
			b.Fatal("no error")
		}
	}
}
