package grpcbridge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fastgate/gateway/bridge/grpcbridge"
	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
)

func TestInvokeStatusCodes(t *testing.T) {
	f := newFixture(t)
	e := f.endpoint(t, "Fail", grpcbridge.EndpointSettings{Route: "fail"})
	tests := []struct {
		give       codes.Code
		wantStatus int
		wantName   string
	}{
		{codes.OK, 200, "OK"},
		{codes.Canceled, 499, "CANCELLED"},
		{codes.Unknown, 500, "UNKNOWN"},
		{codes.InvalidArgument, 400, "INVALID_ARGUMENT"},
		{codes.DeadlineExceeded, 504, "DEADLINE_EXCEEDED"},
		{codes.NotFound, 404, "NOT_FOUND"},
		{codes.AlreadyExists, 409, "ALREADY_EXISTS"},
		{codes.PermissionDenied, 403, "PERMISSION_DENIED"},
		{codes.ResourceExhausted, 429, "RESOURCE_EXHAUSTED"},
		{codes.FailedPrecondition, 400, "FAILED_PRECONDITION"},
		{codes.Aborted, 409, "ABORTED"},
		{codes.OutOfRange, 400, "OUT_OF_RANGE"},
		{codes.Unimplemented, 501, "UNIMPLEMENTED"},
		{codes.Internal, 500, "INTERNAL"},
		{codes.Unavailable, 503, "UNAVAILABLE"},
		{codes.DataLoss, 500, "DATA_LOSS"},
		{codes.Unauthenticated, 401, "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.wantName, func(t *testing.T) {
			if got := grpcbridge.HTTPStatus(tt.give); got != tt.wantStatus {
				t.Errorf("HTTPStatus = %d, want %d", got, tt.wantStatus)
			}
			if got := grpcbridge.CodeName(tt.give); got != tt.wantName {
				t.Errorf("CodeName = %s, want %s", got, tt.wantName)
			}
			body := fmt.Sprintf(`{"code":%d,"message":"asked for %s","details":true}`, tt.give, tt.wantName)
			w, err := invoke(t, e, &grpcbridge.Request{Body: []byte(body)})
			if err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.give || w.Status != tt.wantStatus {
				t.Fatalf("code %v status %d, want %v %d (%s)", w.Code, w.Status, tt.give, tt.wantStatus, w.Body)
			}
			if tt.give == codes.OK {
				if !jsonEqual(t, w.Body, `{"note":"ok"}`) {
					t.Errorf("body %s", w.Body)
				}
				return
			}
			want := `{"error":"asked for ` + tt.wantName + `","code":"` + tt.wantName + `","route":"fail","details":[
				{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TEST","domain":"grpctest"},
				{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"code","description":"asked for"}]}]}`
			if !jsonEqual(t, w.Body, want) {
				t.Errorf("body %s\nwant %s", w.Body, want)
			}
		})
	}
	t.Run("outside the table", func(t *testing.T) {
		if got := grpcbridge.HTTPStatus(codes.Code(42)); got != 500 {
			t.Errorf("HTTPStatus(42) = %d", got)
		}
		if got := grpcbridge.CodeName(codes.Code(42)); got != "UNKNOWN" {
			t.Errorf("CodeName(42) = %s", got)
		}
	})
}

func TestInvokeUnavailable(t *testing.T) {
	tests := []struct {
		desc  string
		addrs func(srv *grpctest.Server) []string
	}{
		{desc: "server stopped", addrs: func(srv *grpctest.Server) []string { srv.Stop(); return []string{srv.Addr} }},
		{desc: "no address", addrs: func(*grpctest.Server) []string { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFixture(t)
			// A first call on the running server, so the connection is up
			// when the server stops.
			e := f.endpoint(t, "GetUser", grpcbridge.EndpointSettings{})
			if w, err := invoke(t, e, &grpcbridge.Request{}); err != nil || w.Status != 200 {
				t.Fatalf("first call: %v %d", err, w.Status)
			}
			f.conn = dial(t, tt.addrs(f.srv)...)
			e = f.endpoint(t, "GetUser", grpcbridge.EndpointSettings{Route: "users"})
			w, err := invoke(t, e, &grpcbridge.Request{})
			if err != nil {
				t.Fatal(err)
			}
			if w.Code != codes.Unavailable || w.Status != 503 {
				t.Fatalf("code %v status %d body %s", w.Code, w.Status, w.Body)
			}
			if b := decode(t, w.Body); b["code"] != "UNAVAILABLE" || b["route"] != "users" {
				t.Errorf("body %s", w.Body)
			}
		})
	}
}

func TestInvokeDeadline(t *testing.T) {
	f := newFixture(t)
	e := f.endpoint(t, "Sleep", grpcbridge.EndpointSettings{})
	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	var w grpcbridge.Response
	if err := e.Invoke(ctx, &grpcbridge.Request{Body: []byte(`{"millis":"60000"}`)}, &w); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > deadline+2*time.Second {
		t.Errorf("answered after %v, deadline %v", took, deadline)
	}
	if w.Code != codes.DeadlineExceeded || w.Status != 504 {
		t.Errorf("code %v status %d body %s", w.Code, w.Status, w.Body)
	}
}

func TestInvokeCanceled(t *testing.T) {
	f := newFixture(t)
	e := f.endpoint(t, "GetUser", grpcbridge.EndpointSettings{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var w grpcbridge.Response
	if err := e.Invoke(ctx, &grpcbridge.Request{}, &w); err != nil {
		t.Fatal(err)
	}
	if w.Code != codes.Canceled || w.Status != 499 {
		t.Errorf("code %v status %d body %s", w.Code, w.Status, w.Body)
	}
}
