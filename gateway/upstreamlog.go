package gateway

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fastgate/gateway/upstream"
)

// errorLogEvery is how often at most one line is logged per route,
// target and kind of upstream failure; the lines left out in between are
// counted in the next one.
const errorLogEvery = 10 * time.Second

// kindNoInstance is the errorLog slot of "no instance to pick", a
// failure of the route's whole pool rather than of one target.
const kindNoInstance = upstream.Request + 1

// errorLog rate-limits the log lines about the failures of one upstream
// target (or, for no_instance, of one pool). Safe for concurrent use;
// reporting a failure that is not logged costs two atomic operations.
type errorLog struct {
	kinds [kindNoInstance + 1]logWindow
}

// logWindow is the state of one kind of failure.
type logWindow struct {
	next       atomic.Int64 // UnixNano before which lines are left out
	suppressed atomic.Int64 // lines left out since the last one
}

// report logs that route's request to target failed with kind, unless a
// line about the same failure was logged within errorLogEvery. status is
// what the client got (0: not decided yet, e.g. a failure mid-body).
func (l *errorLog) report(log *slog.Logger, route, target string, kind upstream.Kind, status int, now time.Time) {
	if l == nil || log == nil || int(kind) >= len(l.kinds) {
		return
	}
	w := &l.kinds[kind]
	n := now.UnixNano()
	next := w.next.Load()
	if n < next || !w.next.CompareAndSwap(next, n+int64(errorLogEvery)) {
		w.suppressed.Add(1)
		return
	}
	reason := kind.String()
	if kind == kindNoInstance {
		reason = "no_instance"
	}
	log.Warn("gateway: upstream request failed",
		"route", route, "target", target, "reason", reason, "status", status,
		"suppressed", w.suppressed.Swap(0))
}
