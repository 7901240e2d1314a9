package grpcbridge_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fastgate/gateway/bridge/grpcbridge"
)

func TestInvokeMetadata(t *testing.T) {
	f := newFixture(t)
	e := f.endpoint(t, "GetUser", grpcbridge.EndpointSettings{
		Metadata:         []string{"X-Tenant", "x-data-bin"},
		ResponseMetadata: []string{"X-Served-By", "x-trailer", "x-absent"},
	})
	w, err := invoke(t, e, &grpcbridge.Request{Header: headers{
		"x-request-id": "req-1",
		"traceparent":  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"x-tenant":     "acme",
		"x-data-bin":   "\x00\x01\xff",
		"x-other":      "not passed",
		"tracestate":   "caf\xc3\xa9", // not ASCII: dropped
	}})
	if err != nil || w.Status != 200 {
		t.Fatalf("%v %d %s", err, w.Status, w.Body)
	}
	md := f.srv.LastMetadata()
	want := map[string]string{
		"x-request-id": "req-1",
		"traceparent":  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"x-tenant":     "acme",
		"x-data-bin":   "\x00\x01\xff",
	}
	for k, v := range want {
		if got := md.Get(k); len(got) != 1 || got[0] != v {
			t.Errorf("server metadata %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"x-other", "tracestate"} {
		if got := md.Get(k); len(got) != 0 {
			t.Errorf("server metadata %s = %q, want none", k, got)
		}
	}
	wantHeader := []grpcbridge.Param{
		{Name: "x-served-by", Value: []byte("grpctest")},
		{Name: "x-trailer", Value: []byte("done")},
	}
	if !reflect.DeepEqual(w.Header, wantHeader) {
		t.Errorf("response header %q, want %q", w.Header, wantHeader)
	}

	// Reused Response: the headers of an error answer replace the old.
	fail := f.endpoint(t, "Fail", grpcbridge.EndpointSettings{ResponseMetadata: []string{"x-trailer"}})
	if err := fail.Invoke(t.Context(), &grpcbridge.Request{Body: []byte(`{"code":5}`)}, w); err != nil {
		t.Fatal(err)
	}
	if w.Status != 404 || len(w.Header) != 1 || string(w.Header[0].Value) != "done" {
		t.Errorf("status %d header %q", w.Status, w.Header)
	}
}

func TestNewEndpointErrors(t *testing.T) {
	f := newFixture(t)
	m, err := f.schema.Method("test.v1.Users/CreateUser")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		give grpcbridge.EndpointSettings
		want string
	}{
		{desc: "reserved metadata", give: grpcbridge.EndpointSettings{Metadata: []string{"grpc-timeout"}}, want: "grpc-timeout"},
		{desc: "content-type", give: grpcbridge.EndpointSettings{Metadata: []string{"Content-Type"}}, want: "Content-Type"},
		{desc: "bad name", give: grpcbridge.EndpointSettings{Metadata: []string{"x tenant"}}, want: "x tenant"},
		{desc: "bad response key", give: grpcbridge.EndpointSettings{ResponseMetadata: []string{"x:y"}}, want: "x:y"},
		{desc: "body field missing", give: grpcbridge.EndpointSettings{BodyField: "usr"}, want: `"usr"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := grpcbridge.NewEndpoint(m, f.conn, tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "CreateUser") {
				t.Errorf("error %v, want one naming %s and the method", err, tt.want)
			}
		})
	}
	if _, err := grpcbridge.NewEndpoint(m, nil, grpcbridge.EndpointSettings{}); err == nil {
		t.Error("no connection: no error")
	}
}

func TestCheckField(t *testing.T) {
	f := newFixture(t)
	e := f.endpoint(t, "CreateUser", grpcbridge.EndpointSettings{})
	tests := []struct {
		give    string
		wantErr string
	}{
		{give: "user.id"},
		{give: "user.address.city"},
		{give: "user.created"},
		{give: "validateOnly"},
		{give: "user.nope", wantErr: "nope"},
		{give: "user.id.x", wantErr: "not a message"},
		{give: "user", wantErr: "message field"},
		{give: "user.labels", wantErr: "map"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			err := e.CheckField(tt.give)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckField: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}
