package gateway

import (
	"io"
	"reflect"
	"sync"
	"time"

	"github.com/fastgate/gateway/config"
)

// observers keeps the access log and tracer of each configuration while
// requests may still use them: a reload that changes access_log or
// tracing builds a new observer for the new snapshot, and the old one is
// closed (flushing its lines and spans) once the requests that started on
// it are done. Not on the request path: requests find their observer on
// their snapshot.
type observers struct {
	// out, when not nil, replaces the access log's configured output
	// (Options.AccessLogOutput).
	out io.Writer

	mu   sync.Mutex
	live map[*observer]bool
	// dropped is what the closed observers' access logs dropped, so that
	// gateway_access_log_dropped_total never goes down.
	dropped uint64
}

// build returns the observer of cfg: prev's own when cfg's access_log
// and tracing are those of prevCfg, else a new one.
func (os *observers) build(cfg, prevCfg *config.Config, prev *observer) (_ *observer, fresh bool, err error) {
	if prev != nil && reflect.DeepEqual(cfg.AccessLog, prevCfg.AccessLog) && reflect.DeepEqual(cfg.Tracing, prevCfg.Tracing) {
		return prev, false, nil
	}
	o, err := newObserver(cfg, os.out)
	if err != nil {
		return nil, false, err
	}
	os.mu.Lock()
	if os.live == nil {
		os.live = make(map[*observer]bool)
	}
	os.live[o] = true
	os.mu.Unlock()
	return o, true, nil
}

// retire closes o after drain, when no request can still log through it.
func (os *observers) retire(o *observer, drain time.Duration) {
	time.AfterFunc(drain, func() { os.close(o) })
}

// close closes o now, once.
func (os *observers) close(o *observer) {
	os.mu.Lock()
	live := os.live[o]
	delete(os.live, o)
	os.mu.Unlock()
	if !live {
		return
	}
	o.close()
	if o.log != nil {
		os.mu.Lock()
		os.dropped += o.log.Dropped()
		os.mu.Unlock()
	}
}

// closeAll closes every observer still open.
func (os *observers) closeAll() {
	os.mu.Lock()
	all := make([]*observer, 0, len(os.live))
	for o := range os.live {
		all = append(all, o)
	}
	os.mu.Unlock()
	for _, o := range all {
		os.close(o)
	}
}

// droppedLines is gateway_access_log_dropped_total: the lines every
// access log of the process dropped.
func (os *observers) droppedLines() uint64 {
	os.mu.Lock()
	defer os.mu.Unlock()
	n := os.dropped
	for o := range os.live {
		if o.log != nil {
			n += o.log.Dropped()
		}
	}
	return n
}
