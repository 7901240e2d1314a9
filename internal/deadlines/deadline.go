// Package deadlines decides when a connection's deadline must be armed
// again. Arming one costs a runtime timer update, and a connection that
// serves request after request asks for a deadline a little later than
// the last each time: keeping the one armed, when it is close enough
// below, spares the update. As nginx keeps a timer that would move by
// less than its lazy delay, a deadline kept this way may fire a little
// early, never late.
package deadlines

import "time"

// Slack is the share of the time left to a wanted deadline by which an
// armed one may be earlier and still be kept: 1/64, under 0.5 s of a
// 30 s timeout.
const Slack = 64

// Rearm reports whether a connection whose armed deadline is cur (zero:
// none) needs want armed instead, at time now. It does unless cur is set,
// not after want, and earlier than want by at most 1/Slack of the time
// from now to want: a deadline already past is always replaced, and a
// zero want (no deadline) always clears a set one.
func Rearm(cur, want, now time.Time) bool {
	if cur.IsZero() || want.IsZero() || cur.After(want) {
		return true
	}
	return want.Sub(cur) > want.Sub(now)/Slack
}
