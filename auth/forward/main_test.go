package forward

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind.
// fasthttp's HostClient keeps a connection cleaner that sleeps for
// seconds after Close (it exits on its own once the pool is empty), its
// dialer a process-wide address cleaner, and its server a process-wide
// Date updater: those are fasthttp's, not ours. Test servers set
// MaxIdleWorkerDuration low so that the worker cleaner stops at Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}
