package breaker

import (
	"sync"
	"testing"
	"time"
)

// The outcomes a test feeds a breaker.
const (
	connErr   = -1 // a connection error or a timeout
	noVerdict = 0  // the call reached no verdict
)

// call runs one call through b that reports give (a status, connErr or
// noVerdict) and returns whether b rejected it and whether it ran.
func call(b *Breaker, give int) (rejected, ran bool) {
	rejected = b.Do(func() (int, bool) {
		ran = true
		if give == connErr {
			return 0, true
		}
		return give, false
	})
	return rejected, ran
}

// mustNew is New for settings a test knows to be valid.
func mustNew(t *testing.T, name string, s Settings) *Breaker {
	t.Helper()
	b, err := New(name, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trip fails calls until b opens, at most 100 of them.
func trip(t *testing.T, b *Breaker) {
	t.Helper()
	for range 100 {
		if b.State() == Open {
			return
		}
		call(b, 500)
	}
	t.Fatalf("breaker %s still %s after 100 failures", b.Name(), b.State())
}

// waitState polls b until it is in want, for at most limit.
func waitState(t *testing.T, b *Breaker, want State, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for b.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("breaker %s is %s after %v, want %s", b.Name(), b.State(), limit, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// transition is one call of OnStateChange.
type transition struct {
	name     string
	from, to State
}

// recorder collects the calls of OnStateChange.
type recorder struct {
	mu   sync.Mutex
	seen []transition
}

func (r *recorder) record(name string, from, to State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, transition{name, from, to})
}

func (r *recorder) transitions() []transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transition(nil), r.seen...)
}
