package gateway

import (
	"time"

	"github.com/fastgate/gateway/internal/deadlines"
)

// fasthttp sets three deadlines on a client connection for each request:
// the wait for the next request, ReadTimeout once its first byte came,
// and WriteTimeout before the answer. Each is a runtime timer update. The
// idle connection arms only what a read or write can meet:
//
//   - The read deadline set while a request is served waits for the next
//     read of the socket. A request read whole with its first bytes, the
//     common case, never reads again before the wait for the next request
//     sets its own.
//   - The wait for the next request, shortened to restAfter, keeps an
//     armed wait that leaves at least half of restAfter: the connection
//     then parks a little sooner, which the client does not see.
//   - Any other deadline keeps an armed one earlier by at most the slack
//     of deadlines.Rearm: a timeout fires up to 1/64 early, never late.

// SetReadDeadline sets the read deadline. fasthttp's deadline for an
// idle connection's next request is kept for the parked connection, and
// the connection waits in fasthttp only restAfter of it. A deadline set
// while a request is served is armed before the next read.
func (c *idleConn) SetReadDeadline(t time.Time) error {
	if c.direct {
		return c.Conn.SetReadDeadline(t)
	}
	c.rest = false
	switch c.state.Load() {
	case connServing:
		c.rdWant, c.rdDeferred = t, true
		return nil
	case connIdle:
		if !t.IsZero() && c.ln.rest > 0 && c.ln.idle > c.ln.rest {
			c.rdl, c.rest, c.rdDeferred = t, true, false
			return c.armRest(t.Add(c.ln.rest - c.ln.idle))
		}
	}
	c.rdDeferred = false
	return c.armRead(t, time.Now())
}

// armDeferred arms the read deadline set while serving, before a read.
func (c *idleConn) armDeferred() error {
	if !c.rdDeferred {
		return nil
	}
	c.rdDeferred = false
	return c.armRead(c.rdWant, time.Now())
}

func (c *idleConn) armRead(t, now time.Time) error {
	if !deadlines.Rearm(c.rdArmed, t, now) {
		return nil
	}
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	c.rdArmed = t
	return nil
}

// armRest arms the wait in fasthttp for the next request, t being
// restAfter from now, unless the wait armed ends between half of
// restAfter from now and t.
func (c *idleConn) armRest(t time.Time) error {
	if cur := c.rdArmed; !cur.IsZero() && !cur.After(t) && t.Sub(cur) <= c.ln.rest/2 {
		return nil
	}
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	c.rdArmed = t
	return nil
}

// SetWriteDeadline sets the write deadline, keeping an armed one that is
// earlier by at most deadlines.Rearm's slack.
func (c *idleConn) SetWriteDeadline(t time.Time) error {
	if c.direct {
		return c.Conn.SetWriteDeadline(t)
	}
	if !deadlines.Rearm(c.wdArmed, t, time.Now()) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.wdArmed = t
	return nil
}

// SetDeadline sets both deadlines, and hands deadlines over to whoever
// has the connection now: fasthttp calls it only when it lets another
// handler (a hijack, another protocol) take the connection, which may
// set deadlines from several goroutines.
func (c *idleConn) SetDeadline(t time.Time) error {
	c.direct, c.rdDeferred = true, false
	return c.Conn.SetDeadline(t)
}
