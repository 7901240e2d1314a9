package gateway

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// pool, janitor and server a gateway starts must stop with it. The tests'
// own fasthttp clients keep cleaner goroutines that sleep for seconds
// after their last use; the gateway itself never uses fasthttp's client.
// Servers in tests set MaxIdleWorkerDuration low so that fasthttp's worker
// cleaner notices Shutdown at once.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		// fasthttp refreshes its Date header in a process-wide goroutine.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}
