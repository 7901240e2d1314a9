package deadlines

import (
	"testing"
	"time"
)

func TestRearm(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	want := now.Add(64 * time.Second) // slack: 1 s
	for _, tc := range []struct {
		name      string
		cur, want time.Time
		rearm     bool
	}{
		{"none armed", time.Time{}, want, true},
		{"no deadline wanted clears one", want, time.Time{}, true},
		{"none armed, none wanted", time.Time{}, time.Time{}, true},
		{"the same", want, want, false},
		{"earlier within the slack", want.Add(-time.Second), want, false},
		{"earlier beyond the slack", want.Add(-time.Second - 1), want, true},
		{"later: would fire late", want.Add(1), want, true},
		{"already past", now.Add(-time.Millisecond), now.Add(time.Millisecond), true},
		{"past by less than the slack of a long timeout", now.Add(-time.Millisecond), want, true},
	} {
		if got := Rearm(tc.cur, tc.want, now); got != tc.rearm {
			t.Errorf("%s: Rearm = %v, want %v", tc.name, got, tc.rearm)
		}
	}
}
