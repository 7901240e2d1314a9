package gateway

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastgate/gateway/metrics"
)

// tunnel is one WebSocket connection through the gateway: the client's
// hijacked connection and a dedicated upstream connection, piped both
// ways by two goroutines, each the only writer of the connection it
// writes to. Timing (idle timeout, lifetime, a close the gateway asks
// for) works through the connections' deadlines, so that a tunnel needs
// no timer or goroutine of its own.
type tunnel struct {
	ws   *wsRoute
	reg  *tunnels
	addr string // the upstream target
	up   net.Conn
	// early holds what the upstream sent right behind its 101.
	early []byte
	// clientEarly holds what the client sent right behind its upgrade.
	clientEarly []byte
	// client is the client connection the tunnel reads (raw, once
	// fasthttp's buffer is emptied: run); raw is the connection itself.
	client, raw net.Conn
	wait        *time.Timer
	last        atomic.Int64 // Unix nanoseconds of the last byte written either way

	mu     sync.Mutex // guards the fields below, and deadlines being set
	state  tunnelState
	opened time.Time
	reason metrics.TunnelCloseReason
	ended  bool // reason is set
	// due is when the gateway closes the tunnel, with why and the close
	// frame it writes; zero: not asked.
	due      time.Time
	dueWhy   metrics.TunnelCloseReason
	dueFrame []byte
	// hardEnd is the latest the tunnel lasts once closing: a close the
	// gateway asked for, or one side having ended; zero until then.
	hardEnd time.Time
}

// verdict is what a pump does after a read deadline passed.
type verdict uint8

const (
	keepOn   verdict = iota // nothing is due: go on reading
	closeNow                // the gateway closes the tunnel now
	over                    // the tunnel outlived its hard end: cut it
)

// run starts piping the tunnel over the hijacked client connection c
// and returns: fasthttp keeps hijacked connections open
// (KeepHijackedConns), so its RequestCtx and read buffer are let go
// while the tunnel lives on two goroutines of its own, which close c
// when both directions are done.
func (t *tunnel) run(c net.Conn) {
	t.mu.Lock()
	if t.state != tunnelPending {
		t.mu.Unlock()
		_ = c.Close()
		return
	}
	t.state = tunnelRunning
	t.wait.Stop()
	t.client, t.raw = c, c
	if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
		t.raw = u.UnsafeConn()
		// From here the tunnel reads the connection itself.
		t.clientEarly = takeBuffered(c, t.raw)
		t.client = t.raw
	}
	now := time.Now()
	t.opened = now
	t.last.Store(now.UnixNano())
	dl := t.deadlineLocked()
	_ = t.up.SetReadDeadline(dl)
	_ = t.client.SetReadDeadline(dl)
	t.mu.Unlock()
	t.ws.m.Open.Inc()
	go t.pipe()
}

// maxEarly bounds what takeBuffered takes: fasthttp's read buffer holds
// at most server.max_header_bytes (64 KiB at most).
const maxEarly = 128 << 10

// takeBuffered returns what the client sent right behind its upgrade,
// which fasthttp has read into its buffer: it reads c, through that
// buffer, with the read deadline of the connection below (raw) passed,
// until only the connection is left to read.
func takeBuffered(c, raw net.Conn) []byte {
	_ = raw.SetReadDeadline(time.Unix(1, 0))
	var early []byte
	var b [512]byte
	for len(early) < maxEarly {
		n, err := c.Read(b[:])
		early = append(early, b[:n]...)
		if err != nil {
			break
		}
	}
	return early
}

// pipe runs the two pumps until both directions are done.
func (t *tunnel) pipe() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.toClient()
	}()
	t.toUpstream()
	<-done
	_ = t.up.Close()
	_ = t.raw.Close()
	t.mu.Lock()
	t.state = tunnelOver
	reason := t.reason
	t.mu.Unlock()
	t.ws.m.Open.Dec()
	t.ws.m.Closed(reason)
	t.finish()
}

// abandon gives up a tunnel whose client connection never came.
func (t *tunnel) abandon() {
	t.mu.Lock()
	pending := t.state == tunnelPending
	t.state = tunnelOver
	t.mu.Unlock()
	if pending {
		_ = t.up.Close()
		t.finish()
	}
}

func (t *tunnel) finish() {
	t.reg.remove(t)
	t.ws.open.Add(-1)
}

// closeAt asks the gateway to close the tunnel at time at, with close
// frame frame, for reason why; an earlier close asked for stands.
func (t *tunnel) closeAt(at time.Time, why metrics.TunnelCloseReason, frame []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == tunnelOver || (!t.due.IsZero() && !at.Before(t.due)) {
		return
	}
	t.dueLocked(at, why, frame)
	if t.state == tunnelRunning {
		dl := t.deadlineLocked()
		_ = t.up.SetReadDeadline(dl)
		_ = t.client.SetReadDeadline(dl)
		// A write blocked on a peer that does not read ends too.
		_ = t.up.SetWriteDeadline(t.hardEnd)
		_ = t.client.SetWriteDeadline(t.hardEnd)
	}
}

// cut closes both connections at once.
func (t *tunnel) cut() {
	t.mu.Lock()
	state := t.state
	t.mu.Unlock()
	switch state {
	case tunnelPending:
		t.abandon()
	case tunnelRunning:
		t.cutConns()
	}
}

func (t *tunnel) cutConns() {
	_ = t.up.Close()
	_ = t.raw.Close()
}

func (t *tunnel) dueLocked(at time.Time, why metrics.TunnelCloseReason, frame []byte) {
	t.due, t.dueWhy, t.dueFrame = at, why, frame
	if end := at.Add(closeGrace); t.hardEnd.IsZero() || end.Before(t.hardEnd) {
		t.hardEnd = end
	}
}

// deadlineLocked is the next time a pump must look at the tunnel: when
// it would be idle, reach its lifetime, be due to close or outlive its
// hard end, whichever comes first.
func (t *tunnel) deadlineLocked() time.Time {
	dl := time.Unix(0, t.last.Load()).Add(t.ws.idle)
	if t.ws.lifetime > 0 {
		dl = earliest(dl, t.opened.Add(t.ws.lifetime))
	}
	if !t.due.IsZero() {
		dl = earliest(dl, t.due)
	}
	if !t.hardEnd.IsZero() {
		dl = earliest(dl, t.hardEnd)
	}
	return dl
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// onTimeout decides what the pump reading c does after its read
// deadline passed at now; with keepOn, c has its next deadline.
func (t *tunnel) onTimeout(now time.Time, c net.Conn) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hardEnd.IsZero() && !now.Before(t.hardEnd) {
		return over
	}
	if t.due.IsZero() {
		switch {
		case t.ws.lifetime > 0 && !now.Before(t.opened.Add(t.ws.lifetime)):
			t.dueLocked(now, metrics.CloseLifetime, frameLifetime)
		case !now.Before(time.Unix(0, t.last.Load()).Add(t.ws.idle)):
			t.dueLocked(now, metrics.CloseIdle, frameIdle)
		}
	}
	if !t.due.IsZero() && !now.Before(t.due) {
		t.endLocked(t.dueWhy)
		if c != t.up {
			// The pump reading the upstream writes the close frame.
			_ = t.up.SetReadDeadline(now)
		}
		return closeNow
	}
	_ = c.SetReadDeadline(t.deadlineLocked())
	return keepOn
}

// endLocked records why the tunnel ends; the first reason stands.
func (t *tunnel) endLocked(r metrics.TunnelCloseReason) {
	if !t.ended {
		t.reason, t.ended = r, true
	}
}

func (t *tunnel) end(r metrics.TunnelCloseReason) {
	t.mu.Lock()
	t.endLocked(r)
	t.mu.Unlock()
}

// readUntil sets c's read deadline to the hard end.
func (t *tunnel) readUntilEnd(c net.Conn) {
	t.mu.Lock()
	_ = c.SetReadDeadline(t.hardEnd)
	t.mu.Unlock()
}

// peerEnded: one side closed its connection (reason r). Its end is passed
// on as a half close to the other, which gets closeGrace to finish.
func (t *tunnel) peerEnded(r metrics.TunnelCloseReason, other net.Conn) {
	halfClose(other)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endLocked(r)
	if end := time.Now().Add(closeGrace); t.hardEnd.IsZero() || end.Before(t.hardEnd) {
		t.hardEnd = end
	}
	_ = t.up.SetReadDeadline(t.hardEnd)
	_ = t.client.SetReadDeadline(t.hardEnd)
}

// failed: writing to a peer failed (r: whose side), or timed out, which
// means nothing moved for the idle timeout. Both connections are cut.
func (t *tunnel) failed(r metrics.TunnelCloseReason, err error) {
	if isTimeoutErr(err) {
		r = metrics.CloseIdle
	}
	t.end(r)
	t.cutConns()
}

// write writes p to c within the idle timeout (and the hard end).
func (t *tunnel) write(c net.Conn, p []byte) error {
	now := time.Now()
	t.mu.Lock()
	dl := now.Add(t.ws.idle)
	if !t.hardEnd.IsZero() {
		dl = earliest(dl, t.hardEnd)
	}
	_ = c.SetWriteDeadline(dl)
	t.mu.Unlock()
	_, err := c.Write(p)
	t.last.Store(time.Now().UnixNano())
	return err
}

// toUpstream pipes what the client sends to the upstream, unparsed.
func (t *tunnel) toUpstream() {
	r := newPumpReader(t.client, &t.ws.bufs, t.clientEarly)
	t.clientEarly = nil
	var sc frameScanner
	for {
		bp, n, err := r.read()
		if n > 0 {
			buf := *bp
			if !sc.closed {
				if sc.scan(buf[:n], false); sc.closed {
					t.end(metrics.CloseClient)
				}
			}
			werr := t.write(t.up, buf[:n])
			r.done(bp)
			if werr != nil {
				t.failed(metrics.CloseUpstream, werr)
				return
			}
			t.ws.m.ToUpstream.Add(float64(n))
		} else {
			r.done(bp)
		}
		if err == nil {
			continue
		}
		if isTimeoutErr(err) {
			switch t.onTimeout(time.Now(), t.client) {
			case keepOn:
				continue
			case closeNow:
				// Pass on the client's answering close frame until the
				// client closes or the hard end.
				t.readUntilEnd(t.client)
				continue
			}
			t.cutConns()
			return
		}
		t.peerEnded(metrics.CloseClient, t.up)
		return
	}
}

// toClient pipes what the upstream sends to the client, following its
// frames, and writes the gateway's close frame at a frame boundary.
func (t *tunnel) toClient() {
	r := newPumpReader(t.up, &t.ws.bufs, t.early)
	t.early = nil
	var sc frameScanner
	closing := false
	for {
		bp, n, err := r.read()
		if n > 0 {
			p := (*bp)[:n]
			if closing {
				p = p[:sc.scan(p, true)]
			} else if sc.scan(p, false); sc.closed {
				t.end(metrics.CloseUpstream)
			}
			if len(p) > 0 {
				werr := t.write(t.client, p)
				if werr != nil {
					r.done(bp)
					t.failed(metrics.CloseClient, werr)
					return
				}
				t.ws.m.ToClient.Add(float64(len(p)))
			}
			r.done(bp)
			if closing && sc.atBoundary() {
				t.sendClose()
				return
			}
		} else {
			r.done(bp)
		}
		if err == nil {
			continue
		}
		if isTimeoutErr(err) {
			switch t.onTimeout(time.Now(), t.up) {
			case keepOn:
				continue
			case closeNow:
				closing = true
				if sc.atBoundary() {
					t.sendClose()
					return
				}
				// Finish the frame under way first.
				t.readUntilEnd(t.up)
				continue
			}
			t.cutConns()
			return
		}
		t.peerEnded(metrics.CloseUpstream, t.raw)
		return
	}
}

// sendClose writes the gateway's close frame to the client and half
// closes the client connection behind it. The other pump passes on the
// client's answer until the client closes, or the hard end.
func (t *tunnel) sendClose() {
	t.mu.Lock()
	frame := t.dueFrame
	t.mu.Unlock()
	if err := t.write(t.client, frame); err != nil {
		t.cutConns()
		return
	}
	halfClose(t.raw)
}

// halfClose sends the peer of c a FIN: no more bytes come, while c can
// still read. A connection that cannot is left as it is.
func halfClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
