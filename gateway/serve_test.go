package gateway

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
)

// TestServeAfterShutdown: a Serve that comes after Shutdown has begun, or
// races with it, returns instead of accepting connections forever.
func TestServeAfterShutdown(t *testing.T) {
	cfg, err := config.Parse([]byte(`
routes:
  - { name: hello, match: { path_prefix: / }, respond: { body: "hi" } }
`), "serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"shutdown first", "racing"} {
		t.Run(order, func(t *testing.T) {
			gw, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			gw.server.MaxIdleWorkerDuration = 20 * time.Millisecond // its cleaner goroutine ends soon
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			if order == "shutdown first" {
				if err := gw.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				served <- gw.Serve(ln)
			} else {
				go func() { served <- gw.Serve(ln) }()
				if err := gw.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-served:
				if order == "shutdown first" && !errors.Is(err, ErrShutdown) {
					t.Errorf("Serve after Shutdown returned %v, want ErrShutdown", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve still accepting 5s after Shutdown")
			}
			if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				c.Close()
				t.Error("the listener still accepts connections after Shutdown")
			}
		})
	}
}
