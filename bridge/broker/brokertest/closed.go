package brokertest

import (
	"context"
	"errors"
	"testing"

	"github.com/fastgate/gateway/bridge/broker"
)

// CheckClose closes p twice, which must both succeed, and checks that p
// is then down and refuses a publish to destination with
// broker.ErrUnavailable, as every Publisher must.
func CheckClose(t testing.TB, p broker.Publisher, destination string) {
	t.Helper()
	for range 2 {
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if p.Up() {
		t.Fatal("up after Close")
	}
	_, err := p.Publish(context.Background(), &broker.Message{Destination: destination, Payload: []byte("x")})
	if !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("publish after Close: %v, want ErrUnavailable", err)
	}
}
