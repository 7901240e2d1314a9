package gateway

import (
	"context"
	"testing"

	"github.com/coder/websocket"
)

// BenchmarkTunnelEcho64KiB: a 64 KiB binary message echoed by a
// WebSocket server, directly and through a gateway tunnel. The gateway's
// cost is the difference; the target is at least 0.8 of direct.
func BenchmarkTunnelEcho64KiB(b *testing.B) {
	up := startWSUpstream(b, echo)
	gw := startGateway(b, wsRoute1, up.url)
	msg := make([]byte, 64<<10)
	for _, bb := range []struct {
		name, url string
	}{
		{"direct", "ws" + up.url[len("http"):] + "/ws"},
		{"gateway", "ws://" + gw.addr + "/ws"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ctx := context.Background()
			c, _, err := websocket.Dial(ctx, bb.url, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 20)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
