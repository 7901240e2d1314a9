package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/fastgate/gateway/metrics"
)

// tunnels is the registry of a gateway's WebSocket tunnels, kept outside
// the request path: fasthttp forgets a connection once it is hijacked, so
// this is what reloads and Shutdown reach tunnels through. A tunnel is in
// it from its upstream's 101 until both of its connections are closed.
// Safe for concurrent use.
type tunnels struct {
	mu   sync.Mutex
	open map[*tunnel]struct{}
	// closed: Shutdown began; no tunnel is added any more, and empty is
	// closed (emptied) once none is left.
	closed  bool
	empty   chan struct{}
	emptied bool
}

func newTunnels() *tunnels {
	return &tunnels{open: make(map[*tunnel]struct{}), empty: make(chan struct{})}
}

// hijackWait bounds the time from a tunnel's 101 to fasthttp handing over
// the client connection. fasthttp skips the hijack when it could not
// write the 101 (the client left) or when it closes the connection after
// the answer (shutdown began): the upstream connection is closed then.
const hijackWait = 10 * time.Second

// add registers t, which waits for its client connection; false when
// the gateway shuts down.
func (r *tunnels) add(t *tunnel) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	t.reg = r
	t.wait = time.AfterFunc(hijackWait, t.abandon)
	r.open[t] = struct{}{}
	if t.ws.retired {
		// Its route left service while the upgrade was on its way.
		t.closeAt(time.Now().Add(t.ws.drain), metrics.CloseReload, frameReload)
	}
	return true
}

// remove forgets t, which is over.
func (r *tunnels) remove(t *tunnel) {
	r.mu.Lock()
	delete(r.open, t)
	r.checkEmptyLocked()
	r.mu.Unlock()
}

func (r *tunnels) checkEmptyLocked() {
	if r.closed && len(r.open) == 0 && !r.emptied {
		close(r.empty)
		r.emptied = true
	}
}

// count returns the number of tunnels registered.
func (r *tunnels) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open)
}

// matching returns the registered tunnels for which keep is true.
func (r *tunnels) matching(keep func(*tunnel) bool) []*tunnel {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tunnel
	for t := range r.open {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// retire closes the tunnels of route rt, which left service, spread over
// its drain delay.
func (r *tunnels) retire(rt *route) {
	if r == nil {
		return
	}
	p, ok := rt.backend.(*proxyStep)
	if !ok || p.ws == nil {
		return
	}
	w := p.ws
	r.mu.Lock()
	w.retired = true
	var list []*tunnel
	for t := range r.open {
		if t.ws == w {
			list = append(list, t)
		}
	}
	r.mu.Unlock()
	spread(list, w.drain, time.Now())
}

// targetLeft closes the tunnels of w to target addr, which left the
// route's instances, spread over the route's drain delay.
func (r *tunnels) targetLeft(w *wsRoute, addr string) {
	list := r.matching(func(t *tunnel) bool { return t.ws == w && t.addr == addr })
	spread(list, w.drain, time.Now())
}

// spread closes the tunnels of list evenly over delay from now, the first
// at once, so that their clients do not all reconnect in one moment.
func spread(list []*tunnel, delay time.Duration, now time.Time) {
	for i, t := range list {
		at := now.Add(delay * time.Duration(i) / time.Duration(len(list)))
		t.closeAt(at, metrics.CloseReload, frameReload)
	}
}

// shutdown closes every tunnel with 1001 and waits until they are over
// or ctx ends; then it cuts those left. No tunnel is added afterwards.
func (r *tunnels) shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.checkEmptyLocked()
	empty := r.empty
	r.mu.Unlock()
	now := time.Now()
	for _, t := range r.matching(func(*tunnel) bool { return true }) {
		t.closeAt(now, metrics.CloseShutdown, frameShutdown)
	}
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
	}
	left := r.matching(func(*tunnel) bool { return true })
	for _, t := range left {
		t.cut()
	}
	// Cut connections end their pumps at once.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-empty:
	case <-t.C:
	}
	return ctx.Err()
}

// tunnelState is where a tunnel is in its life.
type tunnelState uint8

const (
	tunnelPending tunnelState = iota // 101 answered, waiting for the hijack
	tunnelRunning
	tunnelOver
)

// closeGrace is how long a tunnel the gateway closes may take to finish
// the frame it is writing to the client and to pass on the client's
// answering close frame, after its close time.
const closeGrace = 2 * time.Second
