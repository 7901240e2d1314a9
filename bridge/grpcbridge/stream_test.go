package grpcbridge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/fastgate/gateway/bridge/grpcbridge"
)

func TestStream(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		desc       string
		method     string
		give       string // body
		wantLines  []string
		wantCode   codes.Code
		wantStatus int // w.Status at the end
	}{
		{desc: "three messages", method: "Watch", give: `{"count":3}`,
			wantLines:  []string{`{"id":"1","name":"user-1"}`, `{"id":"2","name":"user-2"}`, `{"id":"3","name":"user-3"}`},
			wantStatus: 200},
		{desc: "no message", method: "Watch", give: `{}`, wantStatus: 200},
		{desc: "fails after two", method: "Watch", give: `{"count":2,"failCode":10}`,
			wantLines: []string{`{"id":"1","name":"user-1"}`, `{"id":"2","name":"user-2"}`,
				`{"error":"grpctest: the stream failed as asked","code":"ABORTED","route":"watch"}`},
			wantCode: codes.Aborted, wantStatus: 409},
		{desc: "fails before any", method: "Watch", give: `{"failCode":5}`, wantCode: codes.NotFound, wantStatus: 404},
		{desc: "unary method", method: "GetUser", give: `{"id":"4"}`, wantLines: []string{`{"id":"4","name":"user-4"}`}, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := f.endpoint(t, tt.method, grpcbridge.EndpointSettings{Route: "watch", ResponseMetadata: []string{"x-served-by"}})
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			var w grpcbridge.Response
			var lines []string
			err := e.Stream(ctx, &grpcbridge.Request{Body: []byte(tt.give)}, &w, func(line []byte) error {
				if len(lines) == 0 && (len(w.Header) != 1 || w.Status != 0) {
					t.Errorf("at the first line: status %d header %q", w.Status, w.Header)
				}
				if !strings.HasSuffix(string(line), "\n") || strings.Count(string(line), "\n") != 1 {
					t.Errorf("line %q is not one line", line)
				}
				lines = append(lines, string(line))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != len(tt.wantLines) {
				t.Fatalf("lines %q, want %q", lines, tt.wantLines)
			}
			for i := range lines {
				if !jsonEqual(t, []byte(lines[i]), tt.wantLines[i]) {
					t.Errorf("line %d %s, want %s", i, lines[i], tt.wantLines[i])
				}
			}
			if w.Code != tt.wantCode || w.Status != tt.wantStatus {
				t.Errorf("code %v status %d, want %v %d", w.Code, w.Status, tt.wantCode, tt.wantStatus)
			}
			if len(lines) == 0 && tt.wantCode != codes.OK {
				if b := decode(t, w.Body); b["code"] != grpcbridge.CodeName(tt.wantCode) {
					t.Errorf("body %s", w.Body)
				}
			}
		})
	}
}

func TestStreamEmitError(t *testing.T) {
	f := newFixture(t)
	e := f.endpoint(t, "Watch", grpcbridge.EndpointSettings{})
	gone := errors.New("client went away")
	n := 0
	var w grpcbridge.Response
	err := e.Stream(t.Context(), &grpcbridge.Request{Body: []byte(`{"count":1000}`)}, &w, func([]byte) error {
		n++
		if n == 2 {
			return gone
		}
		return nil
	})
	if !errors.Is(err, gone) || n != 2 {
		t.Errorf("error %v after %d lines, want %v after 2", err, n, gone)
	}
}

func TestStreamRequestError(t *testing.T) {
	f := newFixture(t)
	e := f.endpoint(t, "Watch", grpcbridge.EndpointSettings{})
	var w grpcbridge.Response
	err := e.Stream(t.Context(), &grpcbridge.Request{Body: []byte(`{"count":"x"}`)}, &w, func([]byte) error {
		t.Error("emit called")
		return nil
	})
	var re *grpcbridge.RequestError
	if !errors.As(err, &re) || re.Field != "count" || w.Status != 400 || f.srv.Calls() != 0 {
		t.Errorf("error %v, status %d, calls %d", err, w.Status, f.srv.Calls())
	}
}

func TestInvokeServerStreaming(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		desc       string
		settings   grpcbridge.EndpointSettings
		give       string
		wantBody   string
		wantStatus int
	}{
		{desc: "gathered", give: `{"count":2}`, wantBody: `[{"id":"1","name":"user-1"},{"id":"2","name":"user-2"}]`, wantStatus: 200},
		{desc: "empty", give: `{}`, wantBody: `[]`, wantStatus: 200},
		{desc: "failed", give: `{"count":2,"failCode":14}`, wantBody: `{"error":"grpctest: the stream failed as asked","code":"UNAVAILABLE"}`, wantStatus: 503},
		{desc: "too large", settings: grpcbridge.EndpointSettings{MaxBufferedBytes: 100}, give: `{"count":10}`,
			wantBody: `{"error":"grpcbridge: the streamed answer exceeds 100 bytes","code":"RESOURCE_EXHAUSTED"}`, wantStatus: 429},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := f.endpoint(t, "Watch", tt.settings)
			w, err := invoke(t, e, &grpcbridge.Request{Body: []byte(tt.give)})
			if err != nil {
				t.Fatal(err)
			}
			if w.Status != tt.wantStatus || !jsonEqual(t, w.Body, tt.wantBody) {
				t.Errorf("status %d body %s, want %d %s", w.Status, w.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
