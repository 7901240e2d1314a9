package grpcbridge_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fastgate/gateway/bridge/grpcbridge"
	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
)

// waitFor calls e until ok holds for what the call returned, at most 200
// calls and 10 seconds.
func waitFor(t *testing.T, e *grpcbridge.Endpoint, what string, ok func(*grpcbridge.Response) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		w, err := invoke(t, e, &grpcbridge.Request{})
		if err != nil {
			t.Fatal(err)
		}
		if ok(w) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never %s", what)
}

func TestConnRoundRobinAndUpdate(t *testing.T) {
	a := grpctest.Start(t, grpctest.Options{Name: "a"})
	b := grpctest.Start(t, grpctest.Options{Name: "b"})
	f := &fixture{srv: a, conn: dial(t, a.Addr, b.Addr), schema: loadSchema(t)}
	e := f.endpoint(t, "GetUser", grpcbridge.EndpointSettings{ResponseMetadata: []string{"x-served-by"}})
	servedBy := func(w *grpcbridge.Response) string {
		if len(w.Header) == 0 {
			return ""
		}
		return string(w.Header[0].Value)
	}

	// Both get calls: round robin once both are connected.
	seen := map[string]bool{}
	waitFor(t, e, "served by both", func(w *grpcbridge.Response) bool {
		seen[servedBy(w)] = true
		return seen["a"] && seen["b"]
	})

	// Only b after the update.
	if err := f.conn.Update([]string{b.Addr}); err != nil {
		t.Fatal(err)
	}
	run := 0
	waitFor(t, e, "served by b only", func(w *grpcbridge.Response) bool {
		if servedBy(w) == "b" {
			run++
		} else {
			run = 0
		}
		return run == 10
	})
	before := a.Calls()
	for i := 0; i < 10; i++ {
		if w, _ := invoke(t, e, &grpcbridge.Request{}); servedBy(w) != "b" {
			t.Fatalf("call %d served by %q", i, servedBy(w))
		}
	}
	if a.Calls() != before {
		t.Errorf("a got calls after it left the list")
	}

	// No address: UNAVAILABLE, and back.
	if err := f.conn.Update(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, "UNAVAILABLE without addresses", func(w *grpcbridge.Response) bool { return w.Code == codes.Unavailable })
	if err := f.conn.Update([]string{a.Addr}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, "served by a again", func(w *grpcbridge.Response) bool { return servedBy(w) == "a" })
}

func TestConnUpdateErrors(t *testing.T) {
	c := dial(t, "127.0.0.1:1")
	tests := []struct {
		desc string
		give []string
	}{
		{desc: "no port", give: []string{"127.0.0.1"}},
		{desc: "port out of range", give: []string{"127.0.0.1:70000"}},
		{desc: "empty host", give: []string{":80"}},
		{desc: "one bad among good", give: []string{"127.0.0.1:80", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if err := c.Update(tt.give); err == nil {
				t.Error("no error")
			}
			if _, err := grpcbridge.Dial(grpcbridge.ConnSettings{Addrs: tt.give}); err == nil {
				t.Error("Dial: no error")
			}
		})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Update([]string{"127.0.0.1:80"}); !errors.Is(err, grpcbridge.ErrConnClosed) {
		t.Errorf("Update after Close: %v", err)
	}
}

func TestConnUpdateWhileCalling(t *testing.T) {
	a := grpctest.Start(t, grpctest.Options{Name: "a"})
	b := grpctest.Start(t, grpctest.Options{Name: "b"})
	f := &fixture{srv: a, conn: dial(t, a.Addr), schema: loadSchema(t)}
	e := f.endpoint(t, "GetUser", grpcbridge.EndpointSettings{})
	lists := [][]string{{a.Addr, b.Addr}, {b.Addr}, {a.Addr}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 60; i++ {
			if err := f.conn.Update(lists[i%len(lists)]); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				w, err := invoke(t, e, &grpcbridge.Request{})
				if err != nil {
					t.Error(err)
					return
				}
				// A call may meet a connection being closed by the
				// update; it never hangs or fails otherwise.
				if w.Code != codes.OK && w.Code != codes.Unavailable {
					t.Errorf("code %v: %s", w.Code, w.Body)
				}
			}
		}()
	}
	wg.Wait()
	<-done
	if a.Calls()+b.Calls() != 120 {
		t.Logf("calls a %d b %d (some met a closing connection)", a.Calls(), b.Calls())
	}
}
